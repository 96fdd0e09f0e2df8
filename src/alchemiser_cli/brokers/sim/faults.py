"""Parse ``NAME`` / ``NAME=VALUE`` fault switches for the simulator."""

from __future__ import annotations

from dataclasses import asdict, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from alchemiser_cli.brokers.sim.state import QUOTE_MODES, SimFaults

SUBMIT_STATUSES = ("accepted", "pending_new", "new")
MARKET_HOURS = ("always", "exchange")


def apply_fault(faults: SimFaults, item: str) -> None:
    name, _, value = item.partition("=")
    name = name.strip().replace("-", "_")
    known = {f.name: f for f in fields(SimFaults)}
    if name not in known:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
    if name == "quote_mode":
        symbol, _, mode = value.partition(":")
        if not symbol or mode not in QUOTE_MODES:
            raise ValueError(f"quote_mode needs SYMBOL:MODE with MODE one of {', '.join(QUOTE_MODES)}")
        faults.quote_mode[symbol.upper()] = mode
        return
    if name == "drop_event":
        event, _, count = value.partition(":")
        try:
            n = int(count or 1)
        except ValueError:
            n = -1
        if not event or n < 0:
            raise ValueError("drop_event needs EVENT[:N], e.g. fill or partial_fill:2")
        if n:
            faults.drop_event[event.strip()] = n
        else:
            faults.drop_event.pop(event.strip(), None)
        return
    setattr(faults, name, _parse(name, getattr(faults, name), value))


def _parse(name: str, current: Any, value: str) -> object:
    try:
        if isinstance(current, bool):
            return value.lower() not in {"0", "false", "no", "off"} if value else True
        if isinstance(current, list):
            return [s.strip().upper() for s in value.split(",") if s.strip()]
        if name == "partial_probability":
            parsed = float(value)
            if not 0 <= parsed <= 1:
                raise ValueError
            return parsed
        if name == "submit_status":
            if value not in SUBMIT_STATUSES:
                raise ValueError
            return value
        if name == "market_hours":
            if value not in MARKET_HOURS:
                raise ValueError
            return value
        if name == "margin_multiplier":
            multiplier = Decimal(value)
            if not Decimal(1) <= multiplier <= Decimal(4):
                raise ValueError
            return str(multiplier)
        if isinstance(current, float):
            seconds = float(value)
            if seconds < 0:
                raise ValueError
            return seconds
        number = int(value)
        if number < 0:
            raise ValueError
        return number
    except (ValueError, InvalidOperation):
        choices = {"submit_status": SUBMIT_STATUSES, "market_hours": MARKET_HOURS}.get(name)
        hint = f" (one of {', '.join(choices)})" if choices else ""
        raise ValueError(f"bad value {value!r} for fault {name}{hint}") from None


def active_faults(faults: SimFaults) -> dict[str, Any]:
    """The switches that differ from the defaults (what `alch sim status` shows)."""
    defaults = asdict(SimFaults())
    return {k: v for k, v in asdict(faults).items() if v != defaults[k]}
