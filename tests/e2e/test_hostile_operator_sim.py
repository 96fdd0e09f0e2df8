"""Ways an operator could lose money, each closed off, on the simulator (in process).

Open orders left by other runs, a journal that fails mid-walk, a rebalance short of
cash, foreign orders on holdings a plan sells, malformed credentials.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.events import OrderAccepted
from alchemiser_cli.domain.money import normalize
from alchemiser_cli.journal.store import Journal, JournalError
from tests.cli.helpers import alch
from tests.e2e.sim_account import (
    add_open_order,
    crashed_run,
    installation,
    open_orders,
    positions,
    state,
    state_path,
)

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")



# -- open orders of other runs -----------------------------------------------------------------

def test_a_dead_runs_leftover_is_cancelled_and_reported_before_place_sends_anything(capsys, account):
    # run 001 of this installation died (kill -9) with a half-filled buy of MSFT resting

    dead = crashed_run(account, host=socket.gethostname())
    assert dead == f"alch-261124145000{installation(account)}001-MSFT-1"
    add_open_order(account, dead, "MSFT", "buy", "5", "300.00", filled="2")
    before = positions(account)["MSFT"]
    result = alch(capsys, "place", "MSFT", "buy", "5", "--sim", raw=True)
    assert result.code == ExitCode.OK, result.err
    assert ("warning: cancelling 1 open order(s) left by an earlier alch run "
            "(261124145000" in result.err)
    assert f"warning: leftover order {dead} had filled 2 of 5 MSFT (buy) before it was canceled" \
        in result.err
    lines = result.out.splitlines()
    assert lines.index(next(line for line in lines if line.startswith("submit MSFT step 1"))) > 0
    orders = {o["client_order_id"]: o for o in state(account)["orders"].values()}
    assert orders[dead]["status"] == "canceled"
    # the leftover's 2 filled shares stay; the new order buys exactly its own 5 on top
    assert positions(account)["MSFT"] == before + 5
    assert open_orders(account) == []


def test_another_installations_orders_refuse_the_run_and_are_left_alone(capsys, account):
    other = "alch-261124145900zzz001-SPY-1"  # another machine's run, maybe still walking
    add_open_order(account, other, "SPY", "buy", "3", "500.00", age_minutes=1)
    for args in (("place", "MSFT", "buy", "1", "--sim"), ("rebalance", PLAN, "--sim")):
        result = alch(capsys, *args, raw=True)
        assert result.code == ExitCode.OTHER_RUN, result.err
        assert result.err == (
            "error: 1 open order(s) of another alch run (261124145900zzz001: another machine, "
            "data directory or a run still in progress) on SPY; nothing placed (if that run is "
            "dead, rerun with --cancel-orphans to cancel alch orders older than 900s)\n")
    assert [o["client_order_id"] for o in open_orders(account)] == [other]
    assert len(state(account)["orders"]) == 1  # nothing else was ever sent


def test_cancel_orphans_clears_only_orders_older_than_the_threshold(capsys, account):
    young = "alch-261124145900zzz001-SPY-1"
    add_open_order(account, young, "SPY", "buy", "3", "500.00", age_minutes=5)
    result = alch(capsys, "place", "MSFT", "buy", "1", "--sim", "--cancel-orphans")
    assert result.code == ExitCode.OTHER_RUN
    assert "only orders older than 900s are cancelled by --cancel-orphans" in result.err
    assert [o["client_order_id"] for o in open_orders(account)] == [young]

    old = "alch-261124120000qqq004-BND-2"
    s = state(account)
    s["orders"] = {}
    state_path(account).write_text(json.dumps(s))
    add_open_order(account, old, "BND", "buy", "10", "60.00", age_minutes=40)
    result = alch(capsys, "place", "MSFT", "buy", "1", "--sim", "--cancel-orphans")
    assert result.code == ExitCode.OK, result.err
    assert {o["client_order_id"]: o["status"] for o in state(account)["orders"].values()}[old] \
        == "canceled"


def test_foreign_orders_on_an_unlisted_holding_refuse_a_sell_unlisted_plan(capsys, account):
    (account / "p.toml").write_text("[plan]\nsell_unlisted = true\n[targets]\nSPY = 0.3\n"
                                    "AAPL = 0.2\n")
    add_open_order(account, "manual-tsla", "TSLA", "sell", "1", "900.00")  # a manual sell
    result = alch(capsys, "rebalance", "p.toml", "--sim")
    assert result.code == ExitCode.REFUSED
    assert result.err.startswith("error: open orders not placed by alch on TSLA:")
    assert len(state(account)["orders"]) == 1  # nothing placed, not even the listed symbols


# -- the plan cannot be reached ----------------------------------------------------------------

#: TSLA is held but not in the plan (and not sold): its value counts in equity, so the plan's
#: buys need more cash than the account has.
TIED_UP = "[targets]\nSPY = 0.4\nAAPL = 0.25\nMSFT = 0.2\nBND = 0.12\n"


def test_a_rebalance_short_of_cash_says_so_and_does_not_report_success(capsys, account):
    alch(capsys, "sim", "reset", "--cash", "0")
    alch(capsys, "sim", "fault", "partial_probability=0")
    (account / "p.toml").write_text(TIED_UP)
    result = alch(capsys, "rebalance", "p.toml", "--sim", "--json")
    assert result.code == ExitCode.SHORT_OF_PLAN, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 10
    assert summary["ok"] is False and summary["reached_plan"] is False
    short = summary["short_of_plan"]
    assert short and summary["failed"] == 0 and summary["check_passed"] is True
    check = next(e for e in events if e["event"] == "portfolio_check")
    rows = {r["symbol"]: r for r in check["rows"]}
    for symbol in short:
        row = rows[symbol]
        assert row["short"] is True and row["passed"] is True
        assert Decimal(row["achieved_weight"]) < Decimal(row["target_weight"]), row
        assert Decimal(row["actual_qty"]) < Decimal(row["target_qty"]), row
    plan = next(e for e in events if e["event"] == "plan")
    planned = {t["symbol"]: Decimal(t["qty"]) for t in plan["trades"] if t["action"] == "buy"}
    notices = [e["message"] for e in events if e["event"] == "notice"]
    for symbol in short:
        shown = normalize(planned[symbol])
        assert any(m.startswith(f"{symbol}: buy scaled from {shown} to ")
                   or m.startswith(f"{symbol}: buy of {shown} shares dropped")
                   for m in notices), notices


def test_the_plain_view_of_a_short_rebalance(capsys, account):
    alch(capsys, "sim", "reset", "--cash", "0")
    (account / "p.toml").write_text(TIED_UP)
    result = alch(capsys, "rebalance", "p.toml", "--sim")
    assert result.code == ExitCode.SHORT_OF_PLAN, result.err
    assert "the plan will not be reached" in result.err
    assert result.out.splitlines()[-1].startswith("rebalance SHORT OF PLAN (")
    assert any(line.rstrip().endswith("SHORT   buy cut for lack of cash")
               for line in result.out.splitlines())


# -- the journal fails mid-walk ----------------------------------------------------------------

ORIGINAL_RECORD = Journal.__call__


def fail_journal_on(monkeypatch, *, accepted: int) -> None:
    """The journal's disk fills up when the N-th order has just been accepted."""
    original = Journal.__call__
    seen = {"n": 0}

    def failing(self: Journal, event) -> None:
        if isinstance(event, OrderAccepted):
            seen["n"] += 1
            if seen["n"] >= accepted:
                raise JournalError("journal write failed: database or disk is full")
        original(self, event)

    monkeypatch.setattr(Journal, "__call__", failing)


def test_a_journal_failure_mid_walk_cancels_the_live_order_and_exits_3(capsys, account,
                                                                       monkeypatch):
    alch(capsys, "sim", "fault", "limit_fills=false")
    fail_journal_on(monkeypatch, accepted=1)
    result = alch(capsys, "place", "AAPL", "buy", "10", "--sim")
    assert result.code == ExitCode.CONFIG
    assert result.err.splitlines()[-1] == (
        "error: journal write failed: database or disk is full; 1 order(s) of this run were "
        "working: alch-RUN-AAPL-1 canceled (filled 0 of 10 AAPL); none is open now")
    assert open_orders(account) == []


def test_a_journal_failure_in_the_buys_cancels_every_live_order(capsys, account, monkeypatch):
    alch(capsys, "sim", "fault", "limit_fills=false")
    fail_journal_on(monkeypatch, accepted=4)  # 2 sells walked, then the buys start
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.CONFIG, result.err
    last = result.err.splitlines()[-1]
    assert last.startswith("error: journal write failed: database or disk is full; ")
    assert last.endswith("none is open now")
    assert open_orders(account) == []
    db = sqlite3.connect(account / "data" / "journal.sqlite3", isolation_level=None)
    # the journal could not record the end: the next run that takes the lock marks it, once
    # its process is gone (here the process lives on: stand in a pid that has exited)
    assert db.execute("SELECT status FROM runs").fetchall() == [("running",)]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    db.execute("UPDATE runs SET pid=?", (int(gone),))
    alch(capsys, "sim", "fault", "--clear")
    monkeypatch.setattr(Journal, "__call__", ORIGINAL_RECORD)  # the disk has room again
    rerun = alch(capsys, "rebalance", PLAN, "--sim")
    assert rerun.code == ExitCode.OK, rerun.err
    assert [r[0] for r in db.execute("SELECT status FROM runs ORDER BY seq")] == \
        ["interrupted", "ok"]


# -- secrets -----------------------------------------------------------------------------------

def test_credentials_with_a_carriage_return_are_refused_and_never_shown(tmp_path):
    secret = "sekret-value-123"
    env = {**os.environ, "ALCH_DATA_DIR": str(tmp_path / "d"), "ALCH_DEBUG": "1",
           "APCA_API_KEY_ID": "PKTESTKEY0001", "APCA_API_SECRET_KEY": secret + "\r"}
    done = subprocess.run([sys.executable, "-m", "alchemiser_cli", "place", "AAPL", "buy", "1",
                           "--paper"], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert done.returncode == ExitCode.CONFIG
    assert done.stderr.splitlines()[-1] == (
        "error: invalid configuration: api_secret_key: Value error, APCA_API_SECRET_KEY contains "
        "a space, tab, carriage return, line feed or other control character (an env file saved "
        "with CRLF line endings?); the value is not shown")
    for leak in (secret, repr(secret + "\r"), "PKTESTKEY0001"):
        assert leak not in done.stdout + done.stderr
