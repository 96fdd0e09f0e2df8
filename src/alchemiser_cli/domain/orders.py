"""Broker-neutral order, position, account and asset records (parsed, Decimal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import ZERO


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class OrderStatus(StrEnum):
    """Alpaca's order statuses; anything else is mapped to UNKNOWN and fails closed."""

    NEW = "new"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    CALCULATED = "calculated"
    HELD = "held"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @classmethod
    def parse(cls, raw: str) -> OrderStatus:
        try:
            return cls(raw.lower())
        except ValueError:
            return cls.UNKNOWN


TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
        OrderStatus.REPLACED,
        OrderStatus.DONE_FOR_DAY,
    }
)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One submission. ``client_order_id`` is deterministic and journaled first."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    type: OrderType
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the broker reports it."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    limit_price: Decimal | None
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    reject_reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return max(self.qty - self.filled_qty, ZERO)


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    market_value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    status: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    trading_blocked: bool
    account_blocked: bool
    number: str = ""  # the broker's account number (Alpaca: account_number), shown to confirm

    @property
    def active(self) -> bool:
        return self.status.upper() == "ACTIVE" and not (self.trading_blocked or self.account_blocked)


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    tradable: bool
    fractionable: bool
    status: str = "active"


@dataclass(frozen=True, slots=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One event from the trade-updates stream.

    On ``fill``/``partial_fill`` events ``qty`` and ``price`` describe that one
    execution (the order carries the cumulative ``filled_qty``/``filled_avg_price``),
    ``position_qty`` is the position after it and ``execution_id`` names it; they are
    None on other events or when the broker leaves them out.
    """

    event: str
    order: Order
    timestamp: datetime
    qty: Decimal | None = None
    price: Decimal | None = None
    position_qty: Decimal | None = None
    execution_id: str | None = None
