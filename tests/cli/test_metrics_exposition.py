"""`alch metrics --prom` read back by Prometheus's own parser (prometheus-client)."""

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.cli.helpers import alch, records

# family -> the label keys its samples carry: account and broker on every one, so a
# textfile shared by many accounts never mixes them (nor simulated fills with real ones)
GROUP = {"account", "broker"}
EXPECTED = {
    "alch_last_run_timestamp_seconds": GROUP | {"command"},
    "alch_last_run_duration_seconds": GROUP | {"command"},
    "alch_last_run_exit_code": GROUP | {"command"},
    "alch_last_run_running": GROUP | {"command"},
    "alch_runs": GROUP,
    "alch_quote_requests": GROUP,
    "alch_quote_source_ratio": GROUP | {"source"},
    "alch_quote_problems": GROUP | {"problem"},
    "alch_orders": GROUP | {"outcome"},
    "alch_validation_failures": GROUP,
    "alch_fills_by_step": GROUP | {"step"},
    "alch_seconds_to_fill_median": GROUP,
    "alch_slippage_bps": GROUP | {"stat"},
    "alch_validation_pass_ratio": GROUP,
}


def simulator_runs(capsys) -> None:
    """Three placements: one at step 1, one walked to market, one on a zero-bid quote."""
    assert alch(capsys, "sim", "reset").code == 0
    assert alch(capsys, "place", "AAPL", "buy", "3", "--sim").code == 0
    alch(capsys, "sim", "fault", "limit_fills=false")
    assert alch(capsys, "place", "MSFT", "sell", "1", "--sim").code == 0
    alch(capsys, "sim", "fault", "--clear", "quote_mode=AAPL:zero_bid")
    assert alch(capsys, "place", "AAPL", "buy", "1", "--sim").code == 0
    alch(capsys, "sim", "fault", "--clear")


def test_the_prometheus_exposition_parses_with_help_type_names_and_labels(capsys):
    simulator_runs(capsys)
    result = alch(capsys, "metrics", "--prom", raw=True)
    assert result.code == 0
    families = {f.name: f for f in text_string_to_metric_families(result.out)}
    assert set(EXPECTED) <= set(families), set(EXPECTED) - set(families)
    for name, family in families.items():
        # the parser leaves documentation empty and type "unknown" without HELP / TYPE lines
        assert family.documentation, f"{name} has no HELP"
        assert family.type == "gauge", f"{name} has TYPE {family.type}"
        assert family.samples, name
        for sample in family.samples:
            assert sample.name == name
            assert set(sample.labels) == EXPECTED.get(name, set(sample.labels)), (name, sample.labels)
            assert set(sample.labels) >= GROUP, (name, sample.labels)
            assert (sample.labels["account"], sample.labels["broker"]) == ("default", "sim")
    # the text declares each family once, and every line was understood
    lines = result.out.splitlines()
    assert sum(line.startswith("# TYPE ") for line in lines) == len(families)
    assert sum(not line.startswith("#") for line in lines) == sum(
        len(f.samples) for f in families.values())

    # the values are the ones `metrics --json` reports
    data = json.loads(alch(capsys, "metrics", "--json", raw=True).out.splitlines()[0])

    def values(name: str, label: str) -> dict[str, float]:
        return {s.labels[label]: s.value for s in families[name].samples}

    def value(name: str) -> float:
        [sample] = families[name].samples
        return sample.value

    assert value("alch_runs") == data["runs"] == 3  # sim reset is not a run; each placement is
    orders = values("alch_orders", "outcome")
    assert orders == {"placed": data["orders"], "filled": data["orders_filled"],
                      "failed": data["orders"] - data["orders_filled"]}
    assert orders["placed"] == 3
    assert value("alch_validation_failures") == 0
    assert values("alch_fills_by_step", "step") == data["fills_by_step"]
    assert set(data["fills_by_step"]) == {"1", "2", "3", "market"}
    assert values("alch_fills_by_step", "step")["market"] >= 1
    assert values("alch_quote_problems", "problem") == data["quote_problems"]
    assert values("alch_quote_problems", "problem")["zero_bid"] >= 1
    assert values("alch_quote_source_ratio", "source") == {
        "stream": data["streaming_success_rate"], "rest": data["rest_fallback_rate"],
        "unusable": data["unusable_rate"]}
    assert value("alch_validation_pass_ratio") == data["validation_pass_rate"] == 1.0
    assert set(values("alch_slippage_bps", "stat")) == {"mean", "median", "notional_weighted"}


def test_last_run_series_follow_each_command_and_its_exit_code(capsys):
    simulator_runs(capsys)
    assert alch(capsys, "place", "ZZZZ", "buy", "1", "--sim").code == 7  # not a known asset
    families = {f.name: f for f in text_string_to_metric_families(
        alch(capsys, "metrics", "--prom", raw=True).out)}
    runs = [json.loads(line) for line in alch(capsys, "runs", "--json", raw=True).out.splitlines()]
    newest = runs[0]  # runs lists the newest first
    assert newest["command"] == "place" and newest["exit_code"] == 7

    def by_command(name: str) -> dict[str, float]:
        return {s.labels["command"]: s.value for s in families[name].samples}

    # one sample per command, holding its newest run: the failed one, not an earlier success
    assert by_command("alch_last_run_exit_code") == {"place": 7}
    started = datetime.fromisoformat(newest["started_at"]).timestamp()
    assert by_command("alch_last_run_timestamp_seconds") == {"place": started}  # to the microsecond
    assert 0 <= by_command("alch_last_run_duration_seconds")["place"] < 60


def test_a_killed_run_shows_as_running_then_as_exit_code_minus_one(capsys):
    """A run killed before it could record its exit code (kill -9, OOM, power loss) must not
    leave the `alch_last_run_exit_code != 0` alert silent."""
    assert alch(capsys, "sim", "reset").code == 0
    assert alch(capsys, "place", "AAPL", "buy", "1", "--sim").code == 0
    alch(capsys, "sim", "fault", "crash_after_calls=3")  # SIGKILL after the 3rd broker call
    killed = subprocess.run([sys.executable, "-m", "alchemiser_cli", "place", "MSFT", "buy", "1",
                             "--sim"], capture_output=True, text=True, env={**os.environ},
                            timeout=60, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    def last_run(name: str) -> dict[str, float]:
        text = alch(capsys, "metrics", "--prom", raw=True).out
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = families[name].samples if name in families else []
        return {s.labels["command"]: s.value for s in samples}

    # still marked running: the running series says so, and no exit code is made up
    assert last_run("alch_last_run_running") == {"place": 1}
    assert "place" not in last_run("alch_last_run_exit_code")
    runs = records(alch(capsys, "runs", "--json", raw=True).out, "run")
    assert runs[0]["status"] == "running"
    assert last_run("alch_last_run_timestamp_seconds")["place"] == datetime.fromisoformat(
        runs[0]["started_at"]).timestamp()

    # the next run marks it interrupted: it ended without an exit code, which reads -1
    plan = Path(__file__).parents[2] / "config" / "example-plan.toml"
    assert alch(capsys, "rebalance", str(plan), "--sim").code == 0
    runs = records(alch(capsys, "runs", "--json", raw=True).out, "run")
    assert next(r["status"] for r in runs if r["command"] == "place") == "interrupted"
    assert last_run("alch_last_run_exit_code") == {"place": -1, "rebalance": 0}
    assert last_run("alch_last_run_running") == {"place": 0, "rebalance": 0}
