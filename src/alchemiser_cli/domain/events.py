"""Events the core emits; the journal stores them and the terminal draws them.

Observers receive them synchronously, so an event handled by the journal is on disk
before the core's next step — in particular before an order is submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        return {"event": self.kind, **data}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    return value


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    run_id: str
    command: str
    broker: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Notice(Event):
    kind: ClassVar[str] = "notice"
    level: str  # info | warning | error
    message: str
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class QuoteTaken(Event):
    kind: ClassVar[str] = "quote"
    symbol: str
    source: str
    bid: Decimal
    ask: Decimal
    raw_bid: Decimal
    raw_ask: Decimal
    age_seconds: float
    zero_bid: bool
    zero_ask: bool
    problem: str | None
    fallback: bool  # True when REST was used because the stream had nothing usable
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderSubmitting(Event):
    """Journaled before the POST: the client_order_id is reserved first."""

    kind: ClassVar[str] = "order_submitting"
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    limit_price: Decimal | None
    step: int
    ratio: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderAccepted(Event):
    kind: ClassVar[str] = "order_accepted"
    client_order_id: str
    symbol: str
    order_id: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderSubmitFailed(Event):
    kind: ClassVar[str] = "order_failed"
    client_order_id: str
    symbol: str
    outcome: str  # rejected | unknown
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderProgress(Event):
    """A trade update (new, partial fill, fill, canceled...) seen while waiting."""

    kind: ClassVar[str] = "order_update"
    client_order_id: str
    symbol: str
    status: str
    filled_qty: Decimal
    avg_price: Decimal | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StepFinished(Event):
    kind: ClassVar[str] = "step"
    client_order_id: str
    order_id: str
    symbol: str
    step: int
    order_type: str
    ratio: Decimal | None
    limit_price: Decimal | None
    qty: Decimal
    status: str
    filled_qty: Decimal
    avg_price: Decimal | None
    total_filled: Decimal
    remaining: Decimal
    seconds: float
    at: datetime


@dataclass(frozen=True, slots=True)
class MarkOut(Event):
    """The mid ``horizon_seconds`` after a fill, against the fill's price.

    ``markout_bps`` is signed for the filled side: positive when the price moved in the
    order's favour afterwards (bought below the later mid), negative when it moved
    against it (adverse selection).
    """

    kind: ClassVar[str] = "markout"
    client_order_id: str
    symbol: str
    side: str
    step: int
    order_type: str
    ratio: Decimal | None
    fill_price: Decimal
    filled_qty: Decimal
    horizon_seconds: float
    mid: Decimal
    markout_bps: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class ValidationDone(Event):
    kind: ClassVar[str] = "validation"
    symbol: str
    expected: Decimal
    actual: Decimal | None
    passed: bool
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderDone(Event):
    kind: ClassVar[str] = "execution"
    symbol: str
    side: str
    status: str
    requested_qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    arrival_mid: Decimal | None
    slippage_bps: Decimal | None
    steps_used: int
    fill_step: str | None
    seconds: float
    validation_passed: bool | None
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PhaseStarted(Event):
    kind: ClassVar[str] = "phase"
    phase: str
    orders: int
    at: datetime


@dataclass(frozen=True, slots=True)
class CheckRow:
    symbol: str
    target_weight: Decimal
    expected_qty: Decimal
    actual_qty: Decimal
    difference: Decimal
    passed: bool


@dataclass(frozen=True, slots=True)
class PortfolioChecked(Event):
    kind: ClassVar[str] = "portfolio_check"
    rows: tuple[CheckRow, ...]
    passed: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    run_id: str
    status: str
    exit_code: int
    summary: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


Observer = Callable[[Event], None]


class EventBus:
    """Fans events out to observers in registration order (journal first)."""

    def __init__(self, *observers: Observer) -> None:
        self._observers: list[Observer] = list(observers)

    def add(self, observer: Observer) -> None:
        self._observers.append(observer)

    def __call__(self, event: Event) -> None:
        for observer in self._observers:
            observer(event)


@dataclass(frozen=True, slots=True)
class PlanReady(Event):
    """The trades a rebalance intends to make (also what --dry-run shows)."""

    kind: ClassVar[str] = "plan"
    plan: str
    equity: Decimal
    cash: Decimal
    trades: tuple[Any, ...]  # PlannedTrade records
    turnover: Decimal
    estimated_cost: Decimal
    dry_run: bool
    at: datetime
