"""CSV and JSON plans: the same strict validation as TOML, and a hint for the wrong format."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alchemiser_cli.domain.plan import PlanError
from alchemiser_cli.domain.plan_formats import (
    PlanFormat,
    looks_like,
    parse_csv_plan,
    parse_json_plan,
)
from tests.cli.helpers import alch


def test_csv_rows_with_or_without_a_header_and_in_percent():
    assert parse_csv_plan("SPY,0.4\nBND,0.3\n").targets == {"SPY": Decimal("0.4"),
                                                          "BND": Decimal("0.3")}
    assert parse_csv_plan("# mine\nsymbol,weight\nSPY,0.4\n\n").targets == {"SPY": Decimal("0.4")}
    assert parse_csv_plan("ticker,percent\nSPY,40\nGLD,2.5\n").targets == {
        "SPY": Decimal("0.4"), "GLD": Decimal("0.025")}


@pytest.mark.parametrize(("text", "problem"), [
    ("SPY,1e-1\n", "line 1 (SPY): '1e-1' is not a plain decimal number"),
    ("SPY,٠.٤\n", "line 1 (SPY): '٠.٤' is not a plain decimal number"),
    ("SPY,0.4,5\n", "line 1: expected symbol,weight, got 3 field(s)"),
    ("SPY,0.4\nSPY,0.1\n", "line 2: SPY appears twice"),
    ("SPY,1.5\n", "targets.SPY: weight 1.5 must be between 0 and 1"),
    ("SPY,0.7\nBND,0.6\n", "targets: weights sum to 1.3, more than 1"),
    ("ſpy,0.2\n", "targets.ſpy: symbol 'ſpy' is not a valid ticker"),
    ("symbol,price\nSPY,500\n", "line 1: header must be symbol,weight or symbol,percent"),
])
def test_csv_problems_name_the_line_or_the_field(text, problem):
    with pytest.raises(PlanError) as bad:
        parse_csv_plan(text, "p.csv")
    assert any(p.startswith(problem) for p in bad.value.problems), bad.value.problems


def test_json_in_alchs_own_tables_and_in_alpacas_percent_weights():
    own = parse_json_plan('{"plan": {"cash_buffer": 0.05, "urgency": "low"}, '
                          '"targets": {"SPY": 0.4, "TSLA": 0}}')
    assert own.cash_buffer == Decimal("0.05") and own.targets["TSLA"] == 0
    alpaca = parse_json_plan('{"weights": [{"type": "asset", "symbol": "SPY", "percent": "40"},'
                             ' {"type": "asset", "symbol": "BND", "percent": 25.5},'
                             ' {"type": "cash", "percent": "10"}]}')
    assert alpaca.targets == {"SPY": Decimal("0.4"), "BND": Decimal("0.255")}
    assert alpaca.cash_buffer == Decimal("0.1")


@pytest.mark.parametrize(("text", "problem"), [
    ('{"targets": {"SPY": "0.3"}}', "targets.SPY: weight: must be a number, not a string"),
    ('{"targets": {"SPY": 0.3}, "extra": 1}', "extra: unknown key"),
    ('{"weights": [{"type": "asset", "symbol": "SPY", "percent": "1e2"}]}',
     "weights[0].percent: '1e2' is not a plain decimal number"),
    ('{"weights": [{"type": "asset", "symbol": "SPY", "percent": 140}]}',
     "weights[0].percent: must be a number between 0 and 100"),
    ('{"weights": [{"type": "crypto", "percent": 1}]}', "weights[0].type: must be asset or cash"),
    ('{"weights": [{"type": "asset", "symbol": "SPY", "percent": 60},'
     ' {"type": "cash", "percent": 50}]}', "plan.cash_buffer: 0.5 plus target weights 0.6"),
    ("[1, 2]", "must be a JSON object"),
])
def test_json_problems_name_the_field(text, problem):
    with pytest.raises(PlanError) as bad:
        parse_json_plan(text, "p.json")
    assert any(p.startswith(problem) for p in bad.value.problems), bad.value.problems


def test_a_plan_in_the_wrong_format_gets_a_hint(capsys, tmp_path):
    (tmp_path / "plan.toml").write_text("SPY,0.4\nBND,0.3\n")
    result = alch(capsys, "rebalance", "plan.toml", "--sim", "--dry-run")
    assert result.code == 2
    assert result.err.endswith("(it looks like CSV: name the file .csv)\n"), result.err
    (tmp_path / "plan.json").write_text("[targets]\nSPY = 0.4\n")
    result = alch(capsys, "rebalance", "plan.json", "--sim", "--dry-run")
    assert result.err.endswith("(it looks like TOML: name the file .toml)\n"), result.err
    assert looks_like('{"targets": {}}') is PlanFormat.JSON


@pytest.mark.parametrize("fmt", ["toml", "csv", "json"])
def test_plan_init_writes_each_format_and_a_dry_run_reads_it_back(capsys, tmp_path, fmt):
    assert alch(capsys, "plan", "init", f"mine.{fmt}").code == 0
    result = alch(capsys, "rebalance", f"mine.{fmt}", "--sim", "--dry-run", "--json")
    assert result.code == 0, result.err
    # alch reads plans by extension: a format the name contradicts is refused
    mismatch = alch(capsys, "plan", "init", "other.txt", "--format", fmt)
    assert mismatch.code == (0 if fmt == "toml" else 2), mismatch.err
    if fmt != "toml":
        assert mismatch.err == (f"error: other.txt would be read as TOML: name it other.{fmt} "
                                f"for --format {fmt}\n")
