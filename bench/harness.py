"""Shared helpers for the benchmarks: a rebalance or a single walk on the simulator in
virtual time, with the request counts of the shared budget."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.market import generated_symbol
from alchemiser_cli.brokers.sim.state import SimState
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.rebalance import RebalanceReport, RebalanceRunner
from alchemiser_cli.core.session import Runtime
from alchemiser_cli.domain.events import EventBus, RunStarted
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.journal.store import Journal
from alchemiser_cli.settings import Settings, load_settings


@dataclass(frozen=True)
class RebalanceBench:
    orders: int
    virtual_seconds: float
    requests: dict[str, int]
    capacity: int
    rate_per_second: float
    report: RebalanceReport

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def rebalance(orders: int, *, concurrent: bool = True, limit_fills: bool = False,
              seed: int = 7, settings: Settings | None = None) -> RebalanceBench:
    """Buy ``orders`` synthetic symbols from cash in one rebalance; measure virtual time."""
    settings = settings or load_settings(execution={"max_concurrent_orders": 256 if concurrent
                                                    else 1},
                                         profiles={"medium": {"profile": "seed"}})
    symbols = [generated_symbol(i + 1) for i in range(orders)]
    plan = Plan(targets={s: Decimal("0.9") / orders for s in symbols}, drift_threshold=Decimal(0),
                min_order_notional=Decimal(1))
    state = SimState(seed=seed, cash=str(2000 * orders), positions={})
    state.faults.limit_fills = limit_fills
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite3")

        async def main() -> tuple[RebalanceReport, float, dict[str, int], RateLimiter]:
            clock = LoopClock(state.now_dt)
            async with SimBroker(state, clock) as sim:
                limiter = RateLimiter(clock, settings.execution.rate_limit_per_minute)
                guarded = GuardedBroker(sim, limiter, clock)
                bus = EventBus(journal)
                run_id = journal.new_run_id(clock.now())
                bus(RunStarted(run_id, "bench", "sim", clock.now()))
                rt = Runtime(BrokerMode.SIM, settings, clock, guarded, limiter, journal, bus,
                             run_id, PlacementService(guarded, clock, bus,
                                                      PlacementConfig.from_settings(settings)))
                start = clock.monotonic()
                report = await RebalanceRunner(rt, plan).run()
                return report, clock.monotonic() - start, dict(guarded.requests), limiter

        report, seconds, requests, limiter = run(main, virtual=True)
        journal.close()
    return RebalanceBench(orders, seconds, requests, limiter.capacity, limiter.rate, report)


def single_walk(symbol: str, side: Any, qty: Decimal, *, seed: int, settings: Settings,
                urgency: Any, limit_fills: bool = True) -> tuple[Any, dict[str, int]]:
    """One order through the placement core on a fresh seeded market."""
    from alchemiser_cli.domain.intents import OrderIntent

    state = SimState(seed=seed, cash="1000000", positions={})
    state.faults.limit_fills = limit_fills
    if side.value == "sell":
        from alchemiser_cli.brokers.sim.state import SimPosition

        state.positions[symbol] = SimPosition(str(qty), "0")

    async def main() -> tuple[Any, dict[str, int]]:
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            guarded = GuardedBroker(sim, RateLimiter(clock, 200), clock)
            svc = PlacementService(guarded, clock, lambda e: None,
                                   PlacementConfig.from_settings(settings))
            result = await svc.place(OrderIntent(symbol, side, quantity=qty, urgency=urgency),
                                     id_base=f"alch-bench-{symbol}")
            return result, dict(guarded.requests)

    return run(main, virtual=True)
