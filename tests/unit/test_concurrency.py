"""Concurrent walks under one shared budget, in virtual time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.market import generated_symbol
from alchemiser_cli.brokers.sim.state import SimState
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.rebalance import RebalanceRunner
from alchemiser_cli.core.session import Runtime
from alchemiser_cli.domain.events import EventBus, RunStarted
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.journal.store import Journal
from alchemiser_cli.settings import load_settings


def rebalance(tmp_path, orders: int, *, per_minute: int = 200, concurrent: int = 256):
    settings = load_settings(execution={"rate_limit_per_minute": per_minute,
                                        "max_concurrent_orders": concurrent},
                             profiles={"medium": {"profile": "seed"}})  # 3 x 30 s every time
    symbols = [generated_symbol(i + 1) for i in range(orders)]
    plan = Plan(targets={s: Decimal("0.9") / orders for s in symbols},
                drift_threshold=Decimal(0), min_order_notional=Decimal(1))
    state = SimState(cash=str(2000 * orders), positions={})
    state.faults.limit_fills = False  # every order walks the whole ladder
    journal = Journal(tmp_path / f"j{orders}-{per_minute}-{concurrent}.sqlite3")
    stamps: list[float] = []

    async def main():
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            limiter = RateLimiter(clock, per_minute)
            original = limiter.acquire

            async def recording_acquire() -> None:
                await original()
                stamps.append(clock.monotonic())

            limiter.acquire = recording_acquire  # type: ignore[method-assign]
            guarded = GuardedBroker(sim, limiter, clock)
            bus = EventBus(journal)
            run_id = journal.new_run_id(clock.now())
            bus(RunStarted(run_id, "test", "sim", clock.now()))
            rt = Runtime(BrokerMode.SIM, settings, clock, guarded, limiter, journal, bus, run_id,
                         PlacementService(guarded, clock, bus,
                                          PlacementConfig.from_settings(settings)))
            start = clock.monotonic()
            report = await RebalanceRunner(rt, plan).run()
            return report, clock.monotonic() - start

    report, seconds = run(main, virtual=True)
    journal.close()
    return report, seconds, sorted(stamps)


@pytest.mark.timeout(60)
def test_ten_full_walks_run_concurrently_not_one_after_another(tmp_path):
    # (this scenario once livelocked the virtual clock on a float-rounded remaining wait)
    report, seconds, _ = rebalance(tmp_path, 10)
    assert report.ok
    assert seconds < 100  # one full walk is ~93 s; ten in sequence would be ~930 s
    _, sequential, _ = rebalance(tmp_path, 10, concurrent=1)
    assert sequential > 9 * 90


@pytest.mark.timeout(120)
def test_the_shared_budget_is_never_exceeded_and_the_run_still_completes(tmp_path):
    report, seconds, stamps = rebalance(tmp_path, 30, per_minute=60)
    assert report.ok
    for i, start in enumerate(stamps):
        assert sum(1 for t in stamps[i:] if t < start + 60) <= 60
    assert seconds <= len(stamps) / 1.0 * 1.1 + 93  # bounded by the budget, not stalled
