"""What the walk sends at each step: the price of a step while our own order rests in the
quote, the ids and number of repriced orders, and what each step's events say.

Pricing cases are on the ``ticks`` ladder at ratio 0.5 (the nearest tick to the middle
of the spread, ties to the passive side); walks run on the simulator in virtual time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from alchemiser_cli.brokers.port import BrokerError, OrderRejectedError
from alchemiser_cli.brokers.sim.state import demo_state
from alchemiser_cli.core.order_desk import WorkingOrder
from alchemiser_cli.core.walk import WalkConfig, Walker, _Walk
from alchemiser_cli.domain.events import (
    Event,
    MarkOut,
    Notice,
    OrderAccepted,
    OrderProgress,
    OrderSubmitting,
    QuoteTaken,
    StepFinished,
)
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.ladder import LadderKind, WalkProfile
from alchemiser_cli.domain.orders import Order, OrderStatus, OrderType
from alchemiser_cli.domain.quotes import AssessedQuote
from alchemiser_cli.domain.results import ExecutionResult
from alchemiser_cli.settings import load_settings
from tests.conftest import Harness, run_sim
from tests.unit.test_walk_profiles import MID, of, place, profile
from tests.unit.test_walk_submissions import place as place_scripted

D = Decimal
HALF = D("0.5")


class _Quote:
    def __init__(self, bid: str, ask: str) -> None:
        self.bid, self.ask = D(bid), D(ask)


def price(side: Side, quote: tuple[str, str], resting: tuple[str, str, str] | None) -> Decimal:
    """The step price for ``quote`` while our order rests at ``resting`` = (price, and the
    bid and ask it was priced from); None: no order rests."""
    walker = Walker(cast(Any, None), cast(Any, None), cast(Any, None), lambda e: None,
                    WalkConfig())
    w = _Walk("MIDA", side, D(10), WalkProfile(ladder=LadderKind.TICKS), "x", D(10))
    if resting is not None:
        at, bid, ask = (D(v) for v in resting)
        order = cast(Order, None)
        w.working = WorkingOrder(order, "x-1", 1, OrderType.LIMIT, HALF, at, D(10), D(bid),
                                 D(ask), D(0), 0.0)
    return walker._price(w, cast(AssessedQuote, _Quote(*quote)), HALF)


@pytest.mark.parametrize(("side", "quote", "resting", "expected"), [
    # nothing resting: the middle of the spread
    (Side.BUY, ("10.00", "10.04"), None, "10.02"),
    (Side.SELL, ("10.00", "10.04"), None, "10.02"),
    # our own order is the near touch: the step keeps its price instead of chasing itself
    (Side.BUY, ("10.02", "10.04"), ("10.02", "10.00", "10.04"), "10.02"),
    (Side.SELL, ("10.00", "10.02"), ("10.02", "10.00", "10.04"), "10.02"),
    # the far touch moved away: priced between our price and it
    (Side.BUY, ("10.02", "10.08"), ("10.02", "10.00", "10.04"), "10.05"),
    (Side.SELL, ("9.96", "10.02"), ("10.02", "10.00", "10.04"), "9.99"),
    # a public near touch behind our price: never moves back toward the passive side
    (Side.BUY, ("9.96", "10.04"), ("10.02", "10.00", "10.04"), "10.02"),
    (Side.SELL, ("10.00", "10.08"), ("10.02", "10.00", "10.04"), "10.02"),
    # the market moved through our price: priced from the fresh quote
    (Side.BUY, ("10.05", "10.09"), ("10.02", "10.00", "10.04"), "10.07"),
    (Side.SELL, ("9.95", "9.99"), ("10.02", "10.00", "10.04"), "9.97"),
])
def test_a_step_never_chases_its_own_resting_order(side: Side, quote: tuple[str, str],
                                                   resting: tuple[str, str, str] | None,
                                                   expected: str) -> None:
    assert price(side, quote, resting) == D(expected)


@pytest.mark.parametrize(("seed", "max_reprices", "cids"), [
    (3, 3, ["x-1", "x-1r1", "x-1r2", "x-2", "x-2r1", "x-m"]),  # numbered per step from r1
    (4, 2, ["x-1", "x-1r1", "x-1r2", "x-2", "x-3", "x-m"]),  # at most max_reprices in a walk
])
def test_repriced_orders_are_numbered_per_step_and_capped_per_walk(seed: int, max_reprices: int,
                                                                   cids: list[str]) -> None:
    settings = profile("pegged", min_dwell_seconds=4, max_reprices=max_reprices)
    _result, h = place(MID, settings, seed=seed)
    assert [e.client_order_id for e in of(h.events, OrderSubmitting)] == cids


def test_each_order_announces_how_long_it_will_rest():
    settings = profile("seed", step_wait_seconds=20, market_wait_seconds=45)
    _result, h = place(MID, settings)
    waits = {e.client_order_id: e.wait_seconds for e in of(h.events, OrderSubmitting)}
    assert waits == {"x-1": 20, "x-2": 20, "x-3": 20, "x-m": 45}


def test_each_step_reports_its_broker_order_and_what_is_left():
    quick = profile("seed", step_wait_seconds=3)
    run_ = place_scripted(settings=quick, limit_fills=True, partial_probability=1.0,
                          drop_event={"partial_fill": 1})
    finished = [e for e in run_.events if isinstance(e, StepFinished)]
    by_cid = {r.client_order_id: r.id for r in run_.state.orders.values()}
    assert [(e.client_order_id, e.order_id) for e in finished] == [
        (e.client_order_id, by_cid[e.client_order_id]) for e in finished]
    first = finished[0]
    assert first.status == OrderStatus.CANCELED.value and 0 < first.filled_qty < first.qty
    assert first.remaining == first.qty - first.filled_qty == finished[1].qty
    assert first.total_filled == first.filled_qty
    assert finished[-1].remaining == 0 and finished[-1].total_filled == 10


def test_a_kept_order_that_cannot_be_cancelled_for_a_new_price_stops_the_walk():
    # the ticks ladder keeps its order across steps; step 2's price differs, so the order is
    # cancelled first, and that cancel is refused: nothing more may be sent (x-1 may still
    # be working), and the run's sweep is left to deal with it
    def on_event(event: Any, broker: Any) -> None:
        if isinstance(event, OrderAccepted) and event.client_order_id == "x-1":
            broker.fail("cancel_order", BrokerError("HTTP 400: cannot cancel"), times=100)
    run_ = place_scripted(settings=profile("ticks"), intent=MID, on_event=on_event)
    assert run_.submitting() == ["x-1"]
    assert run_.result.error == "lost track of x-1: HTTP 400: cannot cancel"
    assert run_.open_orders() == ["x-1"]


def test_a_refused_reprice_ends_the_walk_with_nothing_more_sent():
    def on_event(event: Any, broker: Any) -> None:
        if isinstance(event, OrderSubmitting) and "r" in event.client_order_id:
            broker.fail("submit_order", OrderRejectedError("insufficient buying power", status=403))
    run_ = place_scripted(settings=profile("pegged", min_dwell_seconds=4), intent=MID,
                          on_event=on_event)
    assert run_.submitting() == ["x-1", "x-1r1"]  # no step 2, no market order
    assert [(s.client_order_id, s.status) for s in run_.result.steps] == [
        ("x-1", OrderStatus.CANCELED), ("x-1r1", OrderStatus.REJECTED)]
    assert run_.result.error == "rejected: insufficient buying power"
    assert run_.open_orders() == []


def test_a_repriced_order_is_priced_from_a_quote_on_record():
    _result, h = place(MID, profile("pegged", min_dwell_seconds=4), seed=3)
    quoted: tuple[Decimal, Decimal] | None = None
    repriced = 0
    for event in h.events:
        if isinstance(event, QuoteTaken):
            quoted = (event.bid, event.ask)
        elif isinstance(event, OrderSubmitting) and "r" in event.client_order_id:
            assert (event.bid, event.ask) == quoted  # the last quote journaled before it
            repriced += 1
    assert repriced == 4


def test_a_reprice_id_of_exactly_48_characters_is_used():
    base = "alch-261124150000abc001-" + "X" * 20  # 44 characters: "-1r1" makes 48
    _result, h = place(MID, profile("pegged", min_dwell_seconds=4), seed=3, id_base=base)
    cids = [e.client_order_id for e in of(h.events, OrderSubmitting)]
    assert f"{base}-1r1" in cids and max(len(c) for c in cids) == 48


def test_an_order_that_cannot_be_repriced_for_its_id_rests_its_whole_step():
    base = "alch-261124150000abc001-" + "X" * 21  # 45 characters: "-1r1" would make 49
    settings = profile("pegged", min_dwell_seconds=4)
    result, h = place(MID, settings, seed=3, id_base=base)
    notices = [e.message for e in of(h.events, Notice) if "48 characters" in e.message]
    assert notices == [f"{base}-1r1 would exceed 48 characters; the order is not repriced"]
    assert [s.client_order_id[len(base):] for s in result.steps] == ["-1", "-2", "-3", "-m"]
    wait = settings.profiles["medium"].step_wait_seconds
    assert wait is not None and all(s.seconds >= wait for s in result.steps[:3])


def test_a_pegged_step_whose_quote_stream_is_lost_rests_its_whole_step():
    # with no streamed quote to follow, the order is not repriced and rests until the step
    # ends; the next step's quote is then read over REST
    async def body(h: Harness) -> tuple[ExecutionResult, Harness]:
        h.sim.state.faults.limit_fills = False
        h.listeners.append(lambda e: setattr(h.sim.state.faults, "stream_down", True)
                           if isinstance(e, OrderAccepted) else None)
        return await h.placement.place(MID, id_base="x"), h

    settings = profile("pegged", min_dwell_seconds=4)
    result, h = run_sim(body, settings=settings, state=demo_state(3))
    wait = settings.profiles["medium"].step_wait_seconds
    assert wait is not None
    assert [s.client_order_id for s in result.steps][:1] == ["x-1"]
    assert result.steps[0].seconds >= wait
    submitted = [e.at for e in of(h.events, OrderSubmitting)]
    quotes = [e.at for e in of(h.events, QuoteTaken)]
    assert (quotes[1] - submitted[0]).total_seconds() >= wait


@pytest.mark.parametrize("horizon", [5.0, 0.5])
def test_each_mark_out_is_taken_its_horizon_after_the_steps_last_fill(horizon: float):
    # partial fills, then the step's cancel seconds later: the mid is measured `horizon`
    # after the fill itself (at the next streamed quote, every 0.5 s), not after the cancel
    settings = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 5}},
                             execution={"markout_seconds": horizon})
    _result, h = place(OrderIntent("AAPL", Side.BUY, quantity=D(10)), settings,
                       limit_fills=True, partial_probability=1.0)
    last_fill: dict[str, datetime] = {}
    filled: dict[str, Decimal] = {}
    for e in of(h.events, OrderProgress):
        if e.filled_qty > filled.get(e.client_order_id, D(0)):
            filled[e.client_order_id], last_fill[e.client_order_id] = e.filled_qty, e.at
    marks = {m.client_order_id: m.at for m in of(h.events, MarkOut)}
    assert set(marks) == set(last_fill) and len(marks) >= 2
    canceled = [e for e in of(h.events, StepFinished) if e.status == "canceled" and e.filled_qty]
    assert canceled  # some fill came well before its step ended
    ends = {e.client_order_id: e.at for e in of(h.events, StepFinished)}
    for cid, at in marks.items():
        # (a horizon shorter than the wait for the step's end is measured at that end)
        since = max(horizon, (ends[cid] - last_fill[cid]).total_seconds())
        assert since <= (at - last_fill[cid]).total_seconds() < since + 0.6, cid


def _mark_out_delay(h: Harness, cid: str) -> float:
    (mark,) = [m for m in of(h.events, MarkOut) if m.client_order_id == cid]
    (end,) = [e for e in of(h.events, StepFinished) if e.client_order_id == cid]
    return (mark.at - end.at).total_seconds()


def test_a_fill_during_the_cancel_is_marked_out_from_the_cancel():
    # 8 shares fill at once, the other 2 as the step's order is cancelled (at its end): the
    # mark-out counts from that last fill, not from the first
    settings = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 5}})
    result, h = place(OrderIntent("AAPL", Side.BUY, quantity=D(10)), settings,
                      limit_fills=True, partial_probability=1.0, fill_on_cancel=1)
    assert [(s.client_order_id, s.filled_qty) for s in result.steps] == [("x-1", 10)]
    assert 5.0 <= _mark_out_delay(h, "x-1") < 5.6


def test_an_update_without_a_fill_does_not_move_the_mark_out():
    # 8 shares fill at once; 2 s later someone else cancels the order (the walk stops):
    # the mark-out is still taken 5 s after the fill
    async def body(h: Harness) -> Harness:
        h.sim.state.faults.limit_fills = True
        h.sim.state.faults.partial_probability = 1.0
        loop = asyncio.get_running_loop()

        def cancel_elsewhere(e: Event) -> None:
            if isinstance(e, OrderAccepted):
                loop.call_later(2.5, lambda: loop.create_task(h.sim.cancel_order(e.order_id)))
        h.listeners.append(cancel_elsewhere)
        await h.placement.place(OrderIntent("AAPL", Side.BUY, quantity=D(10)), id_base="x")
        await h.placement.settle()
        return h

    settings = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 30}})
    h = run_sim(body, settings=settings)
    (fill,) = [e for e in of(h.events, OrderProgress) if e.status == "partially_filled"]
    (end,) = of(h.events, StepFinished)
    (mark,) = of(h.events, MarkOut)
    assert end.status == "canceled" and (end.at - fill.at).total_seconds() >= 1.5
    assert 5.0 <= (mark.at - fill.at).total_seconds() < 5.6


def test_a_steps_duration_is_recorded_to_the_millisecond():
    class WallClock:  # a wall-clock reading, which is never a round number
        def monotonic(self) -> float:
            return 12.3456789

        def now(self) -> datetime:
            return datetime(2026, 11, 24, 15, tzinfo=UTC)

    events: list[Any] = []
    walker = Walker(cast(Any, None), cast(Any, WallClock()), cast(Any, None), events.append,
                    WalkConfig(markout_seconds=0))
    w = _Walk("MIDA", Side.BUY, D(10), WalkProfile(), "x", D(10))
    live = WorkingOrder(cast(Order, None), "x-1", 1, OrderType.LIMIT, HALF, D("10.02"), D(10),
                        D("10.00"), D("10.04"), D(0), 10.0)
    rec = walker._record(w, live, None, OrderStatus.UNKNOWN, "lost")
    assert rec.seconds == 2.346
    assert [e.seconds for e in events if isinstance(e, StepFinished)] == [2.346]


def test_settling_a_walk_waits_for_its_mark_outs():
    # the benchmark's way (bench/cost.py): walk, then settle the walk's own mark-outs
    async def body(h: Harness) -> tuple[int, int]:
        arrival = await h.placement.quotes.quote("AAPL")
        outcome = await h.placement.walker.walk(
            symbol="AAPL", side=Side.BUY, qty=D(1), profile=WalkProfile(ratios=()),
            arrival=arrival, id_base="x")
        before = len(of(h.events, MarkOut))
        await h.placement.walker.settle(outcome)
        assert all(task.done() for task in outcome.markouts)
        return before, len(of(h.events, MarkOut))

    before, after = run_sim(body, settings=load_settings(execution={"markout_seconds": 5}))
    assert (before, after) == (0, 1)


def test_a_mark_out_that_fails_does_not_fail_the_settling():
    # a mark-out is a measurement: a stream error while taking it is not the walk's failure
    async def body(h: Harness) -> int:
        arrival = await h.placement.quotes.quote("AAPL")
        outcome = await h.placement.walker.walk(
            symbol="AAPL", side=Side.BUY, qty=D(1), profile=WalkProfile(ratios=()),
            arrival=arrival, id_base="x")

        async def broken(symbol: str, timeout: float) -> None:
            raise BrokerError("stream broke")
        h.placement.quotes.peek = broken  # type: ignore[method-assign, assignment]
        await h.placement.walker.settle(outcome)
        return len(of(h.events, MarkOut))

    assert run_sim(body, settings=load_settings(execution={"markout_seconds": 5})) == 0
