"""Fuzzing: plan files and CLI arguments never produce a traceback, and invalid input
places nothing."""

from __future__ import annotations

import contextlib
import json
import string
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser_cli.cli.app import run
from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.plan import Plan, PlanError, parse_plan

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=8), st.decimals(allow_nan=False, places=3).map(str))
keys = st.one_of(st.sampled_from(["AAPL", "MSFT", "aapl", "SPY", "X Y", "", "1A", "BRK.B",
                                  "plan", "targets", "overrides", "cash_buffer", "urgency",
                                  "drift_threshold", "min_order_notional", "sell_unlisted",
                                  "name", "ZZZZ"]), st.text(max_size=6))
values = st.recursive(scalars.filter(lambda v: v is not None),
                      lambda inner: st.dictionaries(keys, inner, max_size=4)
                      | st.lists(inner, max_size=3), max_leaves=12)
documents = st.dictionaries(keys, values, max_size=4)


def toml_or_garbage(doc: dict) -> str:
    try:
        return tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return json.dumps(doc, default=str)  # not TOML at all


@settings(max_examples=300, deadline=None)
@given(documents)
def test_any_structured_plan_parses_or_fails_with_a_plan_error(doc):
    text = toml_or_garbage(doc)
    try:
        plan = parse_plan(text, "fuzz.toml")
    except PlanError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert "\n" not in str(exc).splitlines()[0]
    else:
        assert isinstance(plan, Plan)
        assert sum(plan.targets.values()) <= 1


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable, max_size=200))
def test_any_text_parses_or_fails_with_a_plan_error(text):
    with contextlib.suppress(PlanError):
        parse_plan(text, "fuzz.toml")


def sim_orders(data: Path) -> int:
    path = data / "sim" / "state.json"
    return len(json.loads(path.read_text())["orders"]) if path.exists() else 0


TOKENS = ["place", "quote", "rebalance", "metrics", "runs", "show", "verify", "plan", "init",
          "snapshot", "sim", "status", "fault", "reset", "AAPL", "buy", "sell", "10", "-3",
          "abc", "0.5", "--sim", "--paper", "--live", "--json", "--dry-run", "--yes",
          "--notional", "--urgency", "--close", "full", "high", "--since", "7d", "--limit",
          "0", "--prom", "--seed", "--cash", "x", "plan.toml", "missing.toml", "--help",
          "--bogus", "=", "", "limit_fills=maybe", "reject_next=-1", "quote_mode=AAPL:weird"]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6), st.sampled_from([
    "", "[targets]\nAAPL = 2\n", "[targets]\nAAPL = 0.3\nZZZZ = 0.1\n", "not toml [",
    "[plan]\nurgency = 'soon'\n[targets]\nAAPL = 0.1\n"]))
def test_cli_arguments_never_crash_and_invalid_input_places_nothing(isolated_env, capsys, argv,
                                                                     plan_text):
    if "--live" in argv and "--yes" in argv:
        argv = [a for a in argv if a != "--yes"]  # no live keys here anyway; keep it offline
    (isolated_env / "plan.toml").write_text(plan_text)
    data = isolated_env / "data"
    before = sim_orders(data)
    code = run(argv)
    captured = capsys.readouterr()
    assert code != ExitCode.INTERNAL, (argv, captured.err)
    assert "Traceback" not in captured.err + captured.out
    if code == ExitCode.USAGE:
        assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
        assert sim_orders(data) == before
