"""How a walk sends, resolves and cancels its orders when the broker misbehaves.

The broker is the simulator behind a script of failures (:class:`Scripted`): a call can
fail before it reaches the simulator (nothing happened) or after it (it happened, the
answer was lost). The outcomes asserted are the operator's: how many orders exist per
client_order_id, how many POSTs were sent, the final position, the step's status, and
the exit code the result implies (4 when an order's state could not be established).

Wire facts relied on: Alpaca refuses a reused client_order_id with 422 "client_order_id
must be unique" (ALPACA_WIRE_AND_SEMANTICS.md §3, DESIGN.md "Known errors") and answers
``GET /v2/orders:by_client_order_id`` with the order or 404 (docs.alpaca.markets/reference/
getorderbyclientorderid); a cancel is asynchronous (204, then ``pending_cancel``, then
``canceled``: docs.alpaca.markets/docs/orders-at-alpaca, "Order Lifecycle").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from alchemiser_cli.brokers.port import (
    BrokerError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    OrderRejectedError,
    TransientBrokerError,
)
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.order_desk import UnknownOrderStateError, WalkConfig, WorkingOrder
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.walk import Walker
from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.events import (
    Event,
    MarkOut,
    OrderAccepted,
    OrderSubmitFailed,
    OrderSubmitting,
    StepFinished,
)
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.orders import Order, OrderStatus, OrderType, TradeUpdate
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.settings import Settings, load_settings
from tests.unit.scripted import Scripted

T = TypeVar("T")
D = Decimal
SEED = load_settings(profiles={"medium": {"profile": "seed"}}, execution={"markout_seconds": 0})
BUY = OrderIntent("AAPL", Side.BUY, quantity=D(10))
UNAVAILABLE = TransientBrokerError("HTTP 503: unavailable", status=503)


@dataclass
class Run:
    result: ExecutionResult
    broker: Scripted
    state: SimState
    events: list[Event]
    #: Ctrl-C (``cancel_after``) ended the placement as cancelled, not with a result
    interrupted: bool = False

    def orders_by_cid(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rec in self.state.orders.values():
            counts[rec.client_order_id] = counts.get(rec.client_order_id, 0) + 1
        return counts

    def submitting(self) -> list[str]:
        return [e.client_order_id for e in self.events if isinstance(e, OrderSubmitting)]

    def open_orders(self) -> list[str]:
        return [r.client_order_id for r in self.state.orders.values()
                if not OrderStatus.parse(r.status).terminal]


def place(script: Callable[[Scripted], None] | None = None, *, settings: Settings = SEED,
          intent: OrderIntent = BUY, limit_fills: bool = False,
          on_event: Callable[[Event, Scripted], None] | None = None,
          cancel_after: float | None = None, **faults: Any) -> Run:
    """One order walked on the scripted simulator; ``cancel_after`` seconds: Ctrl-C."""
    state = demo_state()
    state.faults.limit_fills = limit_fills
    state.faults.partial_probability = 0
    for name, value in faults.items():
        setattr(state.faults, name, value)

    async def main() -> Run:
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            scripted = Scripted(sim, clock)
            if script is not None:
                script(scripted)
            broker = GuardedBroker(scripted, RateLimiter(clock, 200), clock)  # type: ignore[arg-type]
            events: list[Event] = []

            def emit(event: Event) -> None:
                events.append(event)
                if on_event is not None:
                    on_event(event, scripted)

            service = PlacementService(broker, clock, emit, PlacementConfig.from_settings(settings))
            task = asyncio.ensure_future(service.place(intent, id_base="x"))
            if cancel_after is not None:
                await clock.sleep(cancel_after)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                interrupted = task.cancelled()
                await clock.sleep(5)  # let an asynchronous cancel complete at the broker
                result = ExecutionResult(intent, ExecutionStatus.FAILED, D(0), D(0), None, None,
                                         None, (), None, clock.now(), clock.now())
            else:
                result, interrupted = await task, False
            return Run(result, scripted, state, events, interrupted)

    return run(main, virtual=True)


# -- submissions whose outcome is unknown ---------------------------------------------------
def test_an_order_post_that_failed_before_reaching_the_broker_is_resent_with_the_same_id():
    run_ = place(lambda b: b.fail("submit_order", UNAVAILABLE), limit_fills=True)
    assert run_.result.status is ExecutionStatus.FILLED
    assert run_.broker.count("submit_order", "x-1") == 2  # the same client_order_id twice
    assert run_.broker.count("submit_order") == 2
    assert run_.orders_by_cid() == {"x-1": 1}
    assert run_.state.position_qty("AAPL") == 70
    # resent only after the id was looked up and proven absent, three times, 1 s then 2 s apart
    lookups = run_.broker.times("get_order_by_client_id")
    assert len(lookups) == 3 and [b - a for a, b in itertools.pairwise(lookups)] == [1, 2]
    assert run_.broker.times("submit_order")[1] == pytest.approx(lookups[-1] + 3)


def test_an_order_created_whose_answer_was_lost_is_adopted_not_resent():
    run_ = place(lambda b: b.fail("submit_order", UNAVAILABLE, after=True), limit_fills=True)
    assert run_.result.status is ExecutionStatus.FILLED
    assert run_.broker.count("submit_order") == 1
    assert run_.broker.count("get_order_by_client_id") == 1
    assert run_.orders_by_cid() == {"x-1": 1}
    accepted = [e for e in run_.events if isinstance(e, OrderAccepted)]
    assert [(e.client_order_id, e.order_id) for e in accepted] == [
        ("x-1", next(iter(run_.state.orders.values())).id)]


def test_an_order_found_only_by_the_second_lookup_is_adopted():
    def script(b: Scripted) -> None:
        b.fail("submit_order", UNAVAILABLE, after=True)
        b.fail("get_order_by_client_id", BrokerError("HTTP 400: not yet"))  # not retried
    run_ = place(script, limit_fills=True)
    assert run_.result.status is ExecutionStatus.FILLED
    assert run_.broker.count("submit_order") == 1
    lookups = run_.broker.times("get_order_by_client_id")
    assert len(lookups) == 2 and lookups[1] - lookups[0] == 1  # poll_interval_seconds
    assert run_.orders_by_cid() == {"x-1": 1}


def test_a_submission_that_keeps_failing_stops_the_walk_in_an_unknown_state():
    run_ = place(lambda b: b.fail("submit_order", UNAVAILABLE, times=10))
    result = run_.result
    assert run_.broker.count("submit_order") == 3  # WalkConfig.submit_attempts, one id
    assert run_.submitting() == ["x-1"]
    assert run_.orders_by_cid() == {}
    assert [s.status for s in result.steps] == [OrderStatus.UNKNOWN]
    assert result.error is not None and result.error.startswith("submission of x-1 failed 3 times")
    assert result.exit_code is ExitCode.BROKER
    failed = [e for e in run_.events if isinstance(e, OrderSubmitFailed)]
    assert [(e.client_order_id, e.outcome) for e in failed] == [("x-1", "unknown")]


def test_a_post_whose_outcome_is_unknown_and_whose_lookups_fail_is_never_duplicated():
    # the order was created, the answer lost, and the id cannot be looked up: it is sent
    # again with the same id, the broker refuses the duplicate, the walk stops (exit 4)
    def script(b: Scripted) -> None:
        b.fail("submit_order", UNAVAILABLE, after=True)
        b.fail("get_order_by_client_id", BrokerError("HTTP 400: lookups broken"), times=100)
    run_ = place(script)
    result = run_.result
    assert run_.broker.count("submit_order", "x-1") == 2 and run_.broker.count("submit_order") == 2
    assert run_.orders_by_cid() == {"x-1": 1}  # the broker refused the second POST
    assert [s.status for s in result.steps] == [OrderStatus.UNKNOWN]
    assert result.error == "x-1 already used but not found; stopped"
    assert result.exit_code is ExitCode.BROKER
    assert run_.open_orders() == ["x-1"]  # still working: the run's sweep must cancel it


def test_a_duplicate_id_refusal_adopts_the_order_already_there():
    def script(b: Scripted) -> None:  # the first POST went through; the answer said "duplicate"
        b.fail("submit_order", DuplicateClientOrderIdError("client_order_id must be unique",
                                                           status=422), after=True)
    run_ = place(script, limit_fills=True)
    assert run_.result.status is ExecutionStatus.FILLED
    assert run_.broker.count("submit_order") == 1
    assert run_.orders_by_cid() == {"x-1": 1}


def test_a_rejection_ends_the_walk_without_another_order():
    run_ = place(lambda b: b.fail("submit_order", OrderRejectedError("insufficient buying power",
                                                                      status=403)))
    result = run_.result
    assert run_.broker.count("submit_order") == 1
    assert run_.broker.count("get_order_by_client_id") == 0  # a refusal needs no lookup
    assert [s.status for s in result.steps] == [OrderStatus.REJECTED]
    assert result.error == "rejected: insufficient buying power"
    assert result.exit_code is ExitCode.FAILED
    failed = [e for e in run_.events if isinstance(e, OrderSubmitFailed)]
    assert [(e.outcome, e.message) for e in failed] == [
        ("rejected", "rejected: insufficient buying power")]


def test_any_other_definite_refusal_ends_the_walk_as_a_failed_submission():
    run_ = place(lambda b: b.fail("submit_order", BrokerError("HTTP 400: bad request")))
    result = run_.result
    assert run_.broker.count("submit_order") == 1 and run_.orders_by_cid() == {}
    assert [s.status for s in result.steps] == [OrderStatus.REJECTED]
    assert result.error == "submission failed: HTTP 400: bad request"
    assert result.exit_code is ExitCode.FAILED


def test_a_refused_market_step_is_recorded_as_its_own_step():
    # the limits rest unfilled; the market order is refused: three cancels, one refusal
    run_ = place(on_event=_refuse_the_market_order)
    result = run_.result
    assert [(s.client_order_id, s.status) for s in result.steps] == [
        ("x-1", OrderStatus.CANCELED), ("x-2", OrderStatus.CANCELED),
        ("x-3", OrderStatus.CANCELED), ("x-m", OrderStatus.REJECTED)]
    assert result.steps[-1].order_type is OrderType.MARKET and result.steps[-1].step == 4
    assert result.steps[-1].qty == D(10) and result.steps[-1].filled_qty == 0


def _refuse_the_market_order(event: Event, broker: Scripted) -> None:
    if isinstance(event, OrderSubmitting) and event.order_type == "market":
        broker.fail("submit_order", OrderRejectedError("market orders halted", status=403))


# -- cancels that cannot be confirmed --------------------------------------------------------
def test_a_cancel_that_cannot_be_read_back_stops_the_walk_instead_of_walking_on():
    # step 1 rests; its cancel goes through but the stream loses the "canceled" event and
    # every REST read of the order fails: the walk cannot know what it holds
    def on_event(event: Event, broker: Scripted) -> None:
        if isinstance(event, OrderAccepted):
            broker.fail("get_order", BrokerError("HTTP 400: order unreadable"), times=100)
    run_ = place(on_event=on_event, drop_event={"canceled": 1})
    result = run_.result
    assert run_.submitting() == ["x-1"]  # nothing more was sent
    assert [s.status for s in result.steps] == [OrderStatus.UNKNOWN]
    assert result.error == "lost track of x-1: HTTP 400: order unreadable"
    assert result.exit_code is ExitCode.BROKER


def test_a_refused_cancel_of_a_working_order_stops_the_walk():
    def on_event(event: Event, broker: Scripted) -> None:
        if isinstance(event, OrderAccepted):
            broker.fail("cancel_order", BrokerError("HTTP 400: cannot cancel"), times=100)
    run_ = place(on_event=on_event)
    assert run_.submitting() == ["x-1"]
    assert [s.status for s in run_.result.steps] == [OrderStatus.UNKNOWN]
    assert run_.result.error == "lost track of x-1: HTTP 400: cannot cancel"


def test_a_cancel_that_never_completes_is_polled_with_backoff_then_declared_unknown():
    run_ = place(stuck_cancel=1, trade_stream_down=True)
    result = run_.result
    assert [s.status for s in result.steps] == [OrderStatus.UNKNOWN]
    assert result.error == ("cancel of x-1 not confirmed within 10s (status pending_cancel); "
                            "stopped")
    assert run_.submitting() == ["x-1"]
    calls = run_.broker.calls
    after_cancel = calls[[m for m, _, _ in calls].index("cancel_order") + 1:]
    reads = [t for m, _, t in after_cancel if m == "get_order"]
    # 0.1 s, doubling to at most 1 s between reads, until the 10 s are over
    assert [round(b - a, 3) for a, b in itertools.pairwise(reads)][:5] == [
        0.1, 0.2, 0.4, 0.8, 1.0]
    assert 9 <= reads[-1] - reads[0] <= 10.5 and 12 <= len(reads) <= 16


def test_an_order_that_filled_as_its_cancel_arrived_is_counted_not_reordered():
    # the cancel is refused as the order is already filled (Alpaca's 422 on a filled order)
    def on_event(event: Event, broker: Scripted) -> None:
        if isinstance(event, OrderAccepted) and event.client_order_id == "x-1":
            broker.fail("cancel_order", NotCancelableError("order is not cancelable", status=422),
                        after=True)
    run_ = place(on_event=on_event, fill_on_cancel=1)
    assert run_.result.status is ExecutionStatus.FILLED
    assert run_.submitting() == ["x-1"] and run_.state.position_qty("AAPL") == 70


# -- Ctrl-C --------------------------------------------------------------------------------
def test_ctrl_c_cancels_the_resting_order_and_confirms_it():
    run_ = place(cancel_after=10)
    assert run_.interrupted  # the placement stops: the run does not go on to validate or trade
    assert run_.open_orders() == []
    assert [r.status for r in run_.state.orders.values()] == ["canceled"]
    assert run_.broker.count("cancel_order") == 1


def test_ctrl_c_after_the_order_filled_sends_no_cancel():
    # high urgency: the market order fills at once; Ctrl-C lands while the position is checked
    run_ = place(intent=OrderIntent("AAPL", Side.BUY, quantity=D(1), urgency="high"),  # type: ignore[arg-type]
                 cancel_after=2, position_lag_seconds=30)
    assert [r.status for r in run_.state.orders.values()] == ["filled"]
    assert run_.broker.count("cancel_order") == 0


def test_ctrl_c_while_the_broker_fails_still_stops_the_walk():
    # the walk's own cancel cannot even read the order: Ctrl-C still ends the walk (the run's
    # sweep then handles the order), it is not turned into a broker error
    def on_event(event: Event, broker: Scripted) -> None:
        if isinstance(event, OrderAccepted):
            broker.fail("get_order", BrokerError("HTTP 400: unreadable"), times=100)
    run_ = place(on_event=on_event, cancel_after=10)
    assert run_.open_orders() == ["x-1"]
    assert run_.broker.count("cancel_order") == 0


def test_ctrl_c_drops_the_mark_outs_still_being_measured():
    # step 1 (2 s) fills 8 shares at 1 s and is cancelled; its mark-out is due at 5 s;
    # Ctrl-C at 4 s ends the walk and no mark-out is taken afterwards
    settings = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 2}},
                             execution={"markout_seconds": 4})
    run_ = place(settings=settings, limit_fills=True, partial_probability=1.0, cancel_after=4)
    assert run_.interrupted
    assert [(e.client_order_id, e.filled_qty) for e in run_.events
            if isinstance(e, StepFinished)][:1] == [("x-1", 8)]
    assert not [e for e in run_.events if isinstance(e, MarkOut)]


def test_ctrl_c_cancels_the_repriced_walks_live_order_and_its_mark_outs():
    settings = load_settings(profiles={"medium": {"profile": "pegged"}},
                             execution={"markout_seconds": 30})
    run_ = place(settings=settings, intent=OrderIntent("SMLB", Side.BUY, quantity=D(5)),
                 cancel_after=25, limit_fills=True, partial_probability=1.0)
    assert run_.open_orders() == []


# -- what the stream says and what REST says ---------------------------------------------------
def update(event: str, filled: str, qty: str | None, status: OrderStatus) -> TradeUpdate:
    order = _order(filled, status)
    return TradeUpdate(event, order, order.updated_at, None if qty is None else D(qty),
                       None if qty is None else D("10.00"))


def _order(filled: str, status: OrderStatus) -> Order:
    from datetime import UTC, datetime
    now = datetime(2026, 11, 24, 15, tzinfo=UTC)
    return Order("o-1", "x-1", "AAPL", Side.BUY, OrderType.LIMIT, D(10), D(filled), D("10.00"),
                 D("10.00"), status, now, now)


def working() -> WorkingOrder:
    return WorkingOrder(_order("0", OrderStatus.NEW), "x-1", 1, OrderType.LIMIT, None, D("10.00"),
                    D(10), D("9.99"), D("10.01"), D(0), 0.0)


def test_the_stream_accounts_for_an_order_only_when_it_reported_every_execution():
    live = working()
    live.heard(update("new", "0", None, OrderStatus.NEW))  # not an execution: no size needed
    live.heard(update("partial_fill", "4", "4", OrderStatus.PARTIALLY_FILLED))
    assert live.accounts_for(_order("4", OrderStatus.CANCELED))
    assert not live.accounts_for(_order("6", OrderStatus.CANCELED))  # 2 were never reported
    live.heard(update("fill", "10", "6", OrderStatus.FILLED))
    assert live.stream_filled == D(10) and live.accounts_for(_order("10", OrderStatus.FILLED))


def test_an_execution_reported_without_its_size_makes_only_rest_believable():
    live = working()
    live.heard(update("partial_fill", "4", None, OrderStatus.PARTIALLY_FILLED))
    assert live.stream_filled is None
    live.heard(update("fill", "10", "6", OrderStatus.FILLED))
    assert live.stream_filled is None  # stays unbelievable
    assert not live.accounts_for(_order("10", OrderStatus.FILLED))
    assert not live.accounts_for(_order("0", OrderStatus.CANCELED))


def test_a_terminal_event_after_a_dropped_partial_fill_is_confirmed_over_rest():
    # two partial fills; the stream loses the first; the walk's cancel ends the order: the
    # stream's "canceled" does not account for what filled, so REST is read
    run_ = place(limit_fills=True, partial_probability=1.0, drop_event={"partial_fill": 1})
    result = run_.result
    assert sum(s.filled_qty for s in result.steps) == result.filled_qty
    assert run_.state.position_qty("AAPL") == 60 + result.filled_qty
    assert run_.broker.count("get_order") >= 1


def test_cancel_and_confirm_believes_the_stream_only_when_it_heard_every_execution():
    async def body(walker: Walker, broker: Scripted, clock: LoopClock) -> tuple[int, int]:
        order = await broker.submit_order(_request("c-1"))
        await clock.sleep(1)  # routed: new
        await walker.cancel_and_confirm(order, working_for(order))
        believed = broker.count("get_order")
        other = await broker.submit_order(_request("c-2"))
        await clock.sleep(1)
        await walker.cancel_and_confirm(other)  # no walk heard it: REST confirms
        return believed, broker.count("get_order") - believed

    believed, confirmed = with_walker(body)
    assert believed == 0 and confirmed == 1


def _request(cid: str):  # type: ignore[no-untyped-def]
    from alchemiser_cli.domain.orders import OrderRequest
    return OrderRequest(cid, "AAPL", Side.BUY, D(1), OrderType.LIMIT, D("200.00"))


def working_for(order: Order) -> WorkingOrder:
    return WorkingOrder(order, order.client_order_id, 1, OrderType.LIMIT, None, order.limit_price,
                    order.qty, None, None, D(0), 0.0)


def with_walker(body: Callable[[Walker, Scripted, LoopClock], Awaitable[T]],
                state: SimState | None = None) -> T:
    state = state or demo_state()
    state.faults.limit_fills = False

    async def main() -> T:
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            scripted = Scripted(sim, clock)
            broker = GuardedBroker(scripted, RateLimiter(clock, 200), clock)  # type: ignore[arg-type]
            from alchemiser_cli.core.quote_service import QuoteService
            from alchemiser_cli.domain.quotes import QuotePolicy
            quotes = QuoteService(broker, clock, QuotePolicy(), 1.0, lambda e: None)
            walker = Walker(broker, clock, quotes, lambda e: None, WalkConfig())
            return await body(walker, scripted, clock)

    return run(main, virtual=True)


def test_cancel_and_confirm_of_an_order_already_filled_returns_the_fill():
    async def body(walker: Walker, broker: Scripted, clock: LoopClock) -> Order:
        broker.sim.state.faults.limit_fills = True
        from alchemiser_cli.domain.orders import OrderRequest
        order = await broker.submit_order(OrderRequest("c-1", "AAPL", Side.BUY, D(1),
                                                       OrderType.MARKET, None))
        await clock.sleep(2)
        return await walker.cancel_and_confirm(order)

    final = with_walker(body)
    assert final.status is OrderStatus.FILLED and final.filled_qty == 1


def test_cancel_and_confirm_raises_when_the_cancel_never_completes():
    async def body(walker: Walker, broker: Scripted, clock: LoopClock) -> float:
        broker.sim.state.faults.stuck_cancel = 1
        order = await broker.submit_order(_request("c-1"))
        await clock.sleep(1)
        start = clock.monotonic()
        with pytest.raises(UnknownOrderStateError, match=r"cancel of c-1 not confirmed within 10s"):
            await walker.cancel_and_confirm(order)
        return clock.monotonic() - start

    waited = with_walker(body)
    assert 10 <= waited <= 11.5  # WalkConfig.cancel_confirm_seconds, not less, not much more


def test_a_step_finished_event_carries_the_unknown_state():
    run_ = place(lambda b: b.fail("submit_order", UNAVAILABLE, times=10))
    finished = [e for e in run_.events if isinstance(e, StepFinished)]
    assert [(e.client_order_id, e.status) for e in finished] == [("x-1", "unknown")]
