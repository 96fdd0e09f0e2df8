"""Real processes against one emulated Alpaca account: two machines, signals, kill -9.

Each alch below is its own process (as under cron or systemd) with its own data
directory standing for its own machine; the emulator is the broker they share.
Every scenario ends with the same questions an operator would ask: is every
client_order_id unique, is nothing left open, and did the account end where the
plan (or the order) said — never beyond it? ``ALCH_LONG_TESTS=1`` runs every
scenario; by default a sample covering each signal and each command.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser_cli.brokers.sim.server import EmulatorThread
from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.order_ids import parse_client_order_id
from tests.e2e.emulator import assert_no_duplicates_and_nothing_open, faults

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")
LONG = os.environ.get("ALCH_LONG_TESTS") == "1"
OPEN = {"new", "accepted", "pending_new", "partially_filled", "pending_cancel"}

#: Walks slow enough to catch mid-step (limit orders rest), quick enough for a test.
PACE = {
    "ALCH_PROFILES__MEDIUM__PROFILE": "seed",  # a limit order rests at every step
    "ALCH_EXECUTION__MARKOUT_SECONDS": "0.2",
    "ALCH_PROFILES__MEDIUM__STEP_WAIT_SECONDS": "0.8",
    "ALCH_PROFILES__MEDIUM__MARKET_WAIT_SECONDS": "3",
    "ALCH_PROFILES__LOW__STEP_WAIT_SECONDS": "0.8",
    "ALCH_QUOTES__STREAM_TIMEOUT_SECONDS": "1",
    "ALCH_EXECUTION__POLL_INTERVAL_SECONDS": "0.1",
    "ALCH_EXECUTION__VALIDATION_TIMEOUT_SECONDS": "5",
    "ALCH_EXECUTION__CANCEL_CONFIRM_SECONDS": "5",
    "ALCH_EXECUTION__HTTP_TIMEOUT_SECONDS": "5",
}


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(key="PKMACHINES", secret="machines-secret", tick_seconds=0.05) as e:
        yield e
        assert_no_duplicates_and_nothing_open(e)


def env_for(emu: EmulatorThread, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALCH_", "APCA_"))}
    env.update({
        "ALCH_DATA_DIR": str(data), "NO_COLOR": "1", "COLUMNS": "120",
        "APCA_API_KEY_ID": "PKMACHINES", "APCA_API_SECRET_KEY": "machines-secret",
        "ALCH_TRADING_URL": emu.base_url, "ALCH_DATA_URL": emu.base_url,
        "ALCH_DATA_STREAM_URL": f"{emu.ws_url}/v2/iex",
        "ALCH_TRADING_STREAM_URL": f"{emu.ws_url}/stream", **PACE, **extra,
    })
    return env


#: A test runner started in the background ignores SIGINT, and children inherit that; alch
#: is started the way a terminal or a service manager would start it, with the defaults.
LAUNCH = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "signal.signal(signal.SIGTERM, signal.SIG_DFL); signal.signal(signal.SIGHUP, "
          "signal.SIG_DFL); from alchemiser_cli.cli.app import main; main(sys.argv[1:])")


def spawn(emu: EmulatorThread, data: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_for(emu, data, **extra))


def run(emu: EmulatorThread, data: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    proc = spawn(emu, data, *args, **extra)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def orders(emu: EmulatorThread) -> list[tuple[str, str]]:
    """(client_order_id, status) of every order the account ever had, oldest first."""
    return emu.call(lambda e: [(o.client_order_id, o.status) for o in e.sim.state.orders.values()])


def positions(emu: EmulatorThread) -> dict[str, Decimal]:
    return emu.call(lambda e: {s: Decimal(p.qty) for s, p in e.sim.state.positions.items()})


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def resting(emu: EmulatorThread, nth: int) -> Callable[[], bool]:
    """The account has had at least ``nth`` orders and the newest one is resting."""
    def check() -> bool:
        seen = orders(emu)
        return len(seen) >= nth and seen[-1][1] in OPEN
    return check


def converged(emu: EmulatorThread, data: Path) -> None:
    """A dry run from ``data`` finds nothing left to trade: the account is on the plan."""
    check = run(emu, data, "rebalance", PLAN, "--paper", "--dry-run", "--json")
    assert check.returncode == 0, check.stderr
    plan = next(json.loads(line) for line in check.stdout.splitlines()
                if json.loads(line)["event"] == "plan")
    assert {t["action"] for t in plan["trades"]} == {"hold"}, plan["trades"]


def runs_in(emu: EmulatorThread) -> set[str]:
    return {tag.run_id for cid, _ in orders(emu) if (tag := parse_client_order_id(cid))}


# -- two machines, one account -----------------------------------------------------------------

def test_a_second_machine_refuses_while_the_first_rebalances_and_never_touches_its_orders(
        emu, tmp_path):
    faults(emu, "limit_fills=false")  # every order walks to market: the first run is slow
    first = spawn(emu, tmp_path / "machine-a", "rebalance", PLAN, "--paper")
    wait_for(resting(emu, 1), "machine A's first order")
    second = run(emu, tmp_path / "machine-b", "rebalance", PLAN, "--paper")
    assert second.returncode == ExitCode.OTHER_RUN, second.stderr
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "of another alch run" in last and "nothing placed" in last
    a = finish(first)
    assert a.returncode == ExitCode.OK, a.stdout + a.stderr  # undisturbed, check passed
    assert len(runs_in(emu)) == 1  # only machine A ever placed an order
    assert all(status in {"filled", "canceled"} for _, status in orders(emu))
    converged(emu, tmp_path / "machine-b")  # both machines now see the plan reached
    assert "TSLA" not in positions(emu)


def test_orphans_of_a_dead_machine_are_cleared_only_on_request(emu, tmp_path):
    faults(emu, "limit_fills=false")
    first = spawn(emu, tmp_path / "machine-a", "rebalance", PLAN, "--paper")
    wait_for(resting(emu, 2), "machine A's second order")
    first.kill()  # the machine dies: its resting order stays at the broker
    first.communicate(timeout=30)
    left = [cid for cid, status in orders(emu) if status in OPEN]
    assert left
    refused = run(emu, tmp_path / "machine-b", "rebalance", PLAN, "--paper")
    assert refused.returncode == ExitCode.OTHER_RUN
    statuses = dict(orders(emu))
    assert not [cid for cid in left if statuses[cid] == "canceled"]  # left alone (some may fill)
    cleared = run(emu, tmp_path / "machine-b", "rebalance", PLAN, "--paper", "--cancel-orphans",
                  ALCH_EXECUTION__ORPHAN_MIN_AGE_SECONDS="0")
    assert cleared.returncode == ExitCode.OK, cleared.stdout + cleared.stderr
    cancelled = re.search(r"cancelling (\d+) open order\(s\) left by an earlier alch run",
                          cleared.stderr)
    assert cancelled is not None, cleared.stderr  # (a market order of A's may fill meanwhile)
    assert 1 <= int(cancelled.group(1)) <= len(left)
    converged(emu, tmp_path / "machine-a")
    converged(emu, tmp_path / "machine-b")


# -- signals and kill -9, then a rerun ---------------------------------------------------------

SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP, "SIGINT": signal.SIGINT,
           "kill -9": signal.SIGKILL}
SCENARIOS = [  # (how, command, stop once this many orders exist and the newest rests)
    ("SIGTERM", "place", 1), ("SIGHUP", "rebalance", 4), ("SIGINT", "rebalance", 2),
    ("kill -9", "place", 2), ("kill -9", "rebalance", 5),
]
if LONG:
    SCENARIOS = [(how, command, nth) for how in SIGNALS for command in ("place", "rebalance")
                 for nth in ((1, 2, 3) if command == "place" else (1, 3, 5, 7))]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "command", "nth"), SCENARIOS)
def test_a_stopped_run_leaves_nothing_working_and_a_rerun_converges(emu, tmp_path, how, command,
                                                                    nth):
    data = tmp_path / "data"
    args = (("place", "MSFT", "buy", "5", "--paper") if command == "place"
            else ("rebalance", PLAN, "--paper"))
    before = positions(emu)
    faults(emu, "limit_fills=false")  # limits rest until the signal; nothing fills before it
    proc = spawn(emu, data, *args)
    wait_for(resting(emu, nth), f"order {nth} resting")
    sig = SIGNALS[how]
    proc.send_signal(sig)
    stopped = finish(proc)
    if sig is signal.SIGKILL:
        assert stopped.returncode == -signal.SIGKILL
        assert any(status in OPEN for _, status in orders(emu))  # the dead run's order rests
    else:
        assert stopped.returncode == 128 + sig, stopped.stderr
        last = stopped.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: interrupted by {how}; "), last
        assert last.endswith("none is open now"), last
        assert not any(status in OPEN for _, status in orders(emu))  # cancelled and confirmed
    rerun = run(emu, data, *args)  # limits still never fill: its walk ends at market
    assert rerun.returncode == ExitCode.OK, rerun.stdout + rerun.stderr
    if sig is signal.SIGKILL:
        assert "left by an earlier alch run" in rerun.stderr  # settled before sending anything
    if command == "place":
        # the stopped run filled nothing (its limits never filled): exactly one order's worth
        assert positions(emu)["MSFT"] == before["MSFT"] + 5
    else:
        converged(emu, data)
