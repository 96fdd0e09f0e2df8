"""The simulator's state: the broker's side of the world (orders, positions, cash, the
market's own state) and the faults that make it misbehave on demand.

How it is kept on disk, so that it survives a crash of our own process as a real
broker's orders do, is ``persistence.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from alchemiser_cli.brokers.sim.calendar import in_session
from alchemiser_cli.brokers.sim.market import SymbolMarket
from alchemiser_cli.brokers.sim.matching import QueueState
from alchemiser_cli.domain.orders import OrderStatus

QUOTE_MODES = ("normal", "zero_bid", "zero_ask", "both_zero", "crossed", "stale", "wide")
DEFAULT_START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York, a trading day
_TERMINAL = frozenset(s.value for s in OrderStatus if s.terminal)


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
    limit_fills: bool = True  # false: limit orders never fill (market orders still do)
    # force partial fills with this probability (Alpaca paper: "partial fills for a random
    # size 10% of the time", alpacahq/alpaca-docs content/trading/paper-trading.md)
    partial_probability: float | None = None
    market_closed: bool = False
    # "exchange": the market is open only in the NYSE's regular sessions, as Alpaca's clock
    # says (orders wait `accepted` until the open); "always": open at any hour, a simulator
    # convenience (the virtual-time `--sim` and the test fixtures). `alch sim serve`
    # starts with "exchange" (`--hours always` to try it out of hours).
    market_hours: str = "always"
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
    """One order at the simulated broker. Every change is reported to its table."""

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
    cancel_stuck: bool = False  # pending_cancel for good (the stuck_cancel fault): no fills
    replaces: str | None = None
    replaced_by: str | None = None
    terminal_at: str | None = None  # filled_at / canceled_at / failed_at / replaced_at
    executions: int = 0

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        table: OrderTable | None = self.__dict__.get("_table")
        if table is not None:
            table.changed(self, name)


@dataclass
class SimPosition:
    qty: str
    cost: str  # total cost basis

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        table: PositionTable | None = self.__dict__.get("_table")
        if table is not None:
            table.dirty.add(self.__dict__["_key"])


class OrderTable(dict[str, SimOrderRecord]):
    """Orders by id, with O(1) indexes: by client order id, open orders (all and per
    symbol), and the ids changed since the last save."""

    def __init__(self, records: Mapping[str, SimOrderRecord] | None = None) -> None:
        super().__init__()
        self.by_client_id: dict[str, SimOrderRecord] = {}
        self.open: dict[str, SimOrderRecord] = {}
        self.open_by_symbol: dict[str, dict[str, SimOrderRecord]] = {}
        self.dirty: set[str] = set()
        for key, rec in (records or {}).items():
            self[key] = rec

    def __setitem__(self, key: str, rec: SimOrderRecord) -> None:
        super().__setitem__(key, rec)
        object.__setattr__(rec, "_table", self)
        self.by_client_id[rec.client_order_id] = rec
        self._index(rec)
        self.dirty.add(key)

    def __delitem__(self, key: str) -> None:
        raise TypeError("orders are never deleted")

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, rec in dict(*args, **kwargs).items():
            self[key] = rec

    def changed(self, rec: SimOrderRecord, name: str) -> None:
        self.dirty.add(rec.id)
        if name == "status":
            self._index(rec)
        elif name == "client_order_id":
            self.by_client_id[rec.client_order_id] = rec

    def _index(self, rec: SimOrderRecord) -> None:
        per_symbol = self.open_by_symbol.setdefault(rec.symbol, {})
        if rec.status in _TERMINAL:
            self.open.pop(rec.id, None)
            per_symbol.pop(rec.id, None)
        else:
            self.open[rec.id] = rec
            per_symbol[rec.id] = rec

    def open_on(self, symbol: str) -> Iterable[SimOrderRecord]:
        return self.open_by_symbol.get(symbol, {}).values()


class PositionTable(dict[str, SimPosition]):
    """Positions by symbol, remembering which changed since the last save."""

    def __init__(self, positions: Mapping[str, SimPosition] | None = None) -> None:
        super().__init__()
        self.dirty: set[str] = set()
        for key, pos in (positions or {}).items():
            self[key] = pos

    def __setitem__(self, key: str, pos: SimPosition) -> None:
        super().__setitem__(key, pos)
        object.__setattr__(pos, "_table", self)
        object.__setattr__(pos, "_key", key)
        self.dirty.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.dirty.add(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.dirty.add(key)
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, pos in dict(*args, **kwargs).items():
            self[key] = pos


_SCALARS = ("seed", "now", "cash", "order_seq", "calls")


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
    markets: dict[str, SymbolMarket] = field(default_factory=dict)
    queues: dict[str, QueueState] = field(default_factory=dict)  # matching state of open orders
    order_seq: int = 0
    calls: int = 0
    faults: SimFaults = field(default_factory=SimFaults)
    lagged_fills: list[SimLaggedFill] = field(default_factory=list)
    generation: str = ""  # of the snapshot the log extends

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "orders" and not isinstance(value, OrderTable):
            value = OrderTable(value)
        elif name == "positions" and not isinstance(value, PositionTable):
            value = PositionTable(value)
        object.__setattr__(self, name, value)

    @property
    def order_table(self) -> OrderTable:
        assert isinstance(self.orders, OrderTable)
        return self.orders

    @property
    def position_table(self) -> PositionTable:
        assert isinstance(self.positions, PositionTable)
        return self.positions

    @property
    def now_dt(self) -> datetime:
        return datetime.fromisoformat(self.now)

    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return Decimal(pos.qty) if pos else Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in _SCALARS},
            "generation": self.generation,
            "positions": {k: asdict(v) for k, v in self.positions.items()},
            "orders": {k: asdict(v) for k, v in self.orders.items()},
            "markets": {k: v.to_json() for k, v in self.markets.items()},
            "queues": {k: v.to_json() for k, v in self.queues.items()
                       if k in self.order_table.open},
            "faults": asdict(self.faults),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimState:
        raw: dict[str, Any] = json.loads(text)
        state = cls(
            **{name: raw[name] for name in _SCALARS if name in raw},
            generation=str(raw.get("generation", "")),
            positions={k: SimPosition(**v) for k, v in raw.get("positions", {}).items()},
            orders={k: _order(v) for k, v in raw.get("orders", {}).items()},
            markets={k: SymbolMarket.from_json(v) for k, v in raw.get("markets", {}).items()},
            queues={k: QueueState.from_json(v) for k, v in raw.get("queues", {}).items()},
            faults=SimFaults(**raw.get("faults", {})),
            lagged_fills=[SimLaggedFill(**v) for v in raw.get("lagged_fills", [])],
        )
        state.clear_changes()
        return state

    def clear_changes(self) -> None:
        self.order_table.dirty.clear()
        self.position_table.dirty.clear()

    def changes(self, *, unless_equal_to: tuple[Any, ...] | None = None
                ) -> tuple[dict[str, Any] | None, tuple[Any, ...]]:
        """What changed since the last save, as one log entry.

        None when no order or position changed and the account scalars (other than
        the clock) and faults equal ``unless_equal_to``; the second value is what to
        pass next time.
        """
        orders, positions = self.order_table, self.position_table
        scalars = {name: getattr(self, name) for name in _SCALARS}
        faults = asdict(self.faults)
        lagged = [asdict(f) for f in self.lagged_fills]
        key = (self.seed, self.cash, self.order_seq, self.calls, json.dumps(faults, sort_keys=True),
               json.dumps(lagged, sort_keys=True))
        if not orders.dirty and not positions.dirty and key == unless_equal_to:
            return None, key
        entry: dict[str, Any] = {"g": self.generation, "s": scalars, "f": faults, "l": lagged}
        if orders.dirty:
            entry["o"] = {k: asdict(orders[k]) for k in orders.dirty}
        if positions.dirty:
            entry["p"] = {k: asdict(positions[k]) if k in positions else None
                          for k in positions.dirty}
        self.clear_changes()
        return entry, key

    def apply(self, entry: Mapping[str, Any]) -> None:
        """Replay one log entry."""
        for name, value in entry["s"].items():
            setattr(self, name, value)
        self.faults = SimFaults(**entry["f"])
        self.lagged_fills = [SimLaggedFill(**v) for v in entry.get("l", [])]
        for key, raw in entry.get("o", {}).items():
            self.orders[key] = _order(raw)
        for key, raw in entry.get("p", {}).items():
            if raw is None:
                self.positions.pop(key, None)
            else:
                self.positions[key] = SimPosition(**raw)


def _order(raw: Mapping[str, Any]) -> SimOrderRecord:
    known = {f.name for f in fields(SimOrderRecord)}
    return SimOrderRecord(**{k: v for k, v in raw.items() if k in known})


def market_open(faults: SimFaults, now: datetime) -> bool:
    """Whether the simulated market is open at ``now`` (regular session only)."""
    if faults.market_closed:
        return False
    return faults.market_hours == "always" or in_session(now)


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
