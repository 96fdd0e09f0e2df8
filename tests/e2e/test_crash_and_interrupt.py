"""Kill -9 at many points of a simulator rebalance, then rerun: it converges.

The simulator's ``crash_after_calls`` fault SIGKILLs the alch process right
after its N-th broker call has taken effect (so the response is lost), which
covers: before any order, between a submission and its journal update,
mid-walk with a resting order, between phases, during the check.
Set ALCH_LONG_TESTS=1 for every kill point instead of a sample.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser_cli.brokers.sim.persistence import load_state, save_state

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")


def alch(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # the seed walk rests a limit order at every step: the most states to be killed in
    env = {**os.environ, "ALCH_DATA_DIR": str(data), "NO_COLOR": "1",
           "ALCH_PROFILES__MEDIUM__PROFILE": "seed"}
    return subprocess.run([sys.executable, "-m", "alchemiser_cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)


def state(data: Path) -> dict:
    """The simulator's state as it stands: its snapshot plus the change log since (which a
    running or killed process appends to after every broker call)."""
    return load_state(data / "sim" / "state.json", seed=7).to_dict()


def set_fault(data: Path, **faults: object) -> None:
    s = load_state(data / "sim" / "state.json", seed=7)
    for name, value in faults.items():
        setattr(s.faults, name, value)
    save_state(data / "sim" / "state.json", s)


def total_calls(tmp_path: Path) -> int:
    data = tmp_path / "probe"
    assert alch(data, "sim", "reset").returncode == 0
    assert alch(data, "rebalance", PLAN, "--sim").returncode == 0
    return int(state(data)["calls"])


def kill_points(calls: int) -> list[int]:
    if os.environ.get("ALCH_LONG_TESTS") == "1":
        return list(range(1, calls + 1))
    return sorted({p for p in (1, 2, 3, 5, 8, 12, 17, 23, 30, calls // 2, calls - 5, calls - 1)
                   if 0 < p < calls})


@pytest.mark.slow
def test_kill_at_many_points_then_rerun_converges_without_duplicates(tmp_path):
    calls = total_calls(tmp_path)
    assert calls > 10
    for point in kill_points(calls):
        data = tmp_path / f"kill{point}"
        assert alch(data, "sim", "reset").returncode == 0
        before = {k: Decimal(v["qty"]) for k, v in state(data)["positions"].items()}
        set_fault(data, crash_after_calls=point)
        crashed = alch(data, "rebalance", PLAN, "--sim")
        assert crashed.returncode == -signal.SIGKILL, (point, crashed.stderr)
        rerun = alch(data, "rebalance", PLAN, "--sim")
        assert rerun.returncode == 0, (point, rerun.stdout, rerun.stderr)
        final = state(data)
        # no open orders remain, and no client_order_id was ever used twice
        assert all(o["status"] in {"filled", "canceled", "rejected"} for o in final["orders"].values())
        ids = [o["client_order_id"] for o in final["orders"].values()]
        assert len(ids) == len(set(ids))
        # converged: a dry run finds nothing left to trade
        check = alch(data, "rebalance", PLAN, "--sim", "--dry-run", "--json")
        plan = next(json.loads(line) for line in check.stdout.splitlines()
                    if json.loads(line)["event"] == "plan")
        assert {t["action"] for t in plan["trades"]} == {"hold"}, (point, plan["trades"])
        # no excess: every position moved only toward its target, never past it
        after = {k: Decimal(v["qty"]) for k, v in final["positions"].items()}
        for t in plan["trades"]:
            sym, target = t["symbol"], Decimal(t["target_qty"])
            lo, hi = sorted((before.get(sym, Decimal(0)), target))
            slack = max(target * Decimal("0.01"), Decimal("0.01"))
            assert lo - slack <= after.get(sym, Decimal(0)) <= hi + slack, (point, sym)
        assert "TSLA" not in after
        # the journal survived both runs: the crashed run is marked interrupted
        db = sqlite3.connect(data / "journal.sqlite3")
        statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY seq")]
        assert statuses[:2] == ["interrupted", "ok"], (point, statuses)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


#: ``python -m alchemiser_cli`` with Ctrl-C handled as in a terminal. A pytest started with
#: SIGINT ignored (a background job, nohup) passes the ignored disposition on through exec,
#: and Python then never installs its KeyboardInterrupt handler: the child would not see
#: Ctrl-C. (Not preexec_fn: it is unsafe while the test process runs threads.)
WITH_CTRL_C = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "runpy.run_module('alchemiser_cli', run_name='__main__', alter_sys=True)")


@pytest.mark.slow
def test_ctrl_c_cancels_open_orders_and_exits_130(tmp_path):
    data = tmp_path / "data"
    assert alch(data, "sim", "reset").returncode == 0
    set_fault(data, limit_fills=False)
    env = {**os.environ, "ALCH_DATA_DIR": str(data), "ALCH_SIM__REALTIME": "true",
           "ALCH_PROFILES__MEDIUM__PROFILE": "seed"}
    proc = subprocess.Popen([sys.executable, "-c", WITH_CTRL_C, "rebalance", PLAN, "--sim"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.2)
            orders = state(data)["orders"].values()
            if any(o["status"] == "new" for o in orders):
                break
        else:
            pytest.fail("no order was placed")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # never leave a rebalance running with open orders
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    last = err.strip().splitlines()[-1]
    working = re.match(r"error: interrupted by SIGINT; (\d+) order\(s\) of this run were working: ",
                       last)
    assert working is not None, last
    assert last.endswith("; none is open now")
    # the sells and the buys the cash already covered: every one cancelled, nothing filled
    assert last.count(" canceled (filled 0 of ") == int(working.group(1)) >= 2
    orders = list(state(data)["orders"].values())
    assert all(o["status"] in {"canceled", "filled"} for o in orders), orders
    ids = [o["client_order_id"] for o in orders]
    assert len(ids) == len(set(ids))  # each client_order_id sent once
    db = sqlite3.connect(data / "journal.sqlite3")
    assert db.execute("SELECT status, exit_code FROM runs").fetchall() == [("interrupted", 130)]
