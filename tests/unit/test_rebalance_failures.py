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

    async def get_order_by_client_id(self, client_order_id):  # type: ignore[override]
        if self.armed and self.failing == "open_orders":
            raise TransientBrokerError("HTTP 503: unavailable", status=503)
        return await super().get_order_by_client_id(client_order_id)

    async def get_positions(self):  # type: ignore[override]
        if self.armed and self.failing == "positions":
            raise TransientBrokerError("HTTP 503: unavailable", status=503)
        return await super().get_positions()


def rebalance(tmp_path: Path, failing: str, arm_phase: str = "buys", **faults: object):
    settings = load_settings(profiles={"medium": {"profile": "seed"}})  # a limit at every step
    state = demo_state()
    for name, value in faults.items():
        setattr(state.faults, name, value)
    journal = Journal(tmp_path / "j.sqlite3")

    async def main():
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            limiter = RateLimiter(clock, 200)
            broker = FailingLater(sim, limiter, clock)
            broker.failing = failing

            def arm(event) -> None:
                if isinstance(event, PhaseStarted) and event.phase == arm_phase:
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


def test_orders_whose_end_was_confirmed_need_no_sweep_read(tmp_path):
    # every order of the run reached a state confirmed over REST: the sweep's failed list
    # read changes nothing, there is nothing it could have missed
    report = rebalance(tmp_path, "open_orders")
    assert all(r.ok for r in report.results) and report.check_passed
    assert report.swept and report.ok


def test_a_sweep_that_cannot_confirm_an_order_stopped_is_an_unknown_state(tmp_path):
    # a sell's cancel never confirms (it stays pending_cancel) and the sweep can read neither
    # the open orders nor the order itself: the run must not claim that nothing is working
    report = rebalance(tmp_path, "open_orders", arm_phase="sells", limit_fills=False,
                       stuck_cancel=100)
    assert not report.swept
    assert not report.ok and report.unknown_state  # exit 4, not a quiet success


def test_a_failed_read_after_placing_says_orders_were_placed(tmp_path):
    with pytest.raises(BrokerUnavailableError,
                       match=r"positions for the check: .*stopped after placing orders"):
        rebalance(tmp_path, "positions")
