"""A rebalance's money: the cash its buys may spend, and the post-trade check.

Each test runs a whole rebalance on the in-process simulator (virtual time) and asserts
what an operator would look at afterwards: the exit code, the cash left, positions, and
which check rows failed. The simulator refuses buys beyond its buying power (Alpaca's
403 "insufficient buying power", alpaca-py#225), counts a resting buy's limit value
against buying power, and with ``margin_multiplier`` answers a margin account's buying
power above its cash (Alpaca's account fields: docs.alpaca.markets/docs/margin-and-short-
selling, "buying_power" is RegT buying power on margin accounts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.state import SimPosition, SimState, demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.rebalance import RebalanceReport, RebalanceRunner
from alchemiser_cli.core.session import Runtime
from alchemiser_cli.domain.errors import ExitCode, RefusedError
from alchemiser_cli.domain.events import Event, EventBus, OrderDone, RunStarted
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import OrderRequest, OrderType
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.journal.store import Journal
from alchemiser_cli.settings import Settings, load_settings

D = Decimal
#: The demo account: 25,000 cash, AAPL 60, MSFT 12, SPY 20, TSLA 8.5, BND 40.
DEMO_EQUITY = D("61268.20")


@dataclass
class Outcome:
    report: RebalanceReport
    state: SimState
    events: list[Event] = field(default_factory=list)

    @property
    def code(self) -> ExitCode:
        return self.report.exit_code

    def row(self, symbol: str):  # type: ignore[no-untyped-def]
        return next(r for r in self.report.check if r.symbol == symbol)

    def failed_rows(self) -> list[str]:
        return [r.symbol for r in self.report.check if not r.passed]

    @property
    def cash(self) -> Decimal:
        return D(self.state.cash)


def rebalance(tmp_path: Path, plan: Plan, *, settings: Settings | None = None,
              before: Callable[[SimBroker], Awaitable[None]] | None = None,
              during: Callable[[Event, SimState], None] | None = None,
              **faults: object) -> Outcome:
    """One rebalance of the demo account; ``before`` acts on the broker first, ``during``
    sees every event (and may change the simulated world as it happens)."""
    settings = settings or load_settings()
    state = demo_state()
    for name, value in faults.items():
        setattr(state.faults, name, value)
    journal = Journal(tmp_path / "journal.sqlite3")
    events: list[Event] = []

    def observe(event: Event) -> None:
        events.append(event)
        if during is not None:
            during(event, state)

    async def main() -> RebalanceReport:
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            if before is not None:
                await before(sim)
            limiter = RateLimiter(clock, 200)
            broker = GuardedBroker(sim, limiter, clock)
            bus = EventBus(journal, observe)
            run_id = journal.new_run_id(clock.now())
            bus(RunStarted(run_id, "rebalance", "sim", clock.now()))
            rt = Runtime(BrokerMode.SIM, settings, clock, broker, limiter, journal, bus, run_id,
                         PlacementService(broker, clock, bus,
                                          PlacementConfig.from_settings(settings)))
            return await RebalanceRunner(rt, plan).run()

    try:
        report = run(main, virtual=True)
    finally:
        journal.close()
    return Outcome(report, state, events)


def after_order(symbol: str, change: Callable[[SimState], None]) -> Callable[[Event, SimState], None]:
    """``change`` the simulated account once ``symbol``'s walk has ended (before the check)."""
    def hook(event: Event, state: SimState) -> None:
        if isinstance(event, OrderDone) and event.symbol == symbol:
            change(state)
    return hook


def add_shares(symbol: str, qty: str) -> Callable[[SimState], None]:
    def change(state: SimState) -> None:
        now = state.position_qty(symbol) + D(qty)
        if symbol in state.positions:
            state.positions[symbol].qty = str(now)
        else:
            state.positions[symbol] = SimPosition(qty=str(now), cost=str(now * 100))
    return change


def set_shares(symbol: str, qty: str) -> Callable[[SimState], None]:
    def change(state: SimState) -> None:
        state.positions[symbol].qty = qty
    return change


# -- cash for buys ---------------------------------------------------------------------
#: One big buy the cash cannot pay for: SPY from 20 shares to 90% of equity (no sells).
SPY_HEAVY = {"SPY": D("0.9")}


def test_buys_leave_the_cash_buffer_in_cash(tmp_path):
    plan = Plan(targets=SPY_HEAVY, cash_buffer=D("0.05"))
    out = rebalance(tmp_path, plan)
    assert out.code == ExitCode.SHORT_OF_PLAN  # the buy was cut for cash, nothing failed
    assert all(r.ok for r in out.report.results)
    assert out.cash >= D("0.05") * DEMO_EQUITY  # 3,063.41 kept, never spent on the buy
    assert out.cash < D("0.05") * DEMO_EQUITY + 200  # ... and the rest was spent
    assert out.report.short_of_plan == ("SPY",)


def test_buys_spend_only_what_buying_power_allows_when_it_is_below_cash(tmp_path):
    # an operator's own buy order on XLE (not in the plan) holds $4,000 of buying power:
    # 21,000 may be spent, not the 25,000 of cash
    async def manual_order(sim: SimBroker) -> None:
        await sim.submit_order(OrderRequest("manual-xle", "XLE", Side.BUY, D(100),
                                            OrderType.LIMIT, D("40.00")))

    plan = Plan(targets=SPY_HEAVY)
    out = rebalance(tmp_path, plan, before=manual_order)
    assert out.code == ExitCode.SHORT_OF_PLAN, [r.error for r in out.report.results]
    assert all(r.ok for r in out.report.results)  # no buy was refused by the broker
    spent = D(25000) - out.cash
    assert D(20000) < spent <= D(21000)
    assert not [o for o in out.state.orders.values() if o.status == "rejected"]
    assert out.state.order_table.by_client_id["manual-xle"].status == "new"  # left alone


def test_a_margin_account_buys_with_its_cash_never_with_borrowed_money(tmp_path):
    plan = Plan(targets=SPY_HEAVY)
    out = rebalance(tmp_path, plan, margin_multiplier="2")  # buying power about 86,000
    assert out.code == ExitCode.SHORT_OF_PLAN
    assert all(r.ok for r in out.report.results)
    # the cash went to the buy, no more: at most the room for the broker's 3-4% hold on a
    # market buy is left over
    assert D(0) <= out.cash < D(25000) * D("0.04")


def test_buys_are_sized_to_the_cash_realised_by_sells_that_fill_below_the_plan(tmp_path):
    # no cash at all: the buys are paid by the AAPL/TSLA sells only; AAPL's sell is
    # rejected, so the buys get TSLA's proceeds and not a cent more
    state_cash = Plan(targets={"AAPL": D("0.05"), "TSLA": D(0), "GLD": D("0.3"),
                               "VTI": D("0.3")}, sell_unlisted=False)
    settings = load_settings(guards={"max_turnover_fraction": 3})
    out = rebalance(tmp_path, state_cash, settings=settings, before=_empty_cash,
                    reject_symbols=["AAPL"])
    assert out.code == ExitCode.FAILED  # the AAPL sell failed
    assert out.cash >= 0
    tsla = next(r for r in out.report.results if r.intent.symbol == "TSLA")
    assert tsla.ok and tsla.avg_price is not None
    bought = [r for r in out.report.results if r.intent.side is Side.BUY]
    spent = sum((r.filled_qty * r.avg_price for r in bought if r.avg_price is not None), D(0))
    assert D(0) < spent <= tsla.filled_qty * tsla.avg_price


async def _empty_cash(sim: SimBroker) -> None:
    sim.state.cash = "0"


# -- the post-trade check --------------------------------------------------------------
#: AAPL sells down, MSFT is within the drift threshold (held), TSLA exits, GLD is bought,
#: VTI must stay at zero shares.
MIXED = Plan(targets={"AAPL": D("0.2"), "MSFT": D("0.08"), "TSLA": D(0), "GLD": D("0.1"),
                      "VTI": D(0)})


def test_a_rebalance_whose_positions_match_passes(tmp_path):
    out = rebalance(tmp_path, MIXED)
    assert out.code == ExitCode.OK
    assert [(t.symbol, t.action.value) for t in out.report.trades] == [
        ("AAPL", "sell"), ("TSLA", "close"), ("MSFT", "hold"), ("VTI", "hold"), ("GLD", "buy")]
    assert out.failed_rows() == [] and out.report.check_passed
    assert out.state.position_qty("TSLA") == 0 and "TSLA" not in out.state.positions


def test_holding_more_than_the_fills_imply_fails_the_check(tmp_path):
    out = rebalance(tmp_path, MIXED, during=after_order("GLD", add_shares("GLD", "1")))
    assert out.code == ExitCode.FAILED
    assert out.failed_rows() == ["GLD"]
    assert out.row("GLD").difference == D(1)


def test_holding_less_than_the_fills_imply_fails_the_check(tmp_path):
    out = rebalance(tmp_path, MIXED, during=after_order("GLD", add_shares("GLD", "-1")))
    assert out.code == ExitCode.FAILED
    assert out.failed_rows() == ["GLD"]


def test_a_held_position_that_changed_during_the_run_fails_the_run(tmp_path):
    # MSFT had no order: only the check can see that someone sold one share meanwhile
    out = rebalance(tmp_path, MIXED, during=after_order("GLD", add_shares("MSFT", "-1")))
    assert all(r.ok for r in out.report.results)  # every order filled and checked out
    assert out.failed_rows() == ["MSFT"] and not out.report.check_passed
    assert out.code == ExitCode.FAILED


def test_a_full_exit_left_with_a_fraction_of_a_share_fails(tmp_path):
    # 0.0009 is within the tolerance of a normal position, but a full exit must reach 0
    out = rebalance(tmp_path, MIXED, during=after_order("TSLA", add_shares("TSLA", "0.0009")))
    assert out.code == ExitCode.FAILED
    assert out.failed_rows() == ["TSLA"]
    tsla = next(r for r in out.report.results if r.intent.symbol == "TSLA")
    assert tsla.validation is not None and tsla.validation.tolerance == 0


def test_a_symbol_the_plan_keeps_at_zero_must_stay_at_zero(tmp_path):
    out = rebalance(tmp_path, MIXED, during=after_order("GLD", add_shares("VTI", "0.0009")))
    assert out.code == ExitCode.FAILED
    assert out.failed_rows() == ["VTI"]


def test_a_difference_within_the_tolerance_passes(tmp_path):
    # validation_tolerance 0.001 share, inclusive: a bought or sold position may be off by it
    out = rebalance(tmp_path, MIXED, during=after_order("GLD", add_shares("GLD", "0.001")))
    assert out.code == ExitCode.OK, out.failed_rows()
    assert out.row("GLD").difference == D("0.001")
    out = rebalance(tmp_path, MIXED, during=after_order("AAPL", add_shares("AAPL", "-0.001")))
    assert out.code == ExitCode.OK, out.failed_rows()


def test_positions_that_lag_the_fills_are_polled_until_they_agree(tmp_path):
    out = rebalance(tmp_path, MIXED, position_lag_seconds=5.0)
    assert out.code == ExitCode.OK, out.failed_rows()


def test_positions_that_never_agree_fail_after_the_validation_timeout(tmp_path):
    settings = load_settings(execution={"validation_timeout_seconds": 10})
    out = rebalance(tmp_path, MIXED, settings=settings, position_lag_seconds=60.0)
    assert out.code == ExitCode.FAILED
    assert set(out.failed_rows()) == {"AAPL", "TSLA", "GLD"}


def test_an_account_without_equity_is_refused_before_anything_is_placed(tmp_path):

    async def empty(sim: SimBroker) -> None:
        sim.state.cash = "0"
        sim.state.positions.clear()

    with pytest.raises(RefusedError, match=r"^account equity is not positive; nothing to "
                       r"rebalance$") as refused:
        rebalance(tmp_path, MIXED, before=empty)
    assert refused.value.exit_code is ExitCode.REFUSED
