"""Run every benchmark and print (and save) the figures. Usage: python bench/run.py [--quick]

The request and makespan figures walk the seed profile (three limit steps, then market,
whatever the spread), so that they measure the request machinery, not the profile."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import cost
import request_counts
import simcpu

QUICK = "--quick" in sys.argv
RESULTS = Path(__file__).parent / "results"


def requests_and_makespan() -> dict:
    """Requests counted at the server against the stream minimum; makespan against the
    physical lower bound, rate-bound and unbound (bench/request_counts.py)."""
    return request_counts.benchmark(QUICK)


def startup() -> dict:
    """`alch --help` wall time against a bare `python -c "import typer, rich"`."""
    runs = 5 if QUICK else 15
    alch = [sys.executable, "-m", "alchemiser_cli", "--help"]
    bare = [sys.executable, "-c", "import typer, rich"]

    def median(cmd: list[str]) -> float:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    median(alch)  # warm the bytecode cache
    a, b = median(alch), median(bare)
    probe = subprocess.run([sys.executable, "-c", (
        "import sys; from alchemiser_cli.cli.app import run; run(['--help']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alpaca', 'pandas', 'pydantic_settings'}))")],
        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    print(f"startup alch --help {a * 1000:.0f} ms, bare typer+rich {b * 1000:.0f} ms, "
          f"ratio {a / b:.2f}; heavy modules imported: {probe}")
    return {"alch_help_ms": round(a * 1000, 1), "typer_rich_ms": round(b * 1000, 1),
            "ratio": round(a / b, 3), "heavy_imported": probe}


def execution_cost() -> dict:
    """Every walk profile on every liquidity class (bench/cost.py)."""
    table = cost.benchmark(40 if QUICK else 500)
    print(cost.render(table))
    return table


def sim_cpu() -> list:
    """CPU per order of a --sim rebalance, 10 to 1,000 orders (bench/simcpu.py)."""
    return simcpu.benchmark((10, 100) if QUICK else (10, 100, 1000))


def planning() -> dict:
    """Parse and size a 5,000-symbol plan."""
    from alchemiser_cli.brokers.sim.market import generated_symbol, spec_for_generated
    from alchemiser_cli.domain.plan import parse_plan
    from alchemiser_cli.domain.sizing import MarketView, plan_trades

    symbols = [generated_symbol(i + 1) for i in range(5000)]
    text = ("[plan]\nname = 'big'\ndrift_threshold = 0\nmin_order_notional = 1\n[targets]\n"
            + "".join(f"{s} = 0.0002\n" for s in symbols))
    t = time.perf_counter()
    plan = parse_plan(text, "big.toml")
    parsed = time.perf_counter() - t
    market = {}
    for s in symbols:
        spec = spec_for_generated(s)
        assert spec is not None
        market[s] = MarketView(spec.price, spec.price - Decimal("0.01"),
                               spec.price + Decimal("0.01"), True)
    positions = {s: Decimal(i % 7) for i, s in enumerate(symbols)}
    t = time.perf_counter()
    trades = plan_trades(plan, Decimal(10_000_000), positions, market)
    sized = time.perf_counter() - t
    print(f"planning 5000 symbols: parse {parsed * 1000:.0f} ms, size {sized * 1000:.0f} ms, "
          f"{sum(t.action.value != 'hold' for t in trades)} trades")
    return {"parse_ms": round(parsed * 1000, 1), "size_ms": round(sized * 1000, 1)}


def main() -> None:
    t = time.perf_counter()
    figures = {"requests": requests_and_makespan(), "startup": startup(),
               "execution_cost": execution_cost(), "sim_cpu": sim_cpu(), "planning": planning()}
    RESULTS.mkdir(exist_ok=True)
    name = "quick.json" if QUICK else "latest.json"
    (RESULTS / name).write_text(json.dumps(figures, indent=1, sort_keys=True, default=str))
    print(f"done in {time.perf_counter() - t:.0f}s; figures in {RESULTS / name}")


if __name__ == "__main__":
    main()
