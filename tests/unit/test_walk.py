"""The placement core against the simulator, in virtual time.

Tests of walk mechanics that need several limit steps on any spread use the seed
profile (75/85/95, which places an order at every step whatever the spread); the
default profiles go to market at once on the one-tick spreads of the large caps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from decimal import Decimal

from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.domain.events import Event, OrderSubmitting, QuoteTaken, StepFinished
from alchemiser_cli.domain.intents import CloseType, OrderIntent, Side, Urgency
from alchemiser_cli.domain.orders import OrderStatus
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.settings import Settings, load_settings
from tests.conftest import Harness, run_sim

BUY10 = OrderIntent("AAPL", Side.BUY, quantity=Decimal(10))


def seed_walk() -> Settings:
    return load_settings(profiles={"medium": {"profile": "seed"}})


def submitted(h: Harness) -> list[OrderSubmitting]:
    return [e for e in h.events if isinstance(e, OrderSubmitting)]


def test_unfilled_limits_walk_all_steps_then_market_in_virtual_time():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        return await h.placement.place(BUY10, id_base="alch-t-AAPL"), h

    wall = time.perf_counter()
    result, h = run_sim(body, settings=seed_walk())
    assert time.perf_counter() - wall < 1.0
    assert result.status is ExecutionStatus.FILLED
    assert [s.client_order_id for s in result.steps] == [
        "alch-t-AAPL-1", "alch-t-AAPL-2", "alch-t-AAPL-3", "alch-t-AAPL-m"]
    assert [s.status for s in result.steps] == [OrderStatus.CANCELED] * 3 + [OrderStatus.FILLED]
    assert [s.ratio for s in result.steps[:3]] == [Decimal("0.75"), Decimal("0.85"), Decimal("0.95")]
    assert result.fill_step == "market"
    assert result.validation is not None and result.validation.passed
    assert result.seconds >= 90  # three 30 s steps happened in virtual time
    # a quote was taken before every step, not once per order
    assert sum(isinstance(e, QuoteTaken) for e in h.events) == 4


def test_each_step_prices_from_a_fresh_quote_and_climbs_toward_the_ask():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        return await h.placement.place(OrderIntent("SMLB", Side.BUY, quantity=Decimal(10)),
                                       id_base="alch-t-SMLB")

    result = run_sim(body, settings=seed_walk())
    quotes = set()
    for step in result.steps[:3]:
        assert step.bid is not None and step.ask is not None and step.limit_price is not None
        assert step.ratio is not None
        quotes.add((step.bid, step.ask))
        # independent of the ladder's arithmetic: every cent from the bid to the ask, and
        # the highest one at or below bid + ratio * spread
        cents = [step.bid + Decimal("0.01") * k
                 for k in range(int((step.ask - step.bid) * 100) + 1)]
        target = step.bid + step.ratio * (step.ask - step.bid)
        assert step.limit_price == max(c for c in cents if c <= target)
    assert len(quotes) > 1  # the quote was taken again before the steps


def test_a_fill_during_the_cancel_is_counted_and_nothing_is_reordered():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        h.sim.state.faults.fill_on_cancel = 1
        result = await h.placement.place(BUY10, id_base="alch-t-AAPL")
        return result, h.sim.state.position_qty("AAPL"), h

    result, position, h = run_sim(body, settings=seed_walk())
    assert result.status is ExecutionStatus.FILLED
    assert len(result.steps) == 1 and result.steps[0].status is OrderStatus.FILLED
    assert len(submitted(h)) == 1
    assert position == Decimal(70)  # 60 + 10, never over-bought


def test_partial_fills_are_carried_and_only_the_remainder_is_ordered():
    from alchemiser_cli.brokers.sim.state import demo_state

    quick = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 3}})
    carried = 0
    for seed in range(1, 13):
        async def body(h: Harness):
            h.sim.state.faults.partial_probability = 1.0
            result = await h.placement.place(
                OrderIntent("XLE", Side.BUY, quantity=Decimal(40)), id_base="alch-t-XLE")
            return result, h.sim.state.position_qty("XLE")

        result, position = run_sim(body, settings=quick, state=demo_state(seed))
        steps = result.steps
        assert sum(s.filled_qty for s in steps) == result.filled_qty == Decimal(40) == position
        for previous, step in itertools.pairwise(steps):
            assert step.qty == previous.qty - previous.filled_qty  # only the remainder
        carried += any(Decimal(0) < s.filled_qty < s.qty for s in steps[:-1])
    assert carried >= 1  # some walks really carried a partial fill into the next step


def test_zero_bid_is_estimated_flagged_and_still_walks():
    async def body(h: Harness):
        h.sim.state.faults.quote_mode["AAPL"] = "zero_bid"
        return await h.placement.place(BUY10, id_base="alch-t-AAPL"), h

    result, h = run_sim(body)
    quotes = [e for e in h.events if isinstance(e, QuoteTaken)]
    assert quotes[0].zero_bid and quotes[0].raw_bid == 0 and quotes[0].bid > 0
    assert result.status is ExecutionStatus.FILLED


def test_stale_crossed_and_empty_quotes_place_nothing():
    for mode in ("stale", "crossed", "both_zero"):
        async def body(h: Harness, mode=mode):
            h.sim.state.faults.quote_mode["*"] = mode
            return await h.placement.place(BUY10, id_base="alch-t-AAPL"), h

        result, h = run_sim(body)
        assert result.status is ExecutionStatus.NOT_PLACED, mode
        assert mode.split("_")[0] in (result.error or ""), result.error
        assert not submitted(h)
        # the stream quote was unusable, so REST was tried too (and age-checked)
        assert [e.source for e in h.events if isinstance(e, QuoteTaken)] == ["stream", "rest"]


def test_stream_down_falls_back_to_rest_and_polling():
    async def body(h: Harness):
        h.sim.state.faults.stream_down = True
        h.sim.state.faults.trade_stream_down = True
        return await h.placement.place(BUY10, id_base="alch-t-AAPL"), h

    result, h = run_sim(body)
    assert result.status is ExecutionStatus.FILLED
    assert {e.source for e in h.events if isinstance(e, QuoteTaken)} == {"rest"}


def place_with_hook(after_step: int, change: Callable[[Harness], None], *,
                    limit_fills: bool = False, settings: Settings | None = None,
                    intent: OrderIntent = BUY10) -> tuple[ExecutionResult, list[Event]]:
    """Place ``intent``; once step ``after_step`` finishes, ``change`` the simulated world."""
    settings = settings or seed_walk()

    async def body(h: Harness) -> tuple[ExecutionResult, list[Event]]:
        h.sim.state.faults.limit_fills = limit_fills
        events: list[Event] = []

        def emit(event: Event) -> None:
            events.append(event)
            if isinstance(event, StepFinished) and event.step == after_step:
                change(h)

        svc = PlacementService(h.broker, h.clock, emit, PlacementConfig.from_settings(settings))
        return await svc.place(intent, id_base="x"), events

    return run_sim(body, settings=settings)


def test_a_rejection_mid_walk_stops_without_market_escalation():
    def reject_next(h: Harness) -> None:
        h.sim.state.faults.reject_next = 1  # the step-2 order will be rejected

    result, events = place_with_hook(1, reject_next)
    assert result.status is ExecutionStatus.FAILED
    assert [s.status for s in result.steps] == [OrderStatus.CANCELED, OrderStatus.REJECTED]
    assert "rejected at step 2" in (result.error or "")
    assert not any(isinstance(e, OrderSubmitting) and e.order_type == "market" for e in events)


def test_a_lost_submit_response_is_resolved_by_client_order_id_not_resent():
    async def body(h: Harness):
        h.sim.state.faults.lose_submit_response = 1
        result = await h.placement.place(BUY10, id_base="alch-t-AAPL")
        return result, h.sim.state.orders, h.broker.requests

    result, orders, requests = run_sim(body)
    assert result.status is ExecutionStatus.FILLED
    ids = [o.client_order_id for o in orders.values()]
    assert len(ids) == len(set(ids)) == len(result.steps)
    assert requests["submit"] == len(result.steps)
    assert requests["order_by_client_id"] >= 1


def test_sells_beyond_the_position_and_fractions_of_whole_share_assets_are_refused():
    async def body(h: Harness):
        too_many = await h.placement.place(
            OrderIntent("AAPL", Side.SELL, quantity=Decimal(61)), id_base="x-1")
        fraction = await h.placement.place(
            OrderIntent("XLE", Side.BUY, quantity=Decimal("1.5")), id_base="x-2")
        return too_many, fraction, h

    too_many, fraction, h = run_sim(body)
    assert too_many.status is ExecutionStatus.NOT_PLACED and "position is 60" in too_many.error
    assert fraction.status is ExecutionStatus.NOT_PLACED and "not fractionable" in fraction.error
    assert not submitted(h)


def test_full_close_sells_the_exact_fractional_position_and_ends_at_zero():
    async def body(h: Harness):
        result = await h.placement.place(
            OrderIntent("TSLA", Side.SELL, close_type=CloseType.FULL), id_base="x")
        return result, h.sim.state.positions.get("TSLA")

    result, position = run_sim(body)
    assert result.status is ExecutionStatus.FILLED
    assert result.requested_qty == Decimal("8.5")
    assert position is None
    assert result.validation is not None and result.validation.tolerance == 0


def test_high_urgency_goes_to_market_at_once():
    async def body(h: Harness):
        return await h.placement.place(
            OrderIntent("AAPL", Side.BUY, quantity=Decimal(1), urgency=Urgency.HIGH), id_base="x")

    result = run_sim(body)
    assert [s.client_order_id for s in result.steps] == ["x-m"]
    assert result.status is ExecutionStatus.FILLED


def test_an_unfilled_market_order_is_cancelled_and_fails():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        h.sim.state.faults.halted = ["AAPL"]
        result = await h.placement.place(BUY10, id_base="x")
        open_orders = await h.broker.list_open_orders()
        return result, open_orders

    result, open_orders = run_sim(body)
    assert result.status is ExecutionStatus.FAILED
    assert result.steps[-1].status is OrderStatus.CANCELED
    assert "unfilled" in (result.error or "")
    assert open_orders == []


def test_a_position_that_does_not_match_fails_the_order():
    def someone_sells_one(h: Harness) -> None:
        h.sim.state.positions["AAPL"].qty = "69"  # the fill made it 70; someone sold one

    result, _ = place_with_hook(1, someone_sells_one, limit_fills=True)
    assert result.steps[0].status is OrderStatus.FILLED
    assert result.status is ExecutionStatus.FAILED
    assert result.validation is not None and not result.validation.passed
    assert "position check failed" in (result.error or "")


def test_cancelling_the_task_cancels_the_live_order():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        task = asyncio.create_task(h.placement.place(BUY10, id_base="x"))
        await h.clock.sleep(10)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return await h.broker.list_open_orders(), h.sim.state.orders

    open_orders, orders = run_sim(body, settings=seed_walk())
    assert open_orders == []
    assert [o.status for o in orders.values()] == ["canceled"]


def test_no_market_order_when_the_quote_before_it_is_unusable():
    def market_breaks(h: Harness) -> None:
        h.sim.state.faults.quote_mode["*"] = "crossed"

    result, events = place_with_hook(3, market_breaks)
    assert result.status is ExecutionStatus.FAILED
    assert "no usable quote before the market step (crossed)" in (result.error or "")
    assert not any(isinstance(e, OrderSubmitting) and e.order_type == "market" for e in events)


def test_a_cancel_that_never_completes_is_an_unknown_state():
    async def body(h: Harness):
        h.sim.state.faults.limit_fills = False
        h.sim.state.faults.stuck_cancel = 1
        return await h.placement.place(BUY10, id_base="x"), h.sim.state.orders

    result, orders = run_sim(body, settings=seed_walk())
    assert result.steps[-1].status is OrderStatus.UNKNOWN
    assert "cancel of x-1 not confirmed" in (result.error or "")
    assert len(orders) == 1  # nothing more was sent
