"""Requests and makespan against the physical limit (``make bench``; bench/README.md).

Requests are counted at the broker — the server side: :class:`CountingSim` counts every
REST call the simulator answers, and the emulator check counts at ``GET /_sim/requests``
what alpaca-py actually sent over HTTP. The *stream minimum* for an order is what it
cannot do without when fills, cancels and ends come from the trade-updates stream: one
submission per step, one cancel per limit step that did not fill. A rebalance adds a few
reads per run (account, clock, positions, open orders, one bulk asset read, the sweep's
list, the check's positions read): 6 in the minimum.

The lower bound of a rebalance's makespan is the larger of one order's walk schedule and
the sliding-window bound of the *minimum* request count: with ``C`` requests per 60 s,
the ``k``-th request cannot go before ``floor((k - 1) / C)`` minutes.

That bound ignores when a walk's requests can go. :func:`step_window_bound` is a tighter
bound that still holds for every schedule of orders that each walk every step: an order's
``k``-th step boundary (cancel, then the next submission: two requests) cannot come
before ``k`` step waits after the run starts, and the run's last request (the check's
positions read) comes at its end ``T``. So the 60 s window ending at ``T`` holds at
least ``1 + 2N * #{k : k * wait > T - 60}`` requests, which may not exceed ``C``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
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
from alchemiser_cli.domain.events import (
    Event,
    EventBus,
    OrderAccepted,
    OrderProgress,
    RunStarted,
)
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.domain.results import ExecutionResult
from alchemiser_cli.journal.store import Journal
from alchemiser_cli.settings import Settings, load_settings

REST = ("get_account", "get_clock", "get_asset", "get_assets", "get_positions", "get_position",
        "latest_quote", "submit_order", "get_order", "get_order_by_client_id",
        "list_open_orders", "cancel_order")
RUN_READS_MINIMUM = 6  # account, clock, positions, open orders, assets, check positions
SEED = {"medium": {"profile": "seed"}}  # three limit steps, then market, whatever the spread


class CountingSim(SimBroker):
    """The simulator, counting every REST call it answers (the server's view)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served: Counter[str] = Counter()
        for name in REST:
            setattr(self, name, self._counted(name, getattr(self, name)))

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.served[name] += 1
            return await method(*args, **kwargs)
        return counted


def sliding_window_bound(requests: int, per_minute: int) -> float:
    return ((requests - 1) // per_minute) * 60.0 if requests > 0 else 0.0


def step_window_bound(orders: int, per_minute: int, *, step_wait: float, boundaries: int,
                      schedule: float) -> float:
    """The earliest end ``T >= schedule`` whose last 60 s can hold the requests that must
    fall in them (see the module's docstring)."""
    def forced(end: float) -> int:
        return 1 + 2 * orders * sum(k * step_wait > end - 60 for k in range(1, boundaries + 1))

    candidates = sorted({schedule, *(60 + k * step_wait for k in range(1, boundaries + 1))})
    return next(t for t in candidates if t >= schedule and forced(t) <= per_minute)


# -- one order, by kind --------------------------------------------------------------------

@dataclass(frozen=True)
class KindFigure:
    kind: str
    steps: int
    served: int
    minimum: int

    @property
    def ratio(self) -> float:
        return self.served / self.minimum


def _one_order(script: Callable[[SimBroker, Event], None], *, limit_fills: bool,
               seed: int = 7) -> tuple[ExecutionResult, Counter[str]]:
    settings = load_settings(profiles=SEED, execution={"markout_seconds": 0})
    state = SimState(seed=seed, cash="1000000", positions={})
    state.faults.limit_fills = limit_fills
    state.faults.partial_probability = 0

    async def main() -> tuple[ExecutionResult, Counter[str]]:
        clock = LoopClock(state.now_dt)
        async with CountingSim(state, clock) as sim:
            guarded = GuardedBroker(sim, RateLimiter(clock, 200), clock)

            def observe(event: Event) -> None:
                script(sim, event)

            svc = PlacementService(guarded, clock, observe,
                                   PlacementConfig.from_settings(settings))
            asset = await sim.get_asset("SPY")
            sim.served.clear()  # the walk's own requests only (a rebalance reads assets once)
            result = await svc.place(OrderIntent("SPY", Side.BUY, quantity=Decimal(10)),
                                     id_base="alch-bench-SPY", asset=asset,
                                     position_before=Decimal(0), validate=False)
            return result, Counter(sim.served)

    return run(main, virtual=True)


def order_kinds() -> list[KindFigure]:
    """Requests per order at the server for each way a walk can end, with the minimum."""
    def at_step(n: int, **faults: Any) -> Callable[[SimBroker, Event], None]:
        def script(sim: SimBroker, event: Event) -> None:
            if isinstance(event, OrderAccepted) and event.client_order_id.endswith(f"-{n}"):
                for name, value in faults.items():
                    setattr(sim.state.faults, name, value)
        return script

    def partial_then_complete(sim: SimBroker, event: Event) -> None:
        faults = sim.state.faults
        if isinstance(event, OrderAccepted) and event.client_order_id.endswith("-1"):
            faults.limit_fills, faults.partial_probability = True, 1.0  # step 1 fills a part
        elif isinstance(event, OrderProgress) and event.status == "partially_filled":
            faults.limit_fills = False  # ... and no more of it
        elif isinstance(event, OrderAccepted) and event.client_order_id.endswith("-2"):
            faults.limit_fills, faults.partial_probability = True, 0.0  # step 2 fills the rest

    figures = []
    for kind, script, steps_expected in (
            ("filled at step 1", at_step(1, limit_fills=True), 1),
            ("filled at step 3", at_step(3, limit_fills=True), 3),
            ("walked to market", at_step(99), 4),
            ("partial, then complete", partial_then_complete, 2)):
        result, served = _one_order(script, limit_fills=False)
        steps = len(result.steps)
        assert result.filled_qty == 10 and steps == steps_expected, (kind, result)
        # each step is a submission; each step but the last also a cancel
        figures.append(KindFigure(kind, steps, sum(served.values()), 2 * steps - 1))
    return figures


# -- a rebalance of N orders ---------------------------------------------------------------

@dataclass(frozen=True)
class RebalanceFigure:
    orders: int
    seconds: float
    served: int
    minimum: int
    schedule: float  # one order's walk, alone
    per_minute: int
    report: RebalanceReport

    @property
    def bound(self) -> float:
        return max(self.schedule, sliding_window_bound(self.minimum, self.per_minute))

    @property
    def step_bound(self) -> float:
        """The tighter bound that knows when a walk's requests can go (seed: 3 limit steps
        of 30 s, each ended by a cancel and the next submission)."""
        return max(self.bound, step_window_bound(self.orders, self.per_minute, step_wait=30.0,
                                                 boundaries=3, schedule=self.schedule))


def rebalance(orders: int, settings: Settings, *, seed: int = 7) -> tuple[float, int,
                                                                           RebalanceReport]:
    """Buy ``orders`` synthetic symbols from cash, every order walked to market."""
    symbols = [generated_symbol(i + 1) for i in range(orders)]
    plan = Plan(targets={s: Decimal("0.9") / orders for s in symbols}, drift_threshold=Decimal(0),
                min_order_notional=Decimal(1))
    state = SimState(seed=seed, cash=str(2000 * orders), positions={})
    state.faults.limit_fills = False
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite3")

        async def main() -> tuple[float, int, RebalanceReport]:
            clock = LoopClock(state.now_dt)
            async with CountingSim(state, clock) as sim:
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
                return clock.monotonic() - start, sum(sim.served.values()), report

        try:
            return run(main, virtual=True)
        finally:
            journal.close()


def rebalances(sizes: tuple[int, ...], *, per_minute: int = 200) -> list[RebalanceFigure]:
    settings = load_settings(profiles=SEED, execution={"markout_seconds": 0,
                                                       "rate_limit_per_minute": per_minute})
    schedule, _, _ = rebalance(1, load_settings(profiles=SEED, execution={
        "markout_seconds": 0, "rate_limit_per_minute": 100000}))
    out = []
    for n in sizes:
        seconds, served, report = rebalance(n, settings)
        assert report.ok, report
        out.append(RebalanceFigure(n, seconds, served, 7 * n + RUN_READS_MINIMUM, schedule,
                                   per_minute, report))
    return out


# -- the same through alpaca-py and the emulator, counted over HTTP --------------------------

def emulator_rebalance(orders: int = 10) -> dict[str, Any]:
    """A rebalance through the Alpaca adapter against the emulator, in wall-clock time with
    short steps; the requests are counted by the emulator."""
    from alchemiser_cli.api import open_session
    from alchemiser_cli.brokers.sim.server import EmulatorThread
    from alchemiser_cli.clock import run as run_loop

    symbols = [generated_symbol(i + 1) for i in range(orders)]
    plan = Plan(targets={s: Decimal("0.9") / orders for s in symbols}, drift_threshold=Decimal(0),
                min_order_notional=Decimal(1))
    state = SimState(cash=str(2000 * orders), positions={})
    state.faults.limit_fills = False
    fast = {"profile": "seed", "step_wait_seconds": 0.4, "market_wait_seconds": 3}
    with EmulatorThread(state, key="PKBENCH", secret="bench-secret", tick_seconds=0.05) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            api_key_id="PKBENCH", api_secret_key="bench-secret", data_dir=Path(tmp),
            trading_url=emu.base_url, data_url=emu.base_url,
            data_stream_url=f"{emu.ws_url}/v2/iex", trading_stream_url=f"{emu.ws_url}/stream",
            profiles={"medium": fast}, quotes={"stream_timeout_seconds": 2},
            execution={"markout_seconds": 0, "poll_interval_seconds": 0.2,
                       "validation_timeout_seconds": 5})
        base = emu.base_url

        def counts() -> dict[str, Any]:
            with urllib.request.urlopen(f"{base}/_sim/requests", timeout=5) as response:
                data: dict[str, Any] = json.loads(response.read())
            return data

        async def main() -> RebalanceReport:
            async with open_session("paper", settings=settings) as session:
                request = urllib.request.Request(f"{base}/_sim/requests", method="DELETE")
                await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
                return await session.rebalance(plan)

        t = time.perf_counter()
        report = run_loop(main, virtual=False)
        wall = time.perf_counter() - t
        served = counts()
    total = int(served["total"])
    return {"orders": orders, "ok": report.ok, "http_requests": served["counts"],
            "total": total, "minimum": 7 * orders + RUN_READS_MINIMUM,
            "ratio": round(total / (7 * orders + RUN_READS_MINIMUM), 3),
            "wall_seconds": round(wall, 1)}


def benchmark(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"order_kinds": [], "rate_bound": [], "unbound": []}
    for k in order_kinds():
        print(f"requests {k.kind:<23} steps {k.steps}  at the server {k.served:>3}  "
              f"stream minimum {k.minimum:>3}  ratio {k.ratio:.2f}")
        out["order_kinds"].append(k.__dict__ | {"ratio": round(k.ratio, 3)})
    sizes = (10, 50) if quick else (10, 50, 200)
    for f in rebalances(sizes):
        print(f"rate-bound n={f.orders:<4} makespan {f.seconds:7.1f}s  bound {f.bound:7.1f}s  "
              f"ratio {f.seconds / f.bound:5.3f}  step-window bound {f.step_bound:6.1f}s "
              f"ratio {f.seconds / f.step_bound:5.3f}  requests {f.served} vs minimum "
              f"{f.minimum} ({f.served / f.minimum:.3f}x)")
        out["rate_bound"].append({"orders": f.orders, "seconds": round(f.seconds, 1),
                                  "bound": round(f.bound, 1),
                                  "ratio": round(f.seconds / f.bound, 3),
                                  "step_bound": round(f.step_bound, 1),
                                  "step_ratio": round(f.seconds / f.step_bound, 3),
                                  "requests": f.served,
                                  "minimum": f.minimum,
                                  "requests_ratio": round(f.served / f.minimum, 3)})
    for f in rebalances((200,) if not quick else (50,), per_minute=100000):
        print(f"unbound    n={f.orders:<4} makespan {f.seconds:7.1f}s  one walk {f.schedule:7.1f}s  "
              f"ratio {f.seconds / f.schedule:5.3f}")
        out["unbound"].append({"orders": f.orders, "seconds": round(f.seconds, 1),
                               "schedule": round(f.schedule, 1),
                               "ratio": round(f.seconds / f.schedule, 3)})
    emu = emulator_rebalance(10)
    print(f"emulator   n={emu['orders']:<4} HTTP requests {emu['total']} vs minimum "
          f"{emu['minimum']} ({emu['ratio']}x), {emu['wall_seconds']}s wall; "
          f"{json.dumps(emu['http_requests'], sort_keys=True)}")
    out["emulator"] = emu
    return out


if __name__ == "__main__":
    import sys

    benchmark("--quick" in sys.argv)
