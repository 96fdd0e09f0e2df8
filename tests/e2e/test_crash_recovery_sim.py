"""After a crash: containers whose every run has a new hostname, two machines that drew
the same installation tag, and orders of a killed run that ended while no run watched
(on the simulator, in process)."""

from __future__ import annotations

import contextlib
import json
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.journal.store import Journal
from tests.cli.helpers import alch
from tests.e2e.sim_account import (
    add_open_order,
    crashed_run,
    open_orders,
    positions,
    state,
    state_path,
)


def on_host(monkeypatch, name: str) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: name)


def test_a_named_installation_clears_a_dead_pods_leftover(capsys, account, monkeypatch):
    # a Kubernetes CronJob: pod-a was OOM-killed with a buy resting; pod-b runs next, on the
    # same data volume, with its own hostname (and, in a container, maybe the same pid)
    monkeypatch.setenv("ALCH_INSTALLATION", "rebalancer")
    dead = crashed_run(account, host="rebalancer")
    add_open_order(account, dead, "MSFT", "buy", "5", "300.00", filled="2")
    on_host(monkeypatch, "pod-b")
    result = alch(capsys, "place", "MSFT", "buy", "5", "--sim", raw=True)
    assert result.code == ExitCode.OK, result.err
    assert "warning: cancelling 1 open order(s) left by an earlier alch run" in result.err
    assert {o["client_order_id"]: o["status"] for o in state(account)["orders"].values()}[dead] \
        == "canceled"
    runs = {json.loads(line)["run_id"]: json.loads(line)["status"]
            for line in alch(capsys, "runs", "--json", raw=True).out.splitlines()
            if json.loads(line).get("event") == "run"}
    assert runs[dead[5:23]] == "interrupted"  # the lock proved it dead, whatever its pid


def test_without_a_named_installation_a_new_hostname_is_another_machine(capsys, account,
                                                                       monkeypatch):
    on_host(monkeypatch, "pod-a")
    dead = crashed_run(account, host="pod-a")
    add_open_order(account, dead, "MSFT", "buy", "5", "300.00")
    on_host(monkeypatch, "pod-b")  # nothing says pod-b is pod-a's successor: refuse
    result = alch(capsys, "place", "MSFT", "buy", "5", "--sim", raw=True)
    assert result.code == ExitCode.OTHER_RUN, result.err
    assert [o["client_order_id"] for o in open_orders(account)] == [dead]


def test_our_tag_on_a_run_this_journal_never_recorded_is_another_machines(capsys, account):
    # two machines drew the same three-character tag: the other's live order looks like
    # ours, but its run is not in our journal, so it is never cancelled as a leftover
    journal = Journal(account / "data" / "journal.sqlite3")
    try:
        tag = journal.installation_id()
    finally:
        journal.close()
    theirs = f"alch-261124145900{tag}001-SPY-1"
    add_open_order(account, theirs, "SPY", "buy", "3", "500.00", age_minutes=1)
    result = alch(capsys, "place", "MSFT", "buy", "1", "--sim", raw=True)
    assert result.code == ExitCode.OTHER_RUN, result.err
    assert f"of another alch run (261124145900{tag}001" in result.err
    assert [o["client_order_id"] for o in open_orders(account)] == [theirs]


def test_an_order_that_filled_after_its_run_died_is_reported_and_exported_once(capsys, account):
    dead = crashed_run(account, host=socket.gethostname())
    add_open_order(account, dead, "MSFT", "buy", "5", "300.00")
    s = state(account)  # ... and it filled while no run was watching
    [order] = [o for o in s["orders"].values() if o["client_order_id"] == dead]
    order.update(status="filled", filled_qty="5", filled_notional="1500.00",
                 filled_avg_price="300.00")
    s["positions"]["MSFT"]["qty"] = str(Decimal(s["positions"]["MSFT"]["qty"]) + 5)
    state_path(account).write_text(json.dumps(s))
    before = positions(account)["MSFT"]

    result = alch(capsys, "place", "AAPL", "buy", "1", "--sim", raw=True)
    assert result.code == ExitCode.OK, result.err
    assert (f"warning: order {dead} of interrupted run {dead[5:23]} filled 5 of 5 MSFT (buy) "
            "after its run stopped (now filled)\n") in result.err
    assert positions(account)["MSFT"] == before  # reported, never re-ordered
    fills = [json.loads(line) for line in alch(capsys, "fills", "--json", raw=True).out.splitlines()]
    dead_fills = [f for f in fills if f.get("client_order_id") == dead]
    assert len(dead_fills) == 1
    assert (dead_fills[0]["run_id"], dead_fills[0]["qty"], dead_fills[0]["price"]) == \
        (dead[5:23], "5", "300")
    again = alch(capsys, "place", "AAPL", "buy", "1", "--sim", raw=True)  # looked up once only
    assert again.code == ExitCode.OK and dead not in again.err


def test_a_dry_run_warns_about_another_runs_orders_instead_of_refusing(capsys, account):
    other = "alch-261124145900zzz001-SPY-1"
    add_open_order(account, other, "SPY", "buy", "3", "500.00", age_minutes=1)
    plan = str(Path(__file__).parents[2] / "config" / "example-plan.toml")
    result = alch(capsys, "rebalance", plan, "--sim", "--dry-run", raw=True)
    assert result.code == ExitCode.OK, result.err
    assert ("warning: a rebalance now would refuse: 1 open order(s) of another alch run "
            "(261124145900zzz001") in result.err
    assert [o["client_order_id"] for o in open_orders(account)] == [other]
    assert len(state(account)["orders"]) == 1


@pytest.mark.parametrize("args", [("place", "AAPL", "buy", "1", "--sim"),
                                  ("place", "AAPL", "buy", "1", "--sim", "--json"),
                                  ("rebalance", "{plan}", "--sim")])
def test_output_that_cannot_be_written_stops_a_trading_command_before_it_sends(
        capsys, account, args):
    import sys

    full = open("/dev/full", "w")  # noqa: SIM115 - stdout for the whole command
    plan = str(Path(__file__).parents[2] / "config" / "example-plan.toml")
    before = positions(account)
    real, sys.stdout = sys.stdout, full
    try:
        from alchemiser_cli.cli.app import run

        code = run([a.replace("{plan}", plan) for a in args])
    finally:
        sys.stdout = real
        with contextlib.suppress(OSError):  # what was left in its buffer cannot be written
            full.close()
    err = capsys.readouterr().err
    assert code == ExitCode.CONFIG, err
    assert "error: could not write the output: No space left on device" in err
    assert positions(account) == before
    assert state(account)["orders"] == {}
    runs = [json.loads(line) for line in alch(capsys, "runs", "--json", raw=True).out.splitlines()]
    [last] = [r for r in runs if r.get("event") == "run"][:1]
    assert (last["status"], last["exit_code"]) == ("error", 3)
