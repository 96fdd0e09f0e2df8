"""OrderIntent: what the operator wants, before any price is chosen."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from alchemiser_cli.domain.money import ZERO

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class CloseType(StrEnum):
    """How a sell relates to the position it reduces."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


class Urgency(StrEnum):
    """How patiently an order walks the book (profiles live in settings)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class IntentError(ValueError):
    """An OrderIntent that cannot be built; the message names the problem."""


def normalize_symbol(raw: str) -> str:
    """An upper-case ASCII ticker. Whitespace and non-ASCII letters are refused, not
    cleaned up: ``"ſpy".upper()`` is ``"SPY"`` in Python, and a lookalike must never
    silently become a real ticker."""
    if not raw:
        raise IntentError("symbol cannot be empty")
    if not raw.isascii() or raw != raw.strip():
        raise IntentError(f"symbol {raw!r} is not a valid ticker (ASCII letters, digits and "
                          "dots only, no spaces)")
    symbol = raw.upper()
    if not SYMBOL_RE.match(symbol):
        raise IntentError(f"symbol {raw!r} is not a valid ticker")
    return symbol


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A type-safe order request: exactly one of ``quantity`` or ``notional``.

    ``close_type`` FULL means the position must end at exactly zero; the placement
    core then sells the whole position as read from the broker.
    """

    symbol: str
    side: Side
    quantity: Decimal | None = None
    notional: Decimal | None = None
    close_type: CloseType = CloseType.NONE
    urgency: Urgency = Urgency.MEDIUM

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", normalize_symbol(self.symbol))
        if self.close_type is not CloseType.NONE and self.side is Side.BUY:
            raise IntentError(f"close type {self.close_type} needs side sell")
        if (self.quantity is None) == (self.notional is None):
            if self.close_type is CloseType.FULL and self.quantity is None and self.notional is None:
                return  # a full close sizes itself from the position
            raise IntentError("give exactly one of quantity or notional")
        if self.quantity is not None and self.quantity <= ZERO:
            raise IntentError(f"quantity must be positive, got {self.quantity}")
        if self.notional is not None and self.notional <= ZERO:
            raise IntentError(f"notional must be positive, got {self.notional}")
        if self.close_type is CloseType.FULL and self.notional is not None:
            raise IntentError("a full close sells the whole position; do not give a notional")

    def describe(self) -> str:
        size = f"${self.notional}" if self.notional is not None else (
            "all" if self.quantity is None else str(self.quantity)
        )
        verb = {
            CloseType.FULL: "CLOSE",
            CloseType.PARTIAL: "REDUCE",
            CloseType.NONE: self.side.value.upper(),
        }[self.close_type]
        return f"{verb} {size} {self.symbol} ({self.urgency} urgency)"
