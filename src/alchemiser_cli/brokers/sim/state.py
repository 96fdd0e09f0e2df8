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


@dataclass
class SimPosition:
    qty: str
    cost: str  # total cost basis


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
