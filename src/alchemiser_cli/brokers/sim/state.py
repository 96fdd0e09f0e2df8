"""The simulator's persistent state: the broker's side of the world.

With ``--sim`` it lives in ``<data_dir>/sim/state.json`` and survives our own
process, exactly as a real broker's orders and positions survive a crash of
the client. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

QUOTE_MODES = ("normal", "zero_bid", "zero_ask", "both_zero", "crossed", "stale", "wide")
DEFAULT_START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York, a trading day


@dataclass
class SimFaults:
    """Switches that make the simulated market misbehave on demand."""

    quote_mode: dict[str, str] = field(default_factory=dict)  # symbol or "*" -> mode
    stream_down: bool = False
    trade_stream_down: bool = False
    reject_next: int = 0
    reject_symbols: list[str] = field(default_factory=list)
    halted: list[str] = field(default_factory=list)
    fill_on_cancel: int = 0  # the next N cancels find the order already filled
    stuck_cancel: int = 0  # the next N cancels leave the order pending_cancel for good
    limit_fills: bool = True
    partial_probability: float | None = None
    market_closed: bool = False
    account_blocked: bool = False
    lose_submit_response: int = 0  # the next N submissions are placed but time out
    transient_reads: int = 0  # the next N reads answer 429
    crash_after_calls: int | None = None  # SIGKILL the client after this many calls
    # -- order lifecycle, as Alpaca does it (defaults: asynchronous, like the real thing) --
    submit_status: str = "accepted"  # what a submission answers: accepted, pending_new or new
    accept_latency: float = 0.1  # seconds before an accepted order is routed (new)
    cancel_latency: float = 0.3  # seconds an order stays pending_cancel (0: cancels at once)
    repeat_cancel_204: bool = False  # a second cancel of a pending_cancel order answers 204, not 422
    wash_trade_422: bool = False  # wash trades refused as 422/42210000 instead of 403/40310000
    # -- ways the broker's views disagree (money-path tests) --
    position_lag_seconds: float = 0.0  # positions show a fill only this long after it
    drop_event: dict[str, int] = field(default_factory=dict)  # event -> how many to drop
    delay_events: float = 0.0  # every trade update reaches the stream this much later
    margin_multiplier: str = "1"  # >1: a margin account (buying_power above cash)

    def mode_for(self, symbol: str) -> str:
        return self.quote_mode.get(symbol, self.quote_mode.get("*", "normal"))


@dataclass
class SimOrderRecord:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    qty: str
    limit_price: str | None
    status: str
    filled_qty: str = "0"
    filled_notional: str = "0"
    created_at: str = ""
    updated_at: str = ""
    reject_reason: str | None = None
    time_in_force: str = "day"
    notional: str | None = None
    extended_hours: bool = False
    routed_at: str | None = None  # when it became new (sent to the exchange)
    cancel_requested_at: str | None = None
    cancel_stuck: bool = False  # stuck_cancel: pending_cancel for good
    replaces: str | None = None
    replaced_by: str | None = None
    terminal_at: str | None = None  # filled_at / canceled_at / failed_at / replaced_at
    executions: int = 0


@dataclass
class SimPosition:
    qty: str
    cost: str  # total cost basis


@dataclass
class SimLaggedFill:
    """A fill the position reads do not show yet (fault ``position_lag_seconds``)."""

    symbol: str
    qty: str  # signed change of the position
    cost: str  # change of its cost basis
    due: str  # ISO time from which reads show it


@dataclass
class SimState:
    seed: int = 7
    now: str = DEFAULT_START.isoformat()
    cash: str = "25000"
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[str, SimOrderRecord] = field(default_factory=dict)
    mids: dict[str, str] = field(default_factory=dict)
    mid_ticks: dict[str, int] = field(default_factory=dict)
    tick: int = 0
    order_seq: int = 0
    calls: int = 0
    faults: SimFaults = field(default_factory=SimFaults)
    lagged_fills: list[SimLaggedFill] = field(default_factory=list)

    @property
    def now_dt(self) -> datetime:
        return datetime.fromisoformat(self.now)

    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return Decimal(pos.qty) if pos else Decimal(0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimState:
        raw: dict[str, Any] = json.loads(text)
        raw["positions"] = {k: SimPosition(**v) for k, v in raw.get("positions", {}).items()}
        raw["orders"] = {k: SimOrderRecord(**v) for k, v in raw.get("orders", {}).items()}
        raw["faults"] = SimFaults(**raw.get("faults", {}))
        raw["lagged_fills"] = [SimLaggedFill(**v) for v in raw.get("lagged_fills", [])]
        return cls(**raw)


def demo_state(seed: int = 7) -> SimState:
    """A small account to rebalance: cash plus a few holdings, one to exit fully."""
    holdings = {
        "AAPL": ("60", "228.50"),
        "MSFT": ("12", "415.20"),
        "SPY": ("20", "590.10"),
        "TSLA": ("8.5", "338.80"),
        "BND": ("40", "72.35"),
    }
    return SimState(
        seed=seed,
        cash="25000",
        positions={
            sym: SimPosition(qty=q, cost=str(Decimal(q) * Decimal(p))) for sym, (q, p) in holdings.items()
        },
    )


def load_state(path: Path, seed: int) -> SimState:
    if path.is_file():
        return SimState.from_json(path.read_text())
    return demo_state(seed)


def save_state(path: Path, state: SimState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state.", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        fh.write(state.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
