"""The JSON contract: one object per line on stdout, the same for every command.

Every line has ``v`` (the schema version), ``event`` (what the line is) and ``at`` (when:
ISO 8601; a run's events carry the run's own clock, which is virtual time on the
simulator), and ``run_id`` once a run has started. Decimal values (prices, quantities,
money, weights, bps) are strings without meaningless trailing zeros; counts and steps
are integers; durations are numbers of seconds. The last line of every command, errors
included, is a ``summary`` with ``ok`` and ``exit_code``. ``docs/json-schema.json`` is
the schema; the tests validate every command's output against it.

The journal keeps events as they were recorded (older journals included); this module
turns both live events and journaled ones into the contract, so ``alch show --json``
prints a past run exactly as ``--json`` printed it live.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1
CENT = Decimal("0.01")
#: Keys every line starts with, in this order (the rest follow sorted).
HEAD = ("v", "event", "at", "run_id")


def decimal_text(value: object) -> str:
    """``"228.540000"`` -> ``"228.54"``, ``"1E+1"`` -> ``"10"``; never exponent notation."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    return text


def decimals(value: Any) -> Any:
    """Every decimal-looking string in ``value`` (a figure from the core's own tables) as
    the contract writes decimals; other values unchanged."""
    if isinstance(value, Mapping):
        return {k: decimals(v) for k, v in value.items()}
    if isinstance(value, str) and value and value.lstrip("-")[:1].isdigit():
        with suppress(InvalidOperation):
            return decimal_text(Decimal(value))
    return value


def _kind_of(annotation: Any) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if annotation is bool:
        return "bool"
    if annotation is Decimal:
        return "decimal"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    return "other"


def _kinds(cls: type) -> dict[str, str]:
    return {name: _kind_of(tp) for name, tp in typing.get_type_hints(cls).items()
            if name != "kind"}


def _event_classes() -> dict[str, type]:
    from alchemiser_cli.domain.events import Event

    found: dict[str, type] = {}
    stack = list(Event.__subclasses__())
    while stack:
        cls = stack.pop()
        found[cls.kind] = cls
        stack.extend(cls.__subclasses__())
    return found


_FIELD_KINDS: dict[str, dict[str, str]] = {}
_NESTED: dict[str, dict[str, str]] = {}


def field_kinds() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Per event kind, the type of each field (from the event classes themselves), and
    the same for the records nested in events (plan trades, check rows)."""
    if not _FIELD_KINDS:
        from alchemiser_cli.domain.events import CheckRow
        from alchemiser_cli.domain.sizing import PlannedTrade

        _FIELD_KINDS.update({kind: _kinds(cls) for kind, cls in _event_classes().items()})
        _NESTED.update({"trades": {**_kinds(PlannedTrade), "notional": "decimal"},
                        "rows": _kinds(CheckRow)})
    return _FIELD_KINDS, _NESTED


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    try:
        if kind == "decimal":
            return decimal_text(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except (InvalidOperation, ValueError, TypeError):
        return value
    return plain(value)


def plain(value: Any) -> Any:
    """Python values as JSON: decimals as strings, times as ISO 8601, enums by value."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def wall_now() -> str:
    return datetime.now(UTC).isoformat()


class JsonWriter:
    """Writes contract lines; follows the run so every line carries its ``run_id``."""

    def __init__(self, write: Callable[[str], None], now: Callable[[], str] = wall_now) -> None:
        self._write = write
        self._now = now
        self.run_id: str | None = None
        self.summary_written = False
        self._last_at: str | None = None
        self._last_fill: dict[str, tuple[int, str]] = {}  # symbol -> (step, order_type)

    # -- lines ------------------------------------------------------------------------------
    def emit(self, event: str, fields: Mapping[str, Any], *, at: str | None = None) -> None:
        body = {k: plain(v) for k, v in fields.items() if k not in HEAD}
        stamp = at or self._last_at or self._now()
        head: dict[str, Any] = {"v": SCHEMA_VERSION, "event": event, "at": stamp}
        run_id = fields.get("run_id", self.run_id)
        if run_id is not None:
            head["run_id"] = run_id
        self._last_at = stamp
        self._write(json.dumps({**head, **dict(sorted(body.items()))}, ensure_ascii=False))

    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        """A line that is not a run's event (a listing, a check, a setting): wall-clock time."""
        self.emit(event, fields, at=self._now())

    def summary(self, ok: bool, exit_code: int, **fields: Any) -> None:
        """The last line of a command."""
        if self.summary_written:
            return
        self.summary_written = True
        self.emit("summary", {**fields, "ok": ok, "exit_code": int(exit_code)}, at=self._now())

    def follow(self, event: Any) -> None:
        """Only note the run an event belongs to (for commands that print no events)."""
        if getattr(event, "kind", None) == "run_started":
            self.run_id = str(event.run_id)

    def events(self, stored: Iterable[Mapping[str, Any]]) -> None:
        for data in stored:
            self.event(data)

    def event(self, data: Mapping[str, Any]) -> None:
        """A run's event, live (``Event.to_dict()``) or as the journal stored it."""
        kind = str(data.get("event", "event"))
        fields = self.wire(kind, data)
        at = fields.pop("at", None)
        self.emit(kind, fields, at=at if isinstance(at, str) else None)

    # -- the stored form to the contract ----------------------------------------------------
    def wire(self, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        kinds, nested = field_kinds()
        types_ = kinds.get(kind, {})
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "event":
                continue
            if key in nested and isinstance(value, list):
                out[key] = [{k: _typed(v, nested[key].get(k, "other")) for k, v in item.items()}
                            if isinstance(item, Mapping) else plain(item) for item in value]
            else:
                out[key] = _typed(value, types_.get(key, "other"))
        if kind == "plan":  # each trade's notional, as the plan table shows it
            for trade in out.get("trades", []):
                if isinstance(trade, dict) and "notional" not in trade:
                    with suppress(InvalidOperation, TypeError, KeyError):
                        trade["notional"] = decimal_text(
                            (Decimal(trade["qty"]) * Decimal(trade["price"])).quantize(CENT))
        if kind == "run_started":
            self.run_id = str(data["run_id"])
            self._last_fill = {}
        elif kind == "leftover_cancelled":  # its run_id is the earlier run that placed it
            out["leftover_run_id"] = out.pop("run_id", None)
        elif kind == "step" and out.get("filled_qty") not in (None, "0"):
            self._last_fill[str(out.get("symbol"))] = (int(out.get("step") or 0),
                                                       str(out.get("order_type")))
        elif kind == "execution":
            label = out.get("fill_step")
            step, order_type = self._last_fill.get(str(out.get("symbol")), (None, None))
            if label is None:
                step = order_type = None
            elif step is None:  # no step event seen: what the label says
                step = int(label) if str(label).isdigit() else None
                order_type = "market" if label == "market" else "limit"
            out["fill_step"], out["fill_order_type"] = step, order_type
        if kind in ("run_started", "run_finished") or "run_id" not in out:
            out["run_id"] = self.run_id
        return out
