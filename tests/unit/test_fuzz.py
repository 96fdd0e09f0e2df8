"""Fuzzing: plan files and CLI arguments never produce a traceback, and invalid input
places nothing."""

from __future__ import annotations

import json
import string
from decimal import Decimal
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemiser_cli.cli.app import run
from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.orders import OrderStatus
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


SYMBOLS = ["AAPL", "MSFT", "SPY", "BRK.B", "TSLA", "GLD", "QQQ", "X"]
# at most 4 symbols and a cash buffer of at most 0.05: never more than 1 in all
weights = st.decimals(min_value=0, max_value=Decimal("0.2375"), places=4)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict:
    """A plan the parser must accept: weights in [0, 1] summing (with the buffer) to <= 1."""
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=4, unique=True))
    targets = {s if draw(st.booleans()) else s.lower(): draw(weights) for s in symbols}
    header: dict = {}
    if draw(st.booleans()):
        header["cash_buffer"] = draw(st.decimals(min_value=0, max_value=Decimal("0.05"), places=3))
    for key, strategy in (("drift_threshold", st.decimals(min_value=0, max_value=1, places=3)),
                          ("min_order_notional", st.integers(1, 1000)),
                          ("urgency", st.sampled_from(["low", "medium", "high", "HIGH"])),
                          ("sell_unlisted", st.booleans()),
                          ("name", st.text(string.ascii_letters + "-_ ", min_size=1).filter(str.strip))):
        if draw(st.booleans()):
            header[key] = draw(strategy)
    # numbers are TOML numbers: a number written as a string is an operator mistake (below)
    doc: dict = {"targets": {k: float(v) for k, v in targets.items()}}
    if header:
        doc["plan"] = {k: float(v) if isinstance(v, Decimal) else v for k, v in header.items()}
    if draw(st.booleans()):
        doc["overrides"] = {symbols[0]: {"urgency": draw(st.sampled_from(["low", "medium", "high"]))}}
    return doc


#: one mistake an operator could make, and the field the error must name
CORRUPTIONS = [
    (lambda d: d["targets"].update(ZZ=1.5), "targets.ZZ: weight 1.5 must be between 0 and 1"),
    (lambda d: d["targets"].update(ZZ="0.1"),
     "targets.ZZ: weight: must be a number, not a string ('0.1')"),
    (lambda d: d.setdefault("plan", {}).update(cash_bufer=0.1), "plan.cash_bufer: unknown key"),
    (lambda d: d.setdefault("plan", {}).update(urgency="soon"), "plan.urgency: 'soon' is not one of"),
    (lambda d: d["targets"].update({"1A": 0.1}), "targets.1A: symbol '1A' is not a valid ticker"),
    (lambda d: d["targets"].update(ZZ=0.5, YY=0.6), "weights sum to"),
    (lambda d: d.setdefault("plan", {}).update(min_order_notional=0), "plan.min_order_notional: 0"),
    (lambda d: d.update(target={}), "target: unknown key"),
    (lambda d: d.setdefault("overrides", {}).update(NOPE={"urgency": "low"}),
     "overrides.NOPE: NOPE is not in targets"),
]


@settings(max_examples=150, deadline=None)
@given(valid_documents())
def test_valid_plans_parse_to_exactly_what_they_say(doc):
    plan = parse_plan(tomli_w.dumps(doc), "fuzz.toml")
    assert plan.targets == {k.upper(): Decimal(str(v)) for k, v in doc["targets"].items()}
    header = doc.get("plan", {})
    assert plan.cash_buffer == Decimal(str(header.get("cash_buffer", "0")))
    assert plan.drift_threshold == Decimal(str(header.get("drift_threshold", "0.005")))
    assert plan.min_order_notional == Decimal(header.get("min_order_notional", 5))
    assert plan.urgency == header.get("urgency", "medium").lower()
    assert plan.sell_unlisted is header.get("sell_unlisted", False)
    assert plan.name == header.get("name", "plan").strip()
    for symbol, table in doc.get("overrides", {}).items():
        assert plan.urgency_for(symbol.upper()) == table["urgency"]


@settings(max_examples=150, deadline=None)
@given(valid_documents(), st.sampled_from(CORRUPTIONS))
def test_one_mistake_in_a_valid_plan_is_refused_naming_the_field(doc, corruption):
    corrupt, message = corruption
    corrupt(doc)
    with pytest.raises(PlanError) as caught:
        parse_plan(tomli_w.dumps(doc), "fuzz.toml")
    assert any(p.startswith(message) or message in p for p in caught.value.problems), \
        caught.value.problems


@settings(max_examples=300, deadline=None)
@given(st.one_of(valid_documents(), documents))
def test_any_structured_plan_parses_or_fails_with_a_plan_error(doc):
    text = toml_or_garbage(doc)
    try:
        plan = parse_plan(text, "fuzz.toml")
    except PlanError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert "\n" not in str(exc)
    else:
        assert isinstance(plan, Plan)
        assert all(Decimal(0) <= w <= 1 for w in plan.targets.values())
        assert sum(plan.targets.values()) + plan.cash_buffer <= 1
        assert all(s == s.upper() for s in plan.targets)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable, max_size=200))
def test_any_text_parses_or_fails_with_a_plan_error(text):
    try:
        plan = parse_plan(text, "fuzz.toml")
    except PlanError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert "\n" not in str(exc)
    else:
        assert isinstance(plan, Plan)
        assert all(Decimal(0) <= w <= 1 for w in plan.targets.values())
        assert sum(plan.targets.values()) <= 1


def sim_orders(data: Path) -> int:
    path = data / "sim" / "state.json"
    return len(json.loads(path.read_text())["orders"]) if path.exists() else 0


def open_sim_orders(data: Path) -> list[str]:
    path = data / "sim" / "state.json"
    orders = json.loads(path.read_text())["orders"].values() if path.exists() else []
    return [o["client_order_id"] for o in orders if not OrderStatus(o["status"]).terminal]


VALID_PLAN = "[plan]\ncash_buffer = 0.02\n[targets]\nAAPL = 0.2\nMSFT = 0.1\n"

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
    "[plan]\nurgency = 'soon'\n[targets]\nAAPL = 0.1\n", VALID_PLAN]))
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
    assert open_sim_orders(data) == []  # whatever happened, nothing is left working


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["--dry-run", "--json", "--yes", "--bogus", "--urgency"]),
                max_size=2, unique=True),
       st.sampled_from([VALID_PLAN, VALID_PLAN, "[targets]\nAAPL = 2\n", "[targets]\nZZZZ = 0.1\n"]))
def test_a_sim_rebalance_places_orders_only_for_a_valid_plan_and_not_on_a_dry_run(
        isolated_env, capsys, options, plan_text):
    (isolated_env / "plan.toml").write_text(plan_text)
    data = isolated_env / "data"
    assert run(["sim", "reset"]) == 0
    before = sim_orders(data)
    code = run(["rebalance", "plan.toml", "--sim", *options])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    if plan_text != VALID_PLAN or "--bogus" in options or "--urgency" in options:
        assert code == ExitCode.USAGE, (options, captured.err)
        assert sim_orders(data) == before  # nothing placed
    elif "--dry-run" in options:
        assert code == ExitCode.OK, captured.err
        assert sim_orders(data) == before
    else:
        assert code == ExitCode.OK, captured.err
        assert sim_orders(data) > before
    assert open_sim_orders(data) == []
