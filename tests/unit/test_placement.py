"""``alch place`` sizing and refusals, through the placement service on the simulator.

What an operator relies on: a notional buy never costs more than the notional at the far
touch (sized at the ask, rounded down, whole shares where the asset is not fractionable:
Alpaca refuses fractions of such assets, "requested asset is not fractionable",
ALPACA_WIRE_AND_SEMANTICS.md §3); a full close sells exactly the position; an asset that is
not tradable, or a size the guard rails refuse, sends nothing.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from alchemiser_cli.brokers.port import BrokerError
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.domain.events import OrderSubmitting, QuoteTaken
from alchemiser_cli.domain.intents import CloseType, OrderIntent, Side, Urgency
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.settings import Settings, load_settings
from tests.conftest import Harness, run_sim
from tests.unit.scripted import Scripted

D = Decimal
HIGH = Urgency.HIGH  # a market order at once: these tests are about the size, not the walk


def place(intent: OrderIntent, *, settings: Settings | None = None, equity: Decimal | None = None,
          **faults: Any) -> tuple[ExecutionResult, Harness]:
    async def body(h: Harness) -> tuple[ExecutionResult, Harness]:
        for name, value in faults.items():
            setattr(h.sim.state.faults, name, value)
        service = h.placement if settings is None else PlacementService(
            h.broker, h.clock, h.events.append, PlacementConfig.from_settings(settings))
        return await service.place(intent, id_base="p", equity=equity), h

    return run_sim(body, settings=settings)


def sent(h: Harness) -> list[OrderSubmitting]:
    return [e for e in h.events if isinstance(e, OrderSubmitting)]


def down(value: Decimal, places: str) -> Decimal:
    return value.quantize(D(places), rounding=ROUND_DOWN)


# -- notional orders -----------------------------------------------------------------------
def test_a_notional_buy_is_sized_at_the_ask_and_rounded_down():
    result, h = place(OrderIntent("MIDB", Side.BUY, notional=D(1000), urgency=HIGH))
    ask, bid = result.arrival_ask, result.arrival_bid
    assert ask is not None and bid is not None and bid < ask  # a spread of several ticks
    assert result.requested_qty == down(D(1000) / ask, "0.000000001")
    assert result.requested_qty * ask <= D(1000)  # never more than the notional at the ask
    assert sent(h)[0].qty == result.requested_qty


def test_a_notional_sell_is_sized_at_the_bid():
    result, _ = place(OrderIntent("AAPL", Side.SELL, notional=D(1000), urgency=HIGH))
    bid, ask = result.arrival_bid, result.arrival_ask
    assert bid is not None and ask is not None and bid < ask
    assert result.requested_qty == down(D(1000) / bid, "0.000000001")


def test_a_notional_buy_of_a_whole_share_asset_is_whole_shares():
    result, h = place(OrderIntent("XLE", Side.BUY, notional=D(1000), urgency=HIGH))
    assert result.arrival_ask is not None
    assert result.requested_qty == down(D(1000) / result.arrival_ask, "1")  # 11, not 11.14
    assert result.status is ExecutionStatus.FILLED
    assert h.sim.state.position_qty("XLE") == result.requested_qty


def test_a_notional_below_one_whole_share_places_nothing():
    result, h = place(OrderIntent("XLE", Side.BUY, notional=D(50), urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED
    assert result.error == "$50 buys less than one XLE share, which is not fractionable"
    assert sent(h) == []


# -- quantities ------------------------------------------------------------------------------
def test_a_quantity_with_more_than_nine_decimals_is_refused():
    result, h = place(OrderIntent("AAPL", Side.BUY, quantity=D("0.0000000001"), urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED
    assert result.error == "quantity has more than 9 decimals"
    assert sent(h) == []


def test_selling_exactly_the_position_is_allowed_one_more_share_is_not():
    result, _ = place(OrderIntent("AAPL", Side.SELL, quantity=D(60), urgency=HIGH))
    assert result.status is ExecutionStatus.FILLED
    result, h = place(OrderIntent("AAPL", Side.SELL, quantity=D("60.000000001"), urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED and sent(h) == []
    assert result.error == ("cannot sell 60.000000001 AAPL: the position is 60 (short selling is "
                            "not supported)")


# -- full closes ---------------------------------------------------------------------------
def test_a_full_close_with_a_quantity_other_than_the_position_is_refused():
    result, h = place(OrderIntent("AAPL", Side.SELL, quantity=D(59), close_type=CloseType.FULL,
                                  urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED and sent(h) == []
    assert result.error == "a full close of AAPL sells the whole position (60), not 59"
    assert h.sim.state.position_qty("AAPL") == 60


def test_a_full_close_naming_the_exact_position_sells_all_of_it():
    result, h = place(OrderIntent("AAPL", Side.SELL, quantity=D(60), close_type=CloseType.FULL,
                                  urgency=HIGH))
    assert result.status is ExecutionStatus.FILLED
    assert "AAPL" not in h.sim.state.positions
    assert result.validation is not None and result.validation.tolerance == 0


def test_a_full_close_of_nothing_is_refused():
    result, h = place(OrderIntent("GLD", Side.SELL, close_type=CloseType.FULL, urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED and sent(h) == []
    assert result.error == "no GLD position to close"


def test_a_full_close_that_fills_only_partly_is_checked_against_what_filled():
    # the first limit fills part of the 8.5 shares, then trading halts: nothing more fills
    # and the market order is cancelled. The check expects what is left (not 0), within the
    # normal tolerance
    from alchemiser_cli.domain.events import Event, StepFinished

    settings = load_settings(profiles={"medium": {"profile": "seed", "step_wait_seconds": 3}},
                             execution={"markout_seconds": 0})

    async def body(h: Harness) -> ExecutionResult:
        h.sim.state.faults.partial_probability = 1.0

        def emit(event: Event) -> None:
            h.events.append(event)
            if isinstance(event, StepFinished) and event.step == 1:
                h.sim.state.faults.halted = ["TSLA"]

        service = PlacementService(h.broker, h.clock, emit, PlacementConfig.from_settings(settings))
        return await service.place(OrderIntent("TSLA", Side.SELL, close_type=CloseType.FULL),
                                   id_base="p")

    result = run_sim(body, settings=settings)
    assert D(0) < result.filled_qty < D("8.5"), result.filled_qty
    assert result.status is ExecutionStatus.PARTIAL
    assert result.validation is not None and result.validation.passed
    assert result.validation.expected == D("8.5") - result.filled_qty
    assert result.validation.tolerance == D("0.001")


# -- what may be traded at all ---------------------------------------------------------------
def test_an_asset_that_is_not_tradable_places_nothing_and_takes_no_quote():
    result, h = place(OrderIntent("DELIST", Side.BUY, quantity=D(1), urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED
    assert result.error == "DELIST is not tradable"
    assert sent(h) == [] and not any(isinstance(e, QuoteTaken) for e in h.events)


def test_an_unknown_asset_places_nothing():
    result, h = place(OrderIntent("NOPE", Side.BUY, quantity=D(1), urgency=HIGH))
    assert result.status is ExecutionStatus.NOT_PLACED
    assert result.error == "NOPE is not a known asset"
    assert sent(h) == []


def test_a_position_that_cannot_be_read_places_nothing():
    async def body(h: Harness) -> ExecutionResult:
        scripted = Scripted(h.sim, h.clock)
        scripted.fail("get_position", BrokerError("HTTP 400: positions unavailable"))
        from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
        broker = GuardedBroker(scripted, RateLimiter(h.clock, 200), h.clock)  # type: ignore[arg-type]
        service = PlacementService(broker, h.clock, h.events.append,
                                   PlacementConfig.from_settings(load_settings()))
        return await service.place(OrderIntent("AAPL", Side.SELL, quantity=D(1)), id_base="p")

    result = run_sim(body)
    assert result.status is ExecutionStatus.NOT_PLACED
    assert result.error == "could not read AAPL from the broker: HTTP 400: positions unavailable"


# -- guard rails -----------------------------------------------------------------------------
def test_an_order_over_the_notional_guard_at_the_ask_is_refused():
    # 10 AAPL: about $2,285 at the ask; the guard is $2,000
    settings = load_settings(guards={"max_order_notional": 2000})
    result, h = place(OrderIntent("AAPL", Side.BUY, quantity=D(10), urgency=HIGH),
                      settings=settings)
    assert result.status is ExecutionStatus.NOT_PLACED and sent(h) == []
    assert result.error is not None and "exceeds guards.max_order_notional $2000" in result.error


def test_an_order_at_exactly_the_notional_guard_is_allowed():
    probe, _ = place(OrderIntent("AAPL", Side.BUY, quantity=D(10), urgency=HIGH))
    assert probe.arrival_ask is not None
    exact = probe.arrival_ask * 10  # the same seeded quote next time
    settings = load_settings(guards={"max_order_notional": str(exact)})
    result, _ = place(OrderIntent("AAPL", Side.BUY, quantity=D(10), urgency=HIGH),
                      settings=settings)
    assert result.status is ExecutionStatus.FILLED, result.error


def test_the_turnover_guard_applies_to_one_order_when_the_equity_is_given():
    settings = load_settings(guards={"max_turnover_fraction": "0.1"})
    result, h = place(OrderIntent("AAPL", Side.BUY, quantity=D(10), urgency=HIGH),
                      settings=settings, equity=D(20000))  # $2,285 > 10% of $20,000
    assert result.status is ExecutionStatus.NOT_PLACED and sent(h) == []
    assert result.error is not None and "exceeds guards.max_turnover_fraction 0.1" in result.error
    result, _ = place(OrderIntent("AAPL", Side.BUY, quantity=D(10), urgency=HIGH),
                      settings=settings)  # no equity given: no turnover guard
    assert result.status is ExecutionStatus.FILLED


# -- mark-outs measured after the order ------------------------------------------------------
def test_a_run_that_stops_early_cancels_its_mark_outs_instead_of_waiting_for_them():
    settings = load_settings(execution={"markout_seconds": 60})

    async def body(h: Harness) -> tuple[list[bool], float, float]:
        service = PlacementService(h.broker, h.clock, h.events.append,
                                   PlacementConfig.from_settings(settings))
        await service.place(OrderIntent("AAPL", Side.BUY, quantity=D(1), urgency=HIGH),
                            id_base="p")
        pending = list(service._markouts)
        service.abandon_markouts()
        start = h.clock.monotonic()
        await service.settle()  # nothing left to wait for
        waited = h.clock.monotonic() - start
        await h.clock.sleep(0)
        return [t.cancelled() for t in pending], waited, len(pending)

    cancelled, waited, count = run_sim(body, settings=settings)
    assert count == 1 and cancelled == [True] and waited == 0


def test_a_finished_run_waits_for_its_mark_outs():
    settings = load_settings(execution={"markout_seconds": 60})

    async def body(h: Harness) -> float:
        service = PlacementService(h.broker, h.clock, h.events.append,
                                   PlacementConfig.from_settings(settings))
        await service.place(OrderIntent("AAPL", Side.BUY, quantity=D(1), urgency=HIGH),
                            id_base="p")
        start = h.clock.monotonic()
        await service.settle()
        return h.clock.monotonic() - start

    waited = run_sim(body, settings=settings)
    assert 50 <= waited <= 61  # the mid 60 s after the fill was measured
