"""Parse ``NAME`` / ``NAME=VALUE`` fault switches for the simulator."""

from __future__ import annotations

from dataclasses import fields

from alchemiser_cli.brokers.sim.state import QUOTE_MODES, SimFaults


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
    current = getattr(faults, name)
    try:
        if isinstance(current, bool):
            parsed: object = value.lower() not in {"0", "false", "no", "off"} if value else True
        elif isinstance(current, list):
            parsed = [s.strip().upper() for s in value.split(",") if s.strip()]
        elif name == "partial_probability":
            parsed = float(value)
            if not 0 <= float(value) <= 1:
                raise ValueError
        else:
            parsed = int(value)
            if int(value) < 0:
                raise ValueError
    except ValueError:
        raise ValueError(f"bad value {value!r} for fault {name}") from None
    setattr(faults, name, parsed)
