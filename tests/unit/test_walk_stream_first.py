"""The walk takes fills, cancels and ends from the trade-updates stream, falls back to REST
only when the stream missed something, and stops when someone else ends its order."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from alchemiser_cli.domain.events import OrderAccepted
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.orders import OrderStatus
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.settings import load_settings
from tests.conftest import Harness, run_sim

SEED = load_settings(profiles={"medium": {"profile": "seed"}},
                     execution={"markout_seconds": 0})
BUY = OrderIntent("AAPL", Side.BUY, quantity=Decimal(10))


def place(*, limit_fills: bool, on_accepted: Any = None,
          **faults: Any) -> tuple[ExecutionResult, dict[str, int], Harness]:
    """One order on the simulator; ``on_accepted(h, event)`` runs as each order is accepted."""
    async def body(h: Harness) -> tuple[ExecutionResult, dict[str, int], Harness]:
        h.sim.state.faults.limit_fills = limit_fills
        h.sim.state.faults.partial_probability = 0
        for name, value in faults.items():
            setattr(h.sim.state.faults, name, value)
        if on_accepted is not None:
            h.listeners.append(
                lambda event: on_accepted(h, event) if isinstance(event, OrderAccepted) else None)
        before = dict(h.broker.requests)
        result = await h.placement.place(BUY, id_base="w")
        used = {k: v - before.get(k, 0) for k, v in h.broker.requests.items()
                if v != before.get(k, 0)}
        return result, used, h

    return run_sim(body, settings=SEED)


def test_a_walk_to_market_reads_no_order_over_rest_while_the_stream_is_healthy():
    result, used, _ = place(limit_fills=False)
    assert result.status is ExecutionStatus.FILLED
    assert [s.order_type.value for s in result.steps] == ["limit"] * 3 + ["market"]
    # per step a submission and (for the limits) a cancel; ends and fills from the stream
    assert used.get("submit") == 4 and used.get("cancel") == 3
    assert "order" not in used and "order_by_client_id" not in used


def test_a_fill_event_the_stream_dropped_is_found_over_rest_and_counted():
    # the market order's fill never reaches the stream: its end is read from REST instead
    result, used, h = place(limit_fills=False, drop_event={"fill": 1})
    assert result.status is ExecutionStatus.FILLED and result.filled_qty == 10
    assert h.sim.state.position_qty("AAPL") == 70
    assert used.get("order", 0) >= 1


def test_a_fill_during_the_cancel_reported_only_by_rest_is_never_lost():
    # the step-1 limit fills as it is cancelled, and the stream never says so
    result, used, h = place(limit_fills=False, fill_on_cancel=1,
                            drop_event={"fill": 1})
    assert result.filled_qty == 10 and len(result.steps) == 1
    assert h.sim.state.position_qty("AAPL") == 70  # bought once, not twice
    assert used.get("order", 0) >= 1


def test_an_order_cancelled_by_someone_else_stops_the_walk():
    cancelled: list[str] = []

    def cancel_from_elsewhere(h: Harness, event: OrderAccepted) -> None:
        if not cancelled:  # another process cancels the first order as soon as it rests
            cancelled.append(event.order_id)
            asyncio.get_running_loop().create_task(h.sim.cancel_order(event.order_id))

    result, used, h = place(limit_fills=False, on_accepted=cancel_from_elsewhere)
    assert cancelled
    assert result.status is ExecutionStatus.FAILED and result.filled_qty == 0
    assert len(result.steps) == 1 and result.steps[0].status is OrderStatus.CANCELED
    assert result.error == ("w-1 was canceled outside this run (by hand, another process or "
                            "the broker); walk stopped")
    assert used.get("submit") == 1  # it did not walk on to step 2
    assert h.sim.state.position_qty("AAPL") == 60


def test_a_quote_stream_that_goes_down_mid_walk_falls_back_to_rest_at_once():
    def stream_goes_down(h: Harness, event: OrderAccepted) -> None:
        h.sim.state.faults.stream_down = True  # after the first order: quotes 2-4 need REST

    result, used, _ = place(limit_fills=False, on_accepted=stream_goes_down)
    assert result.status is ExecutionStatus.FILLED and len(result.steps) == 4
    assert used.get("quote") == 3  # one REST quote before each later step
    # three 30 s steps and the market order, not another 5 s stream timeout per quote
    assert result.seconds < 3 * 30 + 5, result.seconds
