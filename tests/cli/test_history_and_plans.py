"""metrics, runs, show and the plan tools, after deterministic simulator runs."""

import json
import re
import tomllib
from pathlib import Path

from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.plan import load_plan
from tests.cli.helpers import alch

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")


def a_few_runs(capsys) -> None:
    assert alch(capsys, "rebalance", PLAN, "--sim").code == 0
    alch(capsys, "sim", "fault", "limit_fills=false", "quote_mode=AAPL:zero_bid")
    assert alch(capsys, "place", "AAPL", "buy", "3", "--sim").code == 0
    alch(capsys, "sim", "fault", "--clear", "stream_down")
    assert alch(capsys, "place", "MSFT", "sell", "1", "--sim").code == 0
    alch(capsys, "sim", "fault", "--clear")


METRICS = """\
runs: 3
quote requests: 19
streaming success rate: 94.7%
REST fallback rate: 5.3%
unusable quote rate: 0.0%
quotes zero bid: 4
orders (filled): 9 (9)
median time to fill: 1s
slippage bps (mean / median): 1.35 / 0.07
slippage bps (notional-weighted): 0.34
validation pass rate: 100.0% of 9
E/Q by step: market=0.464
mark-out bps by step (5s): market=-0.72
fills by step: 1=0, 2=0, 3=0, market=9
"""  # the simulated large caps quote one-cent spreads: the default walk is a market order


def test_metrics_after_a_few_runs(capsys):
    a_few_runs(capsys)
    result = alch(capsys, "metrics")
    assert result.code == 0
    assert result.out == METRICS
    lines = [json.loads(line) for line in alch(capsys, "metrics", "--json").out.splitlines()]
    assert [line["event"] for line in lines] == ["metrics", "summary"]
    data = lines[0]
    assert data["fills_by_step"] == {"1": 0, "2": 0, "3": 0, "market": 9}
    assert data["slippage_bps_notional_weighted"] == "0.34"
    assert data["eq_by_step"] == {"market": "0.464"}
    assert data["markout_bps_by_step"] == {"market": "-0.72"} and data["markout_seconds"] == [5.0]


def test_metrics_prometheus_text_and_atomic_file(capsys, tmp_path):
    a_few_runs(capsys)
    text = alch(capsys, "metrics", "--prom").out
    assert "# TYPE alch_fills_by_step gauge\n" in text
    sim = 'account="default",broker="sim"'
    assert f'alch_fills_by_step{{{sim},step="market"}} 9\n' in text
    assert f'alch_quote_source_ratio{{{sim},source="stream"}} 0.9474\n' in text
    assert f'alch_slippage_bps{{{sim},stat="notional_weighted"}} 0.34\n' in text
    assert f'alch_eq{{{sim},step="market"}} 0.464\n' in text
    assert f'alch_markout_bps{{{sim},step="market"}} -0.72\n' in text
    assert f'alch_orders{{{sim},outcome="placed"}} 9\n' in text
    assert f'alch_orders{{{sim},outcome="failed"}} 0\n' in text
    assert f'alch_last_run_exit_code{{{sim},command="rebalance"}} 0\n' in text
    label = r'[a-z_]+="[^"]*"'
    for line in text.splitlines():  # every sample line is NAME{labels} VALUE
        assert line.startswith("#") or re.fullmatch(
            rf'alch_[a-z_]+\{{{label}(,{label})*\}} [-0-9.e]+', line), line
    out = tmp_path / "alch.prom"
    assert alch(capsys, "metrics", "--prom", "--output", str(out)).code == 0
    assert out.read_text() == text


def test_metrics_since_filters_runs_and_rejects_bad_values(capsys):
    a_few_runs(capsys)
    assert "runs: 0" in alch(capsys, "metrics", "--since", "2030-01-01").out
    bad = alch(capsys, "metrics", "--since", "yesterday")
    assert bad.code == ExitCode.USAGE
    assert bad.err == "error: --since: 'yesterday' is not like 7d, 24h or 2026-11-01\n"


def test_metrics_on_an_empty_journal(capsys):
    result = alch(capsys, "metrics")
    assert result.code == 0 and "runs: 0" in result.out and "streaming success rate: -" in result.out


def test_runs_and_show_give_the_full_audit_of_a_run(capsys):
    a_few_runs(capsys)
    lines = [json.loads(line) for line in alch(capsys, "runs", "--json", raw=True).out.splitlines()]
    runs = [line for line in lines if line["event"] == "run"]
    assert lines[-1]["event"] == "summary" and len(lines) == len(runs) + 1
    assert [r["command"] for r in runs] == ["place", "place", "rebalance"]
    assert all(r["status"] in ("ok", "filled") and r["exit_code"] == 0 for r in runs)
    rebalance_id = runs[-1]["run_id"]
    shown = alch(capsys, "show", rebalance_id[:14])
    assert shown.code == 0
    lines = shown.out.splitlines()  # the summary first: the run, the plan, the orders, the check
    assert lines[0].startswith("run RUN: rebalance on sim, started ")
    assert lines[0].endswith(", ok (exit 0)")
    assert lines[1] == "plan core-satellite: 7 trade(s), turnover 31735.78, est. cost 0.84"
    assert lines[2] == "orders: 7, 7 filled; 7 step(s), 7 with fills; 14 quote(s)"
    assert lines[3:5] == ["Orders", "Symbol  Side      Qty   Filled     Avg  Slip bps  Status  Check"]
    assert lines[5].split() == ["AAPL", "sell", "20.5852", "20.5852", "228.48", "0.09", "filled",
                                "pass"]
    assert lines[-1] == "portfolio check: passed"
    assert len(lines) == 13 and shown.err == "76 event(s): alch show RUN --events for the log\n"
    log = alch(capsys, "show", rebalance_id[:14], "--events").out.splitlines()
    assert log[:13] == lines and log[13] == ""
    kinds = {line.split()[1] for line in log[14:]}
    assert {"quote", "plan", "phase", "order_submitting", "order_accepted", "step",
            "validation", "execution", "portfolio_check", "run_finished"} <= kinds
    assert not any("True" in line or "False" in line for line in log)  # JSON's true/false
    events = [json.loads(line)
              for line in alch(capsys, "show", rebalance_id, "--json", raw=True).out.splitlines()]
    assert events[0]["event"] == "run" and events[0]["run_id"] == rebalance_id
    assert events[-1]["event"] == "summary" and events[-1]["run_id"] == rebalance_id
    assert sum(e["event"] == "order_submitting" for e in events) == 7
    missing = alch(capsys, "show", "nope")
    assert missing.code == ExitCode.USAGE
    assert missing.err == "error: no run matches 'nope' (see 'alch runs')\n"


def test_show_with_an_ambiguous_prefix_lists_the_candidates(capsys):
    a_few_runs(capsys)
    result = alch(capsys, "show", "2611")
    assert result.code == ExitCode.USAGE
    assert re.fullmatch(
        r"error: '2611' matches several runs: RUN \(place, sim, [-0-9: ]{16}\); "
        r"RUN \(place, sim, [-0-9: ]{16}\); RUN \(rebalance, sim, [-0-9: ]{16}\); "
        r"give more of the id\n", result.err), result.err


def test_plan_init_writes_a_valid_commented_plan(capsys, tmp_path):
    assert alch(capsys, "plan", "init", "p.toml").code == 0
    text = (tmp_path / "p.toml").read_text()
    assert text.startswith("# alch rebalance plan.")
    assert "# SYMBOL = weight of equity" in text
    plan = load_plan(tmp_path / "p.toml")
    assert sum(plan.targets.values()) <= 1
    again = alch(capsys, "plan", "init", "p.toml")
    assert again.code == ExitCode.USAGE and "use --force" in again.err
    assert alch(capsys, "plan", "init", "p.toml", "--force").code == 0


def test_plan_snapshot_round_trips_to_a_plan_that_holds(capsys, tmp_path):
    assert alch(capsys, "plan", "snapshot", "s.toml", "--sim").code == 0
    data = tomllib.loads((tmp_path / "s.toml").read_text())
    assert data["targets"] == {"AAPL": 0.2238, "BND": 0.0472, "MSFT": 0.0813, "SPY": 0.1926,
                               "TSLA": 0.047}
    dry = alch(capsys, "rebalance", "s.toml", "--sim", "--dry-run")
    assert "nothing placed: 0 order(s)" in dry.out
