"""Faults only the emulator has (HTTP and WebSocket level), on top of the simulator's."""

from __future__ import annotations

from dataclasses import dataclass, fields

from alchemiser_cli.brokers.sim.faults import apply_fault
from alchemiser_cli.brokers.sim.state import SimFaults

AUTH_FORMS = ("403", "401", "html")


@dataclass
class EmulatorFaults:
    http_429: int = 0  # the next N REST requests answer 429
    http_5xx: int = 0  # the next N REST requests answer 500
    slow_seconds: float = 0.0  # every REST response is delayed this long
    refuse_streams: bool = False  # WebSocket connections are closed at once (a stream outage)
    fail_path: str = ""  # every REST request to this path answers 500
    submit_then_5xx: int = 0  # the next N order POSTs create the order, then answer 500
    revoked: bool = False  # every key is refused (a revoked key)
    auth_error: str = "403"  # how refused keys are answered: 403 (forbidden.), 401, html
    sip_refused: bool = False  # no SIP subscription: REST feed=sip 403, /v2/sip stream 409
    stream_connection_limit: bool = False  # a second data-stream connection gets 406
    rate_limit: int = 200  # per minute, account and API (alpaca.markets/support/usage-limit-api-calls)


def apply_emulator_fault(http: EmulatorFaults, sim: SimFaults, item: str) -> None:
    """``NAME[=VALUE]`` for an emulator fault, else for a simulator fault."""
    name, _, value = item.partition("=")
    name = name.strip().replace("-", "_")
    known = {f.name for f in fields(EmulatorFaults)}
    if name not in known:
        apply_fault(sim, item)
        return
    current = getattr(http, name)
    try:
        if isinstance(current, bool):
            parsed: object = value.lower() not in {"0", "false", "no", "off"} if value else True
        elif name == "auth_error":
            if value not in AUTH_FORMS:
                raise ValueError
            parsed = value
        elif name == "fail_path":
            parsed = value
        elif isinstance(current, float):
            parsed = float(value)
            if parsed < 0:
                raise ValueError
        else:
            parsed = int(value or 1)
            if parsed < 0 or (name == "rate_limit" and parsed == 0):
                raise ValueError
    except ValueError:
        raise ValueError(f"bad value {value!r} for fault {name}") from None
    setattr(http, name, parsed)


def known_faults() -> list[str]:
    return sorted({f.name for f in fields(EmulatorFaults)} | {f.name for f in fields(SimFaults)})
