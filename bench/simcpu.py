"""CPU of a ``--sim`` rebalance per order, from 10 to 1,000 orders: the real command in a
subprocess (persistence, journal and all), timed by the OS. Usage:
``python bench/simcpu.py [--quick] [--profile]``; ``--profile`` also prints where the
1,000-order run spends its time."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alchemiser_cli.brokers.sim.market import generated_symbol


def write_plan(path: Path, orders: int) -> None:
    lines = ["[plan]", "name = 'cpu'", "drift_threshold = 0", "min_order_notional = 1",
             "cash_buffer = 0", "[targets]"]
    lines += [f"{generated_symbol(i + 1)} = {0.9 / orders:.8f}" for i in range(orders)]
    path.write_text("\n".join(lines) + "\n")


def rebalance(orders: int, profile: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "ALCH_DATA_DIR": str(data), "NO_COLOR": "1",
               "ALCH_EXECUTION__MAX_CONCURRENT_ORDERS": "256"}
        plan = Path(tmp) / "plan.toml"
        write_plan(plan, orders)
        alch = [sys.executable, "-m", "alchemiser_cli"]
        subprocess.run([*alch, "sim", "reset", "--empty", "--cash", str(2000 * orders)],
                       env=env, check=True, capture_output=True)
        command = [*alch, "rebalance", str(plan), "--sim", "--yes"]
        if profile:
            out = Path(tmp) / "profile.out"
            command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "alchemiser_cli",
                       "rebalance", str(plan), "--sim", "--yes"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"rebalance of {orders} failed ({done.returncode}): "
                             f"{done.stderr[-500:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        state = json.loads((data / "sim" / "state.json").read_text())
        if profile:
            import pstats

            stats = pstats.Stats(str(out))
            stats.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(25)
        return {"orders": orders, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "cpu_ms_per_order": round(cpu / orders * 1000, 2),
                "sim_orders": len(state["orders"]), "broker_calls": state["calls"]}


def benchmark(sizes: tuple[int, ...]) -> list[dict[str, float]]:
    """Each size once; CPU per order net of a one-order run (process start, imports)."""
    base = rebalance(1)
    rows = []
    for n in sizes:
        row = rebalance(n)
        row["net_cpu_ms_per_order"] = round((row["cpu_s"] - base["cpu_s"]) / (n - 1) * 1000, 2)
        rows.append(row)
        print(f"sim cpu  n={n:<5} wall {row['wall_s']:6.2f}s  cpu {row['cpu_s']:6.2f}s  "
              f"net {row['net_cpu_ms_per_order']:6.2f} ms/order  ({row['sim_orders']} orders, "
              f"{row['broker_calls']} broker calls; one order: cpu {base['cpu_s']:.2f}s)")
    return rows


def main() -> None:
    if "--profile" in sys.argv:
        rebalance(1000, profile=True)
        return
    benchmark((10, 100) if "--quick" in sys.argv else (10, 100, 1000))


if __name__ == "__main__":
    main()
