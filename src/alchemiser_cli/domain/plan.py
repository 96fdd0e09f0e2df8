"""The rebalance plan (TOML) and its strict validation.

Every error names the field and the problem, e.g. ``targets.AAPL: weight 1.5
must be between 0 and 1``. All errors are collected, so one run shows them all.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from alchemiser_cli.domain.intents import IntentError, Urgency, normalize_symbol
from alchemiser_cli.domain.money import parse_decimal

PLAN_KEYS = {"name", "cash_buffer", "drift_threshold", "min_order_notional", "urgency",
             "sell_unlisted", "account"}
ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TOP_KEYS = {"plan", "targets", "overrides"}
OVERRIDE_KEYS = {"urgency"}


class PlanError(ValueError):
    """One or more problems in a plan file; ``problems`` lists each one."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(" ".join(p.split()) for p in problems))


@dataclass(frozen=True, slots=True)
class Plan:
    targets: dict[str, Decimal]
    name: str = "plan"
    cash_buffer: Decimal = Decimal("0")
    drift_threshold: Decimal = Decimal("0.005")
    min_order_notional: Decimal = Decimal("5")
    urgency: Urgency = Urgency.MEDIUM
    sell_unlisted: bool = False
    overrides: dict[str, Urgency] = field(default_factory=dict)
    account: str | None = None  # the [accounts.NAME] this plan is for, if it says

    def urgency_for(self, symbol: str) -> Urgency:
        return self.overrides.get(symbol, self.urgency)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.targets)


#: A plan is a short text file; anything larger (or endless, like /dev/zero) is refused.
MAX_PLAN_BYTES = 1024 * 1024


def load_plan(path: Path) -> Plan:
    """Read and validate a plan file (UTF-8, a byte-order mark allowed, at most 1 MiB)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise PlanError(str(path), ["file not found"]) from None
    except IsADirectoryError:
        raise PlanError(str(path), ["is a directory, not a plan file"]) from None
    except OSError as exc:
        raise PlanError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(str(path), [f"larger than {MAX_PLAN_BYTES // 1024} KiB; not a plan file"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlanError(str(path), ["not UTF-8 text"]) from None
    from alchemiser_cli.domain.plan_formats import PlanFormat, parse_any

    return parse_any(text, str(path), PlanFormat.from_path(path))


def _number(value: Any, where: str) -> Decimal:
    """A number (integer, float, or a Decimal a CSV/JSON reader parsed strictly), never a
    string that looks like one."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{where}: must be a number, not {_toml_type(value)}")
    return parse_decimal(value, where)


def _toml_type(value: Any) -> str:
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def parse_plan(text: str, source: str = "plan") -> Plan:
    """A plan from TOML text (see :mod:`alchemiser_cli.domain.plan_formats` for CSV, JSON)."""
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        from alchemiser_cli.domain.plan_formats import format_hint

        raise PlanError(source, [f"not valid TOML: {exc}{format_hint(text, 'TOML')}"]) from None
    return plan_from_tables(raw, source)


def plan_from_tables(raw: dict[str, Any], source: str) -> Plan:
    """Validate a plan given as tables (from any format): every problem, each naming its field."""
    problems: list[str] = []
    for key in sorted(set(raw) - TOP_KEYS):
        problems.append(f"{key}: unknown key (expected plan, targets, overrides)")
    header = raw.get("plan", {})
    if not isinstance(header, dict):
        problems.append("plan: must be a table")
        header = {}
    for key in sorted(set(header) - PLAN_KEYS):
        problems.append(f"plan.{key}: unknown key")

    def number(key: str, default: Decimal, lo: Decimal, hi: Decimal | None) -> Decimal:
        if key not in header:
            return default
        try:
            value = _number(header[key], f"plan.{key}")
        except ValueError as exc:
            problems.append(str(exc))
            return default
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            problems.append(f"plan.{key}: {value} must be {bound}")
        return value

    cash_buffer = number("cash_buffer", Decimal("0"), Decimal("0"), Decimal("1"))
    drift = number("drift_threshold", Decimal("0.005"), Decimal("0"), Decimal("1"))
    min_notional = number("min_order_notional", Decimal("5"), Decimal("1"), None)
    urgency = _urgency(header.get("urgency", "medium"), "plan.urgency", problems)
    name = header.get("name", "plan")
    if not isinstance(name, str) or not name.strip():
        problems.append("plan.name: must be a non-empty string")
        name = "plan"
    account = header.get("account")
    if account is not None and not (isinstance(account, str) and ACCOUNT_NAME.match(account)):
        problems.append("plan.account: must be an account name (lower-case letters, digits, "
                        "'-' or '_')")
        account = None
    sell_unlisted = header.get("sell_unlisted", False)
    if not isinstance(sell_unlisted, bool):
        problems.append("plan.sell_unlisted: must be true or false")
        sell_unlisted = False

    targets: dict[str, Decimal] = {}
    raw_targets = raw.get("targets")
    if raw_targets is None:
        problems.append("targets: missing (add a [targets] table of SYMBOL = weight)")
        raw_targets = {}
    elif not isinstance(raw_targets, dict):
        problems.append("targets: must be a table of SYMBOL = weight")
        raw_targets = {}
    elif not raw_targets:
        problems.append("targets: empty (give at least one SYMBOL = weight)")
    seen: dict[str, str] = {}
    for key, value in raw_targets.items():
        try:
            symbol = normalize_symbol(key)
        except IntentError as exc:
            problems.append(f"targets.{key}: {exc}")
            continue
        if symbol in seen:
            problems.append(f"targets.{key}: duplicate of {seen[symbol]}")
            continue
        seen[symbol] = key
        try:
            weight = _number(value, f"targets.{key}: weight")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if not Decimal(0) <= weight <= Decimal(1):
            problems.append(f"targets.{key}: weight {weight} must be between 0 and 1")
            continue
        targets[symbol] = weight
    total = sum(targets.values(), Decimal(0))
    if total > 1:
        problems.append(f"targets: weights sum to {total}, more than 1")
    elif total + cash_buffer > 1:
        problems.append(
            f"plan.cash_buffer: {cash_buffer} plus target weights {total} exceeds 1")

    overrides: dict[str, Urgency] = {}
    raw_overrides = raw.get("overrides", {})
    if not isinstance(raw_overrides, dict):
        problems.append("overrides: must be a table of [overrides.SYMBOL] tables")
        raw_overrides = {}
    for key, table in raw_overrides.items():
        try:
            symbol = normalize_symbol(key)
        except IntentError as exc:
            problems.append(f"overrides.{key}: {exc}")
            continue
        if symbol not in targets and symbol not in seen:
            problems.append(f"overrides.{key}: {symbol} is not in targets")
        if not isinstance(table, dict):
            problems.append(f"overrides.{key}: must be a table")
            continue
        for extra in sorted(set(table) - OVERRIDE_KEYS):
            problems.append(f"overrides.{key}.{extra}: unknown key")
        if "urgency" in table:
            overrides[symbol] = _urgency(table["urgency"], f"overrides.{key}.urgency", problems)
    if problems:
        raise PlanError(source, problems)
    return Plan(targets=targets, name=name.strip(), cash_buffer=cash_buffer,
                drift_threshold=drift, min_order_notional=min_notional, urgency=urgency,
                sell_unlisted=sell_unlisted, overrides=overrides, account=account)


def _urgency(value: Any, where: str, problems: list[str]) -> Urgency:
    try:
        return Urgency(str(value).lower())
    except ValueError:
        problems.append(f"{where}: {value!r} is not one of low, medium, high")
        return Urgency.MEDIUM
