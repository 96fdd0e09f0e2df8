"""Failures late in a rebalance: they must fail the run, and say what was placed."""

from __future__ import annotations

from pathlib import Path

import pytest

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.brokers.port import TransientBrokerError
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.state import demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.rebalance import RebalanceRunner
from alchemiser_cli.core.session import Runtime
from alchemiser_cli.domain.errors import BrokerUnavailableError
from alchemiser_cli.domain.events import EventBus, PhaseStarted, RunStarted
from alchemiser_cli.domain.plan import load_plan
from alchemiser_cli.journal.store import Journal
from alchemiser_cli.settings import load_settings

PLAN = Path(__file__).parents[2] / "config" / "example-plan.toml"


class FailingLater(GuardedBroker):
    """Makes one kind of call fail once the buys phase has started."""

    failing: str = ""
    armed = False

    async def list_open_orders(self):  # type: ignore[override]
        if self.armed and self.failing == "open_orders":
            raise TransientBrokerError("HTTP 503: unavailable", status=503)
        return await super().list_open_orders()

    async def get_positions(self):  # type: ignore[override]
        if self.armed and self.failing == "positions":
            raise TransientBrokerError("HTTP 503: unavailable", status=503)
        return await super().get_positions()


def rebalance(tmp_path: Path, failing: str):
    settings = load_settings()
    state = demo_state()
    journal = Journal(tmp_path / "j.sqlite3")

    async def main():
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            limiter = RateLimiter(clock, 200)
            broker = FailingLater(sim, limiter, clock)
            broker.failing = failing

            def arm(event) -> None:
                if isinstance(event, PhaseStarted) and event.phase == "buys":
                    broker.armed = True

            bus = EventBus(journal, arm)
            run_id = journal.new_run_id(clock.now())
            bus(RunStarted(run_id, "test", "sim", clock.now()))
            rt = Runtime(BrokerMode.SIM, settings, clock, broker, limiter, journal, bus, run_id,
                         PlacementService(broker, clock, bus, PlacementConfig.from_settings(settings)))
            return await RebalanceRunner(rt, load_plan(PLAN)).run()

    try:
        return run(main, virtual=True)
    finally:
        journal.close()


def test_a_sweep_that_cannot_confirm_nothing_is_open_is_an_unknown_state(tmp_path):
    report = rebalance(tmp_path, "open_orders")
    assert all(r.ok for r in report.results) and report.check_passed
    assert not report.swept
    assert not report.ok and report.unknown_state  # exit 4, not a quiet success


def test_a_failed_read_after_placing_says_orders_were_placed(tmp_path):
    with pytest.raises(BrokerUnavailableError,
                       match=r"positions for the check: .*stopped after placing orders"):
        rebalance(tmp_path, "positions")
