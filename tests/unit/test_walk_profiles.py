"""The tick-aware walk: narrow spreads, kept orders, repricing, the marketable limit and
mark-outs, each with the walk's guarantees (journal before the POST, cancel-confirm-new,
fills during a cancel counted, rejections and unusable quotes stop it, Ctrl-C cancels).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from decimal import Decimal
from typing import Any

from alchemiser_cli.brokers.sim.state import demo_state
from alchemiser_cli.domain.events import (
    Event,
    MarkOut,
    Notice,
    OrderAccepted,
    OrderDone,
    OrderSubmitting,
    QuoteTaken,
    StepFinished,
)
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.orders import OrderStatus, OrderType
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.settings import Settings, load_settings
from tests.conftest import Harness, run_sim

MID = OrderIntent("MIDA", Side.BUY, quantity=Decimal(10))


def profile(name: str, **overrides: Any) -> Settings:
    return load_settings(profiles={"medium": {"profile": name, **overrides}})


def place(intent: OrderIntent, settings: Settings, *, seed: int = 7, limit_fills: bool = False,
          id_base: str = "x", **faults: Any) -> tuple[ExecutionResult, Harness]:
    async def body(h: Harness) -> tuple[ExecutionResult, Harness]:
        h.sim.state.faults.limit_fills = limit_fills
        for name, value in faults.items():
            setattr(h.sim.state.faults, name, value)
        submit = h.broker.submit_order

        async def journaled_first(request):  # the POST only after its OrderSubmitting event
            last = [e for e in h.events if isinstance(e, OrderSubmitting)][-1]
            assert last.client_order_id == request.client_order_id
            return await submit(request)

        h.broker.submit_order = journaled_first  # type: ignore[method-assign]
        result = await h.placement.place(intent, id_base=id_base)
        await h.placement.settle()  # the mark-outs, measured after the order (as a run does)
        return result, h

    return run_sim(body, settings=settings, state=demo_state(seed))


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_on_a_one_tick_spread_the_default_walk_sends_the_market_order_at_once():
    result, h = place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(10)), load_settings())
    quote = of(h.events, QuoteTaken)[0]
    assert quote.ask - quote.bid == Decimal("0.01")
    assert [(s.client_order_id, s.step, s.order_type) for s in result.steps] == [
        ("x-m", 1, OrderType.MARKET)]
    assert result.status is ExecutionStatus.FILLED and result.fill_step == "market"
    assert len(of(h.events, QuoteTaken)) == 1  # the arrival quote priced it; no second look


def test_the_ticks_ladder_never_resends_the_same_price():
    kept = 0
    for seed in range(1, 9):
        result, h = place(MID, profile("ticks", step_wait_seconds=5), seed=seed)
        limits = [s for s in result.steps if s.order_type is OrderType.LIMIT]
        for a, b in itertools.pairwise(limits):
            assert a.limit_price != b.limit_price  # a same-price step keeps the order instead
            assert a.status is OrderStatus.CANCELED
        assert h.broker.requests["cancel"] == len(limits)
        assert result.status is ExecutionStatus.FILLED
        kept += len(limits) < 3  # some order stayed in place across a step
    assert kept >= 1


def test_repricing_is_cancel_confirm_new_with_fresh_ids_after_a_dwell():
    repriced = 0
    for seed in range(1, 7):
        settings = profile("pegged", min_dwell_seconds=4, max_reprices=5)
        result, h = place(MID, settings, seed=seed)
        cids = [e.client_order_id for e in of(h.events, OrderSubmitting)]
        assert len(cids) == len(set(cids)) == len(h.sim.state.orders)
        assert all(re.fullmatch(r"x-(\d(r\d+)?|m)", c) for c in cids), cids
        reprices = [c for c in cids if "r" in c]
        assert len(reprices) <= 5
        repriced += len(reprices)
        # each new order only after the previous one is confirmed terminal (its StepFinished)
        order = [(e.client_order_id, "submit") if isinstance(e, OrderSubmitting) else
                 (e.client_order_id, e.status) for e in h.events
                 if isinstance(e, OrderSubmitting | StepFinished)]
        for (_, what), (_, nxt) in itertools.pairwise(order):
            assert (what == "submit") != (nxt == "submit")
        assert all(OrderStatus(status).terminal for _, status in order if status != "submit")
        # the dwell: a repriced order rested at least 4 s
        times = [e.at for e in of(h.events, OrderSubmitting)]
        for cid, (a, b) in zip(cids[1:], itertools.pairwise(times), strict=True):
            if "r" in cid:
                assert (b - a).total_seconds() >= 4
        assert "replace" not in h.broker.requests  # never a PATCH
        assert result.status is ExecutionStatus.FILLED
        assert h.sim.state.position_qty("MIDA") == Decimal(10)
    assert repriced >= 3


def test_repricing_stops_before_an_id_would_pass_48_characters():
    base = "alch-261124150000abc001-" + "X" * 21  # 45 characters: "-1r1" would make 49
    settings = profile("pegged", min_dwell_seconds=1)
    for seed in range(1, 6):
        _result, h = place(MID, settings, seed=seed, id_base=base)
        assert all(len(e.client_order_id) <= 48 for e in of(h.events, OrderSubmitting))
        if any("48 characters" in e.message for e in of(h.events, Notice)):
            return
    raise AssertionError("no reprice was ever attempted")


def test_a_fill_during_a_reprice_cancel_is_counted_and_nothing_more_is_sent():
    result, h = place(MID, profile("pegged", min_dwell_seconds=1), fill_on_cancel=1)
    assert result.status is ExecutionStatus.FILLED
    assert len(of(h.events, OrderSubmitting)) == 1
    assert h.sim.state.position_qty("MIDA") == Decimal(10)


def test_an_unusable_quote_cancels_the_resting_order_and_stops_the_walk():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False

        def emit(event: Event) -> None:
            h.events.append(event)
            if isinstance(event, OrderAccepted):  # while the step-1 order rests
                h.sim.state.faults.quote_mode["*"] = "crossed"

        from alchemiser_cli.core.placement import PlacementConfig, PlacementService
        svc = PlacementService(h.broker, h.clock, emit,
                               PlacementConfig.from_settings(profile("ticks")))
        result = await svc.place(MID, id_base="x")
        return result, h, await h.broker.list_open_orders()

    result, h, open_orders = run_sim(body)
    assert "no usable quote before step 2 (crossed)" in (result.error or "")
    assert [s.status for s in result.steps] == [OrderStatus.CANCELED]
    assert open_orders == []
    assert not any(e.order_type == "market" for e in of(h.events, OrderSubmitting))


def test_a_rejected_reprice_ends_the_walk_without_escalation():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False

        def emit(event: Event) -> None:
            h.events.append(event)
            if isinstance(event, OrderAccepted) and event.client_order_id == "x-1":
                h.sim.state.faults.reject_next = 1  # the next order (a reprice or step 2)

        from alchemiser_cli.core.placement import PlacementConfig, PlacementService
        svc = PlacementService(h.broker, h.clock, emit, PlacementConfig.from_settings(
            profile("pegged", min_dwell_seconds=1)))
        return await svc.place(MID, id_base="x"), h

    result, h = run_sim(body)
    assert result.status is ExecutionStatus.FAILED
    assert result.steps[-1].status is OrderStatus.REJECTED
    assert not any(e.order_type == "market" for e in of(h.events, OrderSubmitting))


def test_cancelling_a_pegged_walk_cancels_the_live_order():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        task = asyncio.create_task(h.placement.place(MID, id_base="x"))
        await h.clock.sleep(33)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return await h.broker.list_open_orders(), h.sim.state.orders

    open_orders, orders = run_sim(body, settings=profile("pegged", min_dwell_seconds=2))
    assert open_orders == []
    assert len(orders) >= 2 and all(o.status == "canceled" for o in orders.values())


def test_the_marketable_limit_trades_at_once_within_its_collar():
    result, h = place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(10)),
                      profile("marketable", collar_bps=20), limit_fills=True)
    (step,) = result.steps
    quote = of(h.events, QuoteTaken)[0]
    assert step.client_order_id == "x-c" and step.order_type is OrderType.LIMIT
    assert step.limit_price == (quote.ask * Decimal("1.002")).quantize(Decimal("0.01"),
                                                                       rounding="ROUND_FLOOR")
    assert step.status is OrderStatus.FILLED and step.avg_price is not None
    assert step.avg_price <= step.limit_price


def test_an_unfilled_marketable_limit_is_cancelled_and_fails():
    result, _h = place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(10)),
                      profile("marketable"), halted=["AAPL"])
    assert result.status is ExecutionStatus.FAILED
    assert result.steps[-1].status is OrderStatus.CANCELED
    assert "marketable limit (collar 50 bps) left 10 unfilled" in (result.error or "")


def test_every_fill_gets_a_mark_out_from_the_stream_after_the_order_is_done():
    result, h = place(OrderIntent("AAPL", Side.SELL, quantity=Decimal(5)), load_settings())
    (mark,) = of(h.events, MarkOut)
    done = of(h.events, OrderDone)[0]
    assert h.events.index(done) < h.events.index(mark)  # measured after, not holding it up
    assert not h.placement._markouts  # the run waited for every one before it ended
    assert mark.client_order_id == "x-m" and mark.horizon_seconds == 5.0
    assert (mark.at - result.finished_at).total_seconds() >= 4.5
    assert mark.fill_price == result.steps[0].avg_price
    # a sell gains when the price falls afterwards: (fill - mid) / fill, in bps
    expected = ((mark.fill_price - mark.mid) / mark.fill_price * 10000).quantize(Decimal("0.01"))
    assert mark.markout_bps == expected


def test_no_mark_outs_when_switched_off_or_without_a_quote_stream():
    off = load_settings(execution={"markout_seconds": 0})
    _, h = place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(1)), off)
    assert not of(h.events, MarkOut)
    _, h = place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(1)), load_settings(),
                 stream_down=True)
    assert not of(h.events, MarkOut) and "quote" in h.broker.requests  # REST quotes only
