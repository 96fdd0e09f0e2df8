from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser_cli.domain.intents import Urgency
from alchemiser_cli.domain.plan import PlanError, load_plan, parse_plan


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "p.toml")
    return info.value.problems


def test_the_example_plan_is_valid():
    plan = load_plan(Path(__file__).parents[2] / "config" / "example-plan.toml")
    assert plan.targets["SPY"] == Decimal("0.30")
    assert plan.targets["TSLA"] == 0
    assert plan.urgency_for("GLD") is Urgency.LOW
    assert plan.urgency_for("SPY") is Urgency.MEDIUM


@pytest.mark.parametrize(("text", "expected"), [
    ("[targets]\nAAPL = 1.5\n", "targets.AAPL: weight 1.5 must be between 0 and 1"),
    ("[targets]\nAAPL = -0.1\n", "targets.AAPL: weight -0.1 must be between 0 and 1"),
    ("[targets]\nAAPL = 0.6\nMSFT = 0.5\n", "targets: weights sum to 1.1, more than 1"),
    ("[targets]\nAAPL = 0.5\naapl = 0.1\n", "targets.aapl: duplicate of AAPL"),
    ("[targets]\nAAPL = 'half'\n", "targets.AAPL: weight: must be a number, not a string ('half')"),
    ("[targets]\n'AA PL' = 0.1\n", "targets.AA PL: symbol 'AA PL' is not a valid ticker"),
    ("[plan]\ncash_bufer = 0.1\n[targets]\nAAPL = 0.5\n", "plan.cash_bufer: unknown key"),
    ("[plan]\nurgency = 'asap'\n[targets]\nAAPL = 0.5\n",
     "plan.urgency: 'asap' is not one of low, medium, high"),
    ("[plan]\ncash_buffer = 0.2\n[targets]\nAAPL = 0.9\n",
     "plan.cash_buffer: 0.2 plus target weights 0.9 exceeds 1"),
    ("[plan]\nmin_order_notional = 0.5\n[targets]\nAAPL = 0.5\n",
     "plan.min_order_notional: 0.5 must be at least 1"),
    ("[targets]\n", "targets: empty (give at least one SYMBOL = weight)"),
    ("[plan]\nname = 'x'\n", "targets: missing (add a [targets] table of SYMBOL = weight)"),
    ("[targets]\nAAPL = 0.5\n[extra]\n", "extra: unknown key (expected plan, targets, overrides)"),
    ("[targets]\nAAPL = 0.5\n[overrides.MSFT]\nurgency = 'low'\n",
     "overrides.MSFT: MSFT is not in targets"),
    ("[targets]\nAAPL = 0.5\n[overrides.AAPL]\nspeed = 1\n", "overrides.AAPL.speed: unknown key"),
    ("targets = [1, 2\n", "not valid TOML"),
])
def test_each_problem_names_its_field(text, expected):
    found = problems(text)
    assert any(expected in p for p in found), found


def test_all_problems_are_reported_at_once():
    found = problems("[plan]\nfoo = 1\n[targets]\nAAPL = 2\nMSFT = 'x'\n")
    assert len(found) == 3
    err = PlanError("p.toml", found)
    assert str(err) == "p.toml: " + "; ".join(found)  # every problem, on one line
    assert "\n" not in str(err)


def test_missing_file_is_a_plan_error(tmp_path):
    with pytest.raises(PlanError, match="file not found"):
        load_plan(tmp_path / "nope.toml")
