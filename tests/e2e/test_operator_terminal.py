"""What an operator sees on a real terminal (a pseudo-terminal, its screen rendered at
80 columns): the live confirmation, the countdown of a resting order, the final state of
every row after Ctrl-C, `quote --watch` redrawn in place, and tables that fit."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.json_contract import contract_lines
from tests.e2e.emulator import PLAN
from tests.e2e.terminal import Term

RUN_LINE = r"run [0-9]{12}[a-z0-9]{3}[0-9]{3} · elapsed [0-9]+s"
#: A resting order on the simulator in wall-clock time: limits that never fill, 4 s a step.
RESTING = {"ALCH_SIM__REALTIME": "true", "ALCH_PROFILES__MEDIUM__PROFILE": "seed",
           "ALCH_PROFILES__MEDIUM__STEP_WAIT_SECONDS": "4",
           "ALCH_EXECUTION__MARKOUT_SECONDS": "0"}


def sim(tmp_path: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "alchemiser_cli", "sim", *args], check=True,
                   cwd=tmp_path, capture_output=True)


def test_live_shows_the_plan_and_the_account_then_asks_for_the_last_four(emu, tmp_path):
    shutil.copy(PLAN, tmp_path / "plan.toml")
    term = Term("rebalance", "plan.toml", "--live", env={}, cwd=tmp_path)
    term.wait_for(r"^This trades real money\. Type the last 4 characters of PA0SIMULATOR to "
                  r"go on:$")
    screen = term.text()
    assert "Plan core-satellite (dry run: nothing placed)" in screen
    assert re.search(r"^TSLA +close +8\.5 +338\.[0-9]{2} +[0-9.]+ +[0-9.]+% +0\.00% +full exit$",
                     screen, re.M), screen
    assert f"LIVE account PA0SIMULATOR (ACTIVE) at {emu.base_url}" in screen
    assert re.search(r"^rebalance to plan\.toml: 7 order\(s\), turnover [0-9]+\.[0-9]{2}, est\. "
                     r"cost [0-9]+\.[0-9]{2}$", screen, re.M), screen
    assert not emu.state.orders  # nothing is sent while the operator reads
    term.send("ATOR\r")
    assert term.finish() == ExitCode.OK, term.text()
    assert re.search(r"^rebalance ok: 7 order\(s\), 7 filled, 0 failed", term.text(), re.M)
    assert len(emu.state.orders) >= 7


def test_live_refuses_without_the_right_answer_and_without_a_terminal(emu, tmp_path):
    term = Term("place", "AAPL", "buy", "1", "--live", env={}, cwd=tmp_path)
    term.wait_for(r"^LIVE account PA0SIMULATOR \(ACTIVE\) at http")
    term.wait_for(r"^BUY 1 AAPL \(medium urgency\): bid 228\.[0-9]{2}, ask 228\.[0-9]{2}, "
                  r"about 228\.[0-9]{2}$")
    term.wait_for(r"Type the last 4 characters of PA0SIMULATOR to go on:$")
    term.send("y\r")
    assert term.finish() == ExitCode.NOT_CONFIRMED
    assert "error: live trading not confirmed; nothing placed" in term.text()
    piped = subprocess.run([sys.executable, "-m", "alchemiser_cli", "place", "AAPL", "buy", "1",
                            "--live", "--json"], input="ATOR\n", capture_output=True, text=True,
                           cwd=tmp_path, timeout=60, check=False)
    assert piped.returncode == ExitCode.NOT_CONFIRMED
    assert piped.stderr == "error: --live without a terminal needs --yes; nothing placed\n"
    contract_lines(piped.stdout, ExitCode.NOT_CONFIRMED)
    assert not emu.state.orders


def test_a_resting_order_counts_down_to_its_next_step_and_place_ends_with_done(tmp_path):
    sim(tmp_path, "fault", "limit_fills=false")
    term = Term("place", "AAPL", "buy", "10", "--sim", env=RESTING, cwd=tmp_path)
    term.wait_for(RUN_LINE)
    resting = r"^AAPL +buy +10 +0 +([12]) +228\.5[0-9] +- +(new|accepted), next ([0-4])s$"
    first = term.wait_for(resting, timeout=30)
    assert first.group(1) == "1"
    deadline = time.monotonic() + 30  # the board redraws while nothing happens
    while (now := term.wait_for(resting)).group(1, 3) == first.group(1, 3):
        assert time.monotonic() < deadline, term.text()
        term.pump(0.2)
    assert now.group(1) == "2" or int(now.group(3)) < int(first.group(3)), (first, now)
    assert term.finish(timeout=90) == ExitCode.OK, term.text()
    screen = term.text()
    assert re.search(r"^AAPL +buy +10 +10 +mkt +- +228\.[0-9]{2} +filled +pass$", screen, re.M)
    assert re.search(r"^done AAPL buy filled: 10/10 avg 228\.[0-9]{2}, slippage -?[0-9.]+ bps, "
                     r"[0-9]+s$", screen, re.M), screen
    assert re.search(r"^run [0-9]{12}[a-z0-9]{3}[0-9]{3} · elapsed [0-9]+s · 1/1 orders done$",
                     screen, re.M), screen


def test_ctrl_c_shows_how_every_order_ended(tmp_path):
    sim(tmp_path, "fault", "limit_fills=false")
    term = Term("place", "AAPL", "buy", "10", "--sim", env=RESTING, cwd=tmp_path)
    term.wait_for(r"^AAPL +buy +10 +0 +1 +228\.50 +- +\w+, next", timeout=30)
    term.interrupt()
    assert term.finish() == ExitCode.INTERRUPTED
    screen = term.text()
    assert re.search(r"^AAPL +buy +10 +0 +1 +228\.50 +- +canceled$", screen, re.M), screen
    assert "error: interrupted by SIGINT" in screen


def test_tables_fit_80_columns_without_cutting_a_number(tmp_path):
    shutil.copy(PLAN, tmp_path / "plan.toml")
    sim(tmp_path, "fault", "reject_symbols=GLD")
    term = Term("rebalance", "plan.toml", "--sim", env={}, cwd=tmp_path, lines=200)
    assert term.finish() == ExitCode.FAILED
    screen = term.text()
    assert "…" not in screen
    assert max(len(line) for line in screen.splitlines()) <= 80
    for line in (  # the plan, the board and the check table, every figure whole
        "Symbol  Action      Qty   Price  Notional     Now  Target  Note",
        "AAPL    sell    20.5852  228.50   4703.83  22.38%  15.00%",
        "TSLA    close       8.5  338.78   2879.59   4.70%   0.00%  full exit",
        "Symbol  Side      Qty   Filled  Step  Limit     Avg  Status  Check",
        "AAPL    sell  20.5852  20.5852   mkt      -  228.48  filled  pass",
        "GLD     buy    24.447        0   mkt      -       -  failed  FAIL",
        "Symbol  Target  Achieved  Expected    Actual  Result  Why",
        "GLD     10.00%     0.00%         0         0  FAIL    rejected: simulated",
        " " * 54 + "rejection",  # text wraps in its column; figures never do
        "rebalance FAILED: 7 order(s), 6 filled, 1 failed; turnover 31735.78; check",
        "FAILED",  # a sentence wraps between words
    ):
        assert line in screen.splitlines(), f"{line!r} not on the screen:\n{screen}"


def test_quote_watch_redraws_in_place_and_ctrl_c_ends_it_quietly(tmp_path):
    term = Term("quote", "AAPL", "MSFT", "--watch", "--interval", "0.3", "--sim", env={},
                cwd=tmp_path)
    first = term.wait_for(r"^quotes at ([0-9:]{8}), every 0\.3s \(Ctrl-C to stop\)$").group(1)
    deadline = time.monotonic() + 30
    while term.wait_for(r"^quotes at ([0-9:]{8})").group(1) == first:
        assert time.monotonic() < deadline, term.text()
        term.pump(0.2)
    screen = term.text()
    assert screen.count("Symbol") == 1 and screen.count("AAPL") == 1  # redrawn, not appended
    assert re.search(r"^AAPL +stream +228\.[0-9]{2} +228\.[0-9]{2} +[0-9.]+ +[0-9.]+s +ok$",
                     screen, re.M), screen
    term.interrupt()
    assert term.finish() == ExitCode.OK
    assert "error" not in term.text() and "cancelled" not in term.text()


def test_quote_watch_piped_prints_timestamped_lines_and_json_with_times(tmp_path):
    base = [sys.executable, "-m", "alchemiser_cli", "quote", "AAPL", "--watch", "--interval",
            "0.2", "--sim"]
    for extra in ([], ["--json"]):
        proc = subprocess.Popen([*base, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
        assert proc.stdout is not None
        # interrupt once the watch has printed four lines (two refreshes): its start-up and
        # refreshes may be slow on a loaded machine, so count lines, not seconds
        first = "".join(proc.stdout.readline() for _ in range(4))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        out = first + out
        assert proc.returncode == 0 and err == "", err
        if extra:
            lines = contract_lines(out, 0)
            quotes = [line for line in lines if line["event"] == "quote"]
            assert len(quotes) >= 2 and len({q["at"] for q in quotes}) == len(quotes)
        else:
            lines = out.splitlines()
            assert len(lines) >= 4
            assert all(re.match(r"[0-9]{2}:[0-9]{2}:[0-9]{2}  ", line) for line in lines), out
            assert re.match(r"[0-9:]{8}  AAPL +stream +228\.", lines[1]), out


def test_an_interrupted_run_still_ends_its_json_with_a_summary(tmp_path):
    sim(tmp_path, "fault", "limit_fills=false")
    proc = subprocess.Popen([sys.executable, "-m", "alchemiser_cli", "place", "AAPL", "buy", "10",
                             "--sim", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, env={**os.environ, **RESTING})
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # wait until the first limit order rests at the broker
        seen.append(line)
        if '"event": "order_accepted"' in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    lines = contract_lines("".join(seen) + out, ExitCode.INTERRUPTED)
    summary = lines[-1]
    assert summary["run_id"] == lines[0]["run_id"]
    assert summary["error"].startswith("interrupted by SIGINT; 1 order(s) of this run were working")
    final = [line for line in lines if line["event"] == "order_update"]
    assert final and final[-1]["status"] == "canceled"  # how the order ended, for the board
    assert lines[-2]["event"] == "run_finished" and lines[-2]["status"] == "interrupted"
