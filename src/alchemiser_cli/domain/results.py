"""Audit records returned by the placement core."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from alchemiser_cli.domain.errors import ExitCode
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.money import ZERO, bps
from alchemiser_cli.domain.orders import OrderStatus, OrderType

#: Ends of an order that, reported with an error, mean someone other than the walk ended it.
ENDED_ELSEWHERE = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.DONE_FOR_DAY,
                             OrderStatus.REPLACED, OrderStatus.SUSPENDED, OrderStatus.STOPPED})


class ExecutionStatus(StrEnum):
    FILLED = "filled"  # the whole quantity filled and the position check passed
    PARTIAL = "partial"  # something filled, not everything
    FAILED = "failed"  # nothing filled, or the check failed, or the broker state is unknown
    NOT_PLACED = "not_placed"  # refused before any order was sent


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: int
    order_type: OrderType
    ratio: Decimal | None
    client_order_id: str
    order_id: str | None
    qty: Decimal
    limit_price: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    status: OrderStatus
    filled_qty: Decimal
    avg_price: Decimal | None
    seconds: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationResult:
    symbol: str
    expected: Decimal
    actual: Decimal | None
    tolerance: Decimal
    passed: bool
    message: str

    @property
    def discrepancy(self) -> Decimal | None:
        return None if self.actual is None else self.actual - self.expected


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """Everything that happened to one intent, for the journal and the operator."""

    intent: OrderIntent
    status: ExecutionStatus
    requested_qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    arrival_bid: Decimal | None
    arrival_ask: Decimal | None
    steps: tuple[StepRecord, ...]
    validation: ValidationResult | None
    started_at: datetime
    finished_at: datetime
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is ExecutionStatus.FILLED

    @property
    def unsettled(self) -> bool:
        """Some order's end could not be established (it may still be working)."""
        return any(s.status is OrderStatus.UNKNOWN for s in self.steps)

    @property
    def ended_elsewhere(self) -> bool:
        """An order of this walk was cancelled, expired or ended by someone else: a step that
        ended without filling and with an error (our own cancels carry none)."""
        return any(s.error is not None and s.status in ENDED_ELSEWHERE for s in self.steps)

    @property
    def exit_code(self) -> ExitCode:
        """The documented exit code of a command that placed only this order."""
        if self.status is ExecutionStatus.FILLED:
            return ExitCode.OK
        if self.status is ExecutionStatus.NOT_PLACED:
            return ExitCode.REFUSED
        if any(s.status is OrderStatus.UNKNOWN for s in self.steps):
            return ExitCode.BROKER  # an order may still be working: stopped, look at it
        return ExitCode.FAILED

    @property
    def arrival_mid(self) -> Decimal | None:
        if self.arrival_bid is None or self.arrival_ask is None:
            return None
        return (self.arrival_bid + self.arrival_ask) / 2

    @property
    def slippage_bps(self) -> Decimal | None:
        """Cost against the arrival mid: positive means worse than mid."""
        mid = self.arrival_mid
        if mid is None or self.avg_price is None or mid == ZERO:
            return None
        diff = self.avg_price - mid if self.intent.side is Side.BUY else mid - self.avg_price
        return bps(diff, mid)

    @property
    def fill_step(self) -> str | None:
        """Which step completed the order: '1', '2', '3' or 'market'."""
        for rec in reversed(self.steps):
            if rec.filled_qty > ZERO:
                return "market" if rec.order_type is OrderType.MARKET else str(rec.step)
        return None

    @property
    def seconds(self) -> float:
        return round((self.finished_at - self.started_at).total_seconds(), 3)


def with_validation(result: ExecutionResult, validation: ValidationResult) -> ExecutionResult:
    """``result`` once its position has been checked: a failed check fails the order."""
    if validation.passed:
        return replace(result, validation=validation)
    error = f"position check failed: {validation.message}" + (
        f"; {result.error}" if result.error else "")
    return replace(result, validation=validation, status=ExecutionStatus.FAILED, error=error)
