"""How the order desk waits on an order: the trade-updates stream while it is healthy,
REST once it is lost, and never longer than the step allows.

Runs on the scripted simulator in virtual time (see ``test_walk_submissions.place``).
Wire facts relied on: trade updates (``new``, ``partial_fill``, ``fill``, ``canceled``) come
from the ``trade_updates`` stream and an order can always be read over ``GET /v2/orders/{id}``
(docs.alpaca.markets/docs/websocket-streaming, "Trade Updates"; ALPACA_WIRE_AND_SEMANTICS.md).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest

from alchemiser_cli.core.order_desk import OrderDesk, WalkConfig
from alchemiser_cli.core.placement import PlacementConfig
from alchemiser_cli.domain.events import Event, Notice, OrderAccepted, OrderProgress
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.orders import Order
from alchemiser_cli.domain.results import ExecutionStatus
from alchemiser_cli.settings import load_settings
from tests.conftest import Harness, run_sim
from tests.unit.scripted import Scripted
from tests.unit.test_walk_submissions import place

D = Decimal
STREAM_LOST = "trade-update stream lost; polling orders over REST"


def test_the_desk_defaults_are_the_documented_execution_defaults():
    # a desk built without settings waits, polls and measures as `execution.*` documents
    assert PlacementConfig.from_settings(load_settings()).walk == WalkConfig()

    async def body(h: Harness) -> list[float]:
        seen: list[float] = []
        lookup = h.broker.get_order_by_client_id

        async def timed(cid: str) -> Order | None:
            seen.append(h.clock.monotonic())
            return await lookup(cid)
        h.broker.get_order_by_client_id = timed  # type: ignore[method-assign]
        desk = OrderDesk(h.broker, h.clock, lambda e: None, WalkConfig())
        assert await desk.lookup("never-sent") is None
        return seen

    seen = run_sim(body)
    # three lookups (lookup_attempts), 1 s then 2 s apart (poll_interval_seconds x attempt)
    assert [round(b - a, 6) for a, b in itertools.pairwise(seen)] == [1.0, 2.0]


def test_a_trade_stream_lost_mid_step_is_noticed_within_a_second_and_polled_over_rest():
    seen: dict[str, float] = {}

    def on_event(event: Event, broker: Scripted) -> None:
        if isinstance(event, OrderAccepted) and event.client_order_id == "x-1":
            def drop() -> None:
                broker.sim.state.faults.trade_stream_down = True
                seen["dropped"] = broker.clock.monotonic()
            asyncio.get_running_loop().call_later(0.5, drop)
        if isinstance(event, Notice) and event.message == STREAM_LOST:
            seen.setdefault("noticed", broker.clock.monotonic())

    run_ = place(on_event=on_event)
    result = run_.result
    assert result.status is ExecutionStatus.FILLED and run_.state.position_qty("AAPL") == 70
    # reported once for the whole walk (four orders waited on without the stream)
    assert [e.message for e in run_.events if isinstance(e, Notice)].count(STREAM_LOST) == 1
    assert 0 < seen["noticed"] - seen["dropped"] <= 1.0
    # step 1 (30 s) is then polled over REST every second, from a second after the loss
    reads = [t for t in run_.broker.times("get_order") if t < seen["dropped"] + 29]
    assert reads and reads[0] - seen["noticed"] == 1.0 and len(reads) >= 25


def test_a_market_order_whose_fill_reaches_the_stream_late_is_awaited_not_cancelled():
    # the fill event arrives 3 s after the fill: the market step waits for it (market_wait
    # _seconds) instead of cancelling an order that is already filled
    run_ = place(intent=OrderIntent("AAPL", Side.BUY, quantity=D(10), urgency="high"),  # type: ignore[arg-type]
                 limit_fills=True, delay_events=3.0)
    assert run_.result.status is ExecutionStatus.FILLED
    assert [s.client_order_id for s in run_.result.steps] == ["x-m"]
    assert run_.broker.count("cancel_order") == 0
    assert run_.state.position_qty("AAPL") == 70


def test_every_trade_update_of_the_walk_is_reported_as_progress():
    run_ = place(limit_fills=False)
    progress = [(e.client_order_id, e.status, e.filled_qty) for e in run_.events
                if isinstance(e, OrderProgress)]
    assert ("x-m", "filled", D(10)) in progress
    assert {cid for cid, _, _ in progress} >= {"x-1", "x-2", "x-3", "x-m"}


# -- confirming a cancel -----------------------------------------------------------------------
def _lose_the_stream_after_the_first_cancel(after: float) -> Callable[[Scripted], None]:
    """The first cancel goes through, and the trade stream is lost ``after`` seconds later
    (before its ``canceled`` event, 0.3 s later, is delivered: it never is)."""
    def script(b: Scripted) -> None:
        cancel = b.cancel_order

        def drop() -> None:
            b.sim.state.faults.trade_stream_down = True

        async def cancel_and_drop(order_id: str) -> None:
            await cancel(order_id)
            if after:
                asyncio.get_running_loop().call_later(after, drop)
            else:
                drop()
        b.cancel_order = cancel_and_drop  # type: ignore[method-assign]
    return script


def _confirmation_delays(run_: object) -> list[float]:
    """Seconds from each cancel to the next submission (the cancel was confirmed)."""
    calls = run_.broker.calls  # type: ignore[attr-defined]
    cancels = [t for m, _, t in calls if m == "cancel_order"]
    submits = [t for m, _, t in calls if m == "submit_order"]
    return [min(s for s in submits if s > c) - c for c in cancels if any(s > c for s in submits)]


@pytest.mark.parametrize("after", [0.0, 0.05])
def test_a_stream_lost_during_a_cancel_is_confirmed_over_rest_within_a_second(after: float):
    run_ = place(_lose_the_stream_after_the_first_cancel(after))
    assert run_.result.status is ExecutionStatus.FILLED and run_.state.position_qty("AAPL") == 70
    assert [s.status.value for s in run_.result.steps[:1]] == ["canceled"]
    # a stream already lost is not waited on; one lost during the wait costs at most one
    # 1 s slice; then REST confirms: the walk does not stall for cancel_confirm_seconds
    # (10 s) on a cancel
    assert _confirmation_delays(run_)[0] <= 1.0
    cancelled = run_.broker.times("cancel_order")[0]
    first_read = min(t for t in run_.broker.times("get_order") if t >= cancelled)
    assert first_read - cancelled == (0.0 if after == 0 else 1.0)


def test_with_the_trade_stream_down_orders_are_polled_from_the_first_second():
    run_ = place(trade_stream_down=True)
    assert run_.result.status is ExecutionStatus.FILLED and run_.state.position_qty("AAPL") == 70
    submitted = run_.broker.times("submit_order")[0]
    # no time is spent waiting on a stream known to be down: poll_interval_seconds (1 s)
    assert min(run_.broker.times("get_order")) - submitted == 1.0


def test_a_slow_but_healthy_stream_confirms_the_cancel_without_a_rest_read():
    # every trade update arrives 1.5 s late: the cancel is still confirmed by the stream
    run_ = place(delay_events=1.5)
    assert run_.result.status is ExecutionStatus.FILLED
    assert [s.status.value for s in run_.result.steps] == ["canceled"] * 3 + ["filled"]
    assert run_.broker.count("get_order") == 0


def test_a_fill_during_the_cancel_reported_by_the_stream_needs_no_rest_read():
    run_ = place(fill_on_cancel=1)
    assert run_.result.status is ExecutionStatus.FILLED and len(run_.result.steps) == 1
    assert run_.state.position_qty("AAPL") == 70
    assert run_.broker.count("get_order") == 0  # the stream heard the fill: it is believed


def test_a_cancel_whose_stream_missed_a_fill_is_read_over_rest_at_once():
    # the first partial fill never reaches the stream; the "canceled" event then does not
    # account for what filled, so REST is read right away, not after the 10 s confirmation
    quick = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 3}},
                          execution={"markout_seconds": 0})
    run_ = place(settings=quick, limit_fills=True, partial_probability=1.0,
                 drop_event={"partial_fill": 1})
    result = run_.result
    assert result.steps[0].status.value == "canceled" and result.steps[0].filled_qty > 0
    assert sum(s.filled_qty for s in result.steps) == result.filled_qty
    assert run_.state.position_qty("AAPL") == 60 + result.filled_qty
    delays = _confirmation_delays(run_)
    assert delays and all(d <= 1.0 for d in delays), delays
