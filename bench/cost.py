"""The cost benchmark: every walk profile on every liquidity class, on the same seeded
market paths, through the real ``Walker`` on the simulator in virtual time.

For each (class, profile) the same scenarios run: a random symbol of the class, side,
size and start time, and a market seed. Cost is measured against the arrival mid, per
order; an unfilled remainder is charged at the market (far touch minus the class's
price improvement) when the walk ends. Usage: ``python bench/cost.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.market import (
    DEFAULT_UNIVERSE,
    LiquidityClass,
    MarketModel,
    symbols_of,
)
from alchemiser_cli.brokers.sim.matching import taker_price
from alchemiser_cli.brokers.sim.state import DEFAULT_START, SimPosition, SimState
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.quote_service import QuoteService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.walk import WalkConfig, Walker
from alchemiser_cli.domain.events import Event, MarkOut
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.ladder import WalkProfile, named_profile
from alchemiser_cli.domain.quotes import QuotePolicy

MARKOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Strategy:
    name: str
    profile: WalkProfile
    market_eq: float | None = None  # None: each class's default E/Q


STRATEGIES: tuple[Strategy, ...] = (
    Strategy("seed", named_profile("seed")),
    Strategy("ticks, every spread", named_profile("ticks", min_spread_ticks=1)),
    Strategy("ticks (medium)", named_profile("ticks")),
    Strategy("patient (low)", named_profile("patient")),
    Strategy("pegged", named_profile("pegged", min_spread_ticks=1)),
    Strategy("midpoint pegged", named_profile("midpoint", min_spread_ticks=1)),
    Strategy("market E/Q 1.0", named_profile("market"), 1.0),
    Strategy("market E/Q 0.5", named_profile("market"), 0.5),
    Strategy("market E/Q 0.3", named_profile("market"), 0.3),
    Strategy("marketable limit", named_profile("marketable")),
)


@dataclass(frozen=True)
class Scenario:
    symbol: str
    side: Side
    qty: Decimal
    seed: int
    start_offset_s: int


@dataclass(frozen=True)
class Trial:
    cost_bps: float
    cost_spreads: float
    completion: float
    passive_markouts_bps: tuple[float, ...]
    requests: int
    cancels: int
    fills: int
    seconds: float


def scenarios(liquidity: LiquidityClass, n: int, seed: int = 2026) -> list[Scenario]:
    rng = random.Random(f"{seed}:{liquidity}")
    prices = {s.symbol: s.price for s in DEFAULT_UNIVERSE}
    out = []
    for i in range(n):
        symbol = rng.choice(symbols_of(liquidity))
        notional = Decimal(rng.choice((2000, 5000, 10000, 20000)))
        qty = max(Decimal(1), (notional / prices[symbol]).to_integral_value())
        out.append(Scenario(symbol, rng.choice(list(Side)), qty, 10_000 + i,
                            rng.randrange(0, 6 * 3600)))
    return out


async def _trial(scn: Scenario, strategy: Strategy, model: MarketModel) -> Trial:
    state = SimState(seed=scn.seed, cash="100000000", positions={})
    if scn.side is Side.SELL:
        state.positions[scn.symbol] = SimPosition(str(scn.qty), "0")
    start = DEFAULT_START + timedelta(seconds=scn.start_offset_s)
    state.now = start.isoformat()
    clock = LoopClock(start)
    if strategy.market_eq is not None:
        model = model.with_market_eq(strategy.market_eq)
    events: list[Event] = []
    async with SimBroker(state, clock, model=model) as sim:
        broker = GuardedBroker(sim, RateLimiter(clock, 10_000), clock)
        quotes = QuoteService(broker, clock, QuotePolicy(), 5.0, events.append)
        walker = Walker(broker, clock, quotes, events.append,
                        WalkConfig(markout_seconds=MARKOUT_SECONDS))
        arrival = await quotes.quote(scn.symbol)
        assert arrival.usable, arrival.problem
        t0 = clock.monotonic()
        outcome = await walker.walk(symbol=scn.symbol, side=scn.side, qty=scn.qty,
                                    profile=strategy.profile, arrival=arrival,
                                    id_base=f"alch-bench-{scn.symbol}")
        seconds = clock.monotonic() - t0
        remaining = scn.qty - outcome.filled_qty
        notional = outcome.filled_qty * (outcome.avg_price or Decimal(0))
        if remaining > 0:  # charged at the market now
            spec = sim.spec(scn.symbol)
            assert spec is not None
            touch = sim.public_touch(scn.symbol)
            eq = model.params(spec.liquidity).market_eq
            notional += remaining * taker_price(scn.side is Side.BUY, touch, remaining, eq)
        await walker.settle(outcome)
        requests = dict(broker.requests)
    mid, spread = arrival.mid, arrival.spread
    cost = (notional / scn.qty - mid) * scn.side.sign
    markouts = tuple(float(e.markout_bps) for e in events
                     if isinstance(e, MarkOut) and e.order_type == "limit" and e.ratio is not None)
    return Trial(
        cost_bps=float(cost / mid * 10000), cost_spreads=float(cost / spread),
        completion=float(outcome.filled_qty / scn.qty), passive_markouts_bps=markouts,
        requests=sum(requests.values()), cancels=requests.get("cancel", 0),
        fills=sum(1 for s in outcome.steps if s.filled_qty > 0), seconds=seconds)


def run_batch(args: tuple[LiquidityClass, int, Strategy, Sequence[Scenario]]
              ) -> tuple[LiquidityClass, int, list[Trial]]:
    liquidity, index, strategy, batch = args
    model = MarketModel()

    async def main() -> list[Trial]:
        return [await _trial(s, strategy, model) for s in batch]

    return liquidity, index, run(main, virtual=True)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low, high = math.floor(k), math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summarize(trials: Sequence[Trial], baseline: Sequence[Trial] | None) -> dict[str, Any]:
    costs = [t.cost_bps for t in trials]
    spreads = [t.cost_spreads for t in trials]
    marks = [m for t in trials for m in t.passive_markouts_bps]
    n = len(trials)
    out: dict[str, Any] = {
        "n": n,
        "cost_bps_mean": statistics.fmean(costs), "cost_bps_sd": statistics.stdev(costs),
        "cost_bps_p5": _percentile(costs, 0.05), "cost_bps_p95": _percentile(costs, 0.95),
        "cost_spreads_mean": statistics.fmean(spreads),
        "cost_spreads_sd": statistics.stdev(spreads),
        "cost_spreads_p5": _percentile(spreads, 0.05),
        "cost_spreads_p95": _percentile(spreads, 0.95),
        "completion": statistics.fmean(t.completion for t in trials),
        "passive_fills": len(marks),
        "passive_markout_bps": statistics.fmean(marks) if marks else None,
        "requests_per_order": statistics.fmean(t.requests for t in trials),
        "cancels_per_order": statistics.fmean(t.cancels for t in trials),
        "fills_per_cancel": (sum(t.fills for t in trials) / sum(t.cancels for t in trials)
                             if sum(t.cancels for t in trials) else None),
        "median_seconds": statistics.median(t.seconds for t in trials),
    }
    if baseline is not None:  # paired with the same scenarios: the difference is precise
        diffs = [t.cost_spreads - b.cost_spreads for t, b in zip(trials, baseline, strict=True)]
        out["vs_market_spreads"] = statistics.fmean(diffs)
        out["vs_market_se"] = statistics.stdev(diffs) / math.sqrt(n) if n > 1 else 0.0
    return out


BASELINE = "market E/Q 0.5"


def benchmark(per_class: int, workers: int = 2) -> dict[str, dict[str, dict[str, Any]]]:
    jobs = []
    for liquidity in LiquidityClass:
        batch = scenarios(liquidity, per_class)
        for i, strategy in enumerate(STRATEGIES):
            jobs.append((liquidity, i, strategy, batch))
    results: dict[tuple[LiquidityClass, int], list[Trial]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for liquidity, i, trials in pool.map(run_batch, jobs):
            results[liquidity, i] = trials
    names = [s.name for s in STRATEGIES]
    base = names.index(BASELINE)
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for liquidity in LiquidityClass:
        table[liquidity.value] = {
            s.name: summarize(results[liquidity, i], results[liquidity, base])
            for i, s in enumerate(STRATEGIES)}
    return table


def render(table: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    lines = []
    head = (f"{'profile':<19} {'bps mean':>8} {'sd':>6} {'p5':>7} {'p95':>7} {'spreads':>7} "
            f"{'sd':>5} {'p5':>6} {'p95':>6} {'vs mkt.5':>13} {'done':>6} {'markout':>7} "
            f"{'req':>5} {'cxl':>4} {'secs':>5}")
    for liquidity, rows in table.items():
        n = next(iter(rows.values()))["n"]
        lines.append(f"{liquidity} ({n} orders each; cost vs arrival mid, + = paid)")
        lines.append(head)
        for name, r in rows.items():
            mark = "-" if r["passive_markout_bps"] is None else f"{r['passive_markout_bps']:.2f}"
            vs = f"{r['vs_market_spreads']:+.3f}±{r['vs_market_se']:.3f}"
            lines.append(
                f"{name:<19} {r['cost_bps_mean']:8.2f} {r['cost_bps_sd']:6.2f} "
                f"{r['cost_bps_p5']:7.2f} {r['cost_bps_p95']:7.2f} {r['cost_spreads_mean']:7.3f} "
                f"{r['cost_spreads_sd']:5.2f} {r['cost_spreads_p5']:6.2f} "
                f"{r['cost_spreads_p95']:6.2f} {vs:>13} {r['completion']:6.1%} {mark:>7} "
                f"{r['requests_per_order']:5.1f} {r['cancels_per_order']:4.1f} "
                f"{r['median_seconds']:5.0f}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    quick = "--quick" in sys.argv
    per_class = 40 if quick else 500
    t = time.perf_counter()
    table = benchmark(per_class)
    print(render(table))
    print(f"cost benchmark: {per_class} orders per class and profile in "
          f"{time.perf_counter() - t:.0f}s")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / ("cost-quick.json" if quick else "cost.json")).write_text(
        json.dumps(table, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()


__all__ = ["STRATEGIES", "asyncio", "benchmark", "render", "replace"]
