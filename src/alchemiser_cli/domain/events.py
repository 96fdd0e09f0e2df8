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
    account: str | None = None  # the [accounts.NAME] the run works on, if one was named


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
    feed: str | None = None  # the market-data feed the quote came from (iex, sip), if known


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
    #: How long the walk lets this order rest before its next step (or, for the final
    #: step, before it cancels what is left); None when not known (older journals).
    wait_seconds: float | None = None


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
class LeftoverCancelled(Event):
    """An open order of an earlier, dead run, cancelled before this run placed anything."""

    kind: ClassVar[str] = "leftover_cancelled"
    client_order_id: str
    run_id: str
    symbol: str
    side: str
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One symbol after a rebalance: does the position match what the fills imply
    (``passed``), and how close is it to the plan (``achieved_weight`` vs
    ``target_weight``; ``short`` when a buy was cut for lack of cash)."""

    symbol: str
    target_weight: Decimal
    expected_qty: Decimal
    actual_qty: Decimal
    difference: Decimal
    passed: bool
    target_qty: Decimal | None = None
    achieved_weight: Decimal | None = None
    short: bool = False


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
    """Fans events out: first to the recorder (the journal), then to observers in order.

    The recorder must succeed before the core goes on: its first failure is raised to
    the caller (so an order whose submission could not be journaled is never sent, and
    the run stops). After that the bus is *degraded*: the recorder is skipped and every
    event still reaches the other observers, so the run can report and cancel its open
    orders on the way out without the journal.
    """

    def __init__(self, recorder: Observer | None = None, *observers: Observer) -> None:
        self._recorder = recorder
        self._observers: list[Observer] = list(observers)
        self.recorder_failure: Exception | None = None

    def add(self, observer: Observer, *, first: bool = False) -> None:
        """Add an observer; ``first`` puts it before the others (right after the recorder)."""
        if first:
            self._observers.insert(0, observer)
        else:
            self._observers.append(observer)

    def remove(self, observer: Observer) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def __call__(self, event: Event) -> None:
        failure: Exception | None = None
        if self._recorder is not None and self.recorder_failure is None:
            try:
                self._recorder(event)
            except Exception as exc:
                self.recorder_failure = failure = exc
        for observer in self._observers:
            observer(event)
        if failure is not None:
            raise failure


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
