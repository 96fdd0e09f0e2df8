"""Plan files in CSV and JSON, validated exactly like TOML plans.

- **TOML** (``.toml``): the native format (see :mod:`alchemiser_cli.domain.plan`).
- **CSV** (``.csv``): ``symbol,weight`` rows, as other rebalancing tools write them; an
  optional header row (``symbol,weight``, or ``symbol,percent`` for percentages), ``#``
  comments. Everything else (cash buffer, drift, urgency) takes its default.
- **JSON** (``.json``): either alch's own tables (``{"plan": {...}, "targets": {...}}``)
  or Alpaca's portfolio weights, in percent: ``{"weights": [{"type": "asset", "symbol":
  "SPY", "percent": "30"}, {"type": "cash", "percent": "10"}]}`` (a cash weight becomes
  the plan's cash buffer).

Numbers in CSV and JSON are parsed strictly (plain decimals, no exponents, no other
scripts' digits) and then go through the same validation as TOML. A file in the wrong
format gets a hint naming the format it looks like.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from alchemiser_cli.domain.money import PLAIN_NUMBER
from alchemiser_cli.domain.plan import Plan, PlanError, parse_plan, plan_from_tables

HUNDRED = Decimal(100)


class PlanFormat(StrEnum):
    TOML = "toml"
    CSV = "csv"
    JSON = "json"

    @classmethod
    def from_path(cls, path: Path) -> PlanFormat:
        """By the file's extension; anything else is read as TOML."""
        return {".csv": cls.CSV, ".json": cls.JSON}.get(path.suffix.lower(), cls.TOML)


def parse_any(text: str, source: str, fmt: PlanFormat) -> Plan:
    text = text.removeprefix("\ufeff")
    if fmt is PlanFormat.CSV:
        return parse_csv_plan(text, source)
    if fmt is PlanFormat.JSON:
        return parse_json_plan(text, source)
    return parse_plan(text, source)


def looks_like(text: str) -> PlanFormat | None:
    """A guess at a plan text's format, for hints only."""
    lines = [line.strip() for line in text.splitlines()]
    first = next((line for line in lines if line and not line.startswith("#")), "")
    if first.startswith("{"):
        return PlanFormat.JSON
    if first.startswith("[") or "=" in first:
        return PlanFormat.TOML
    if "," in first:
        return PlanFormat.CSV
    return None


def format_hint(text: str, tried: str) -> str:
    guess = looks_like(text)
    if guess is None or guess.value.upper() == tried:
        return ""
    return f" (it looks like {guess.value.upper()}: name the file .{guess.value})"


def _strict_number(raw: str, where: str) -> Decimal:
    text = raw.strip()
    if not PLAIN_NUMBER.match(text):
        raise PlanError("", [f"{where}: {raw!r} is not a plain decimal number"])
    return Decimal(text)


def parse_csv_plan(text: str, source: str = "plan.csv") -> Plan:
    rows = [r for r in csv.reader(io.StringIO(text))
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise PlanError(source, ["empty: give symbol,weight rows"])
    percent = False
    header = [c.strip().lower() for c in rows[0]]
    if header and header[0] in {"symbol", "ticker"}:
        if len(header) != 2 or header[1] not in {"weight", "percent"}:
            raise PlanError(source, [f"line 1: header must be symbol,weight or symbol,percent, "
                                     f"not {','.join(rows[0])}{format_hint(text, 'CSV')}"])
        percent = header[1] == "percent"
        rows = rows[1:]
    targets: dict[str, Any] = {}
    problems: list[str] = []
    for number, row in enumerate(rows, start=2 if header and header[0] in {"symbol", "ticker"}
                                 else 1):
        if len(row) != 2:
            problems.append(f"line {number}: expected symbol,weight, got {len(row)} field(s)"
                            f"{format_hint(text, 'CSV')}")
            continue
        symbol, weight = row[0], row[1]
        try:
            value = _strict_number(weight, f"line {number} ({symbol})")
        except PlanError as exc:
            problems.extend(exc.problems)
            continue
        if symbol in targets:
            problems.append(f"line {number}: {symbol} appears twice")
            continue
        targets[symbol] = value / HUNDRED if percent else value
    if problems:
        raise PlanError(source, problems)
    return plan_from_tables({"targets": targets}, source)


def parse_json_plan(text: str, source: str = "plan.json") -> Plan:
    try:
        raw = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError as exc:
        raise PlanError(source, [f"not valid JSON: {exc}{format_hint(text, 'JSON')}"]) from None
    if not isinstance(raw, dict):
        raise PlanError(source, ["must be a JSON object"])
    if "weights" in raw:
        return _alpaca_weights(raw, source)
    return plan_from_tables(raw, source)


def _alpaca_weights(raw: dict[str, Any], source: str) -> Plan:
    """Alpaca's portfolio weights: percentages of the account, assets plus cash."""
    problems: list[str] = [f"{key}: unknown key (expected weights)" for key in sorted(raw)
                           if key != "weights"]
    weights = raw["weights"]
    if not isinstance(weights, list) or not weights:
        raise PlanError(source, [*problems, "weights: must be a non-empty list"])
    targets: dict[str, Any] = {}
    cash = Decimal(0)
    for index, entry in enumerate(weights):
        where = f"weights[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object")
            continue
        extra = sorted(set(entry) - {"type", "symbol", "percent"})
        problems += [f"{where}.{key}: unknown key" for key in extra]
        kind = entry.get("type")
        pct = entry.get("percent")
        if isinstance(pct, str):
            try:
                pct = _strict_number(pct, f"{where}.percent")
            except PlanError as exc:
                problems.extend(exc.problems)
                continue
        if not isinstance(pct, Decimal) or not Decimal(0) <= pct <= HUNDRED:
            problems.append(f"{where}.percent: must be a number between 0 and 100")
            continue
        if kind == "cash":
            cash += pct
        elif kind == "asset":
            symbol = entry.get("symbol")
            if not isinstance(symbol, str):
                problems.append(f"{where}.symbol: missing")
                continue
            if symbol in targets:
                problems.append(f"{where}: {symbol} appears twice")
                continue
            targets[symbol] = pct / HUNDRED
        else:
            problems.append(f"{where}.type: must be asset or cash, not {kind!r}")
    if problems:
        raise PlanError(source, problems)
    return plan_from_tables({"plan": {"cash_buffer": cash / HUNDRED}, "targets": targets}, source)
