"""The placement service: the single entry point every command uses to trade.

quote -> size -> walk the book -> confirm the position -> ExecutionResult.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from alchemiser_cli.brokers.port import Broker, BrokerError, NotFoundError
from alchemiser_cli.clock import Clock
from alchemiser_cli.core.guards import order_refusal, turnover_refusal
from alchemiser_cli.core.quote_service import QuoteService
from alchemiser_cli.core.validator import PortfolioValidator
from alchemiser_cli.core.walk import WalkConfig, Walker
from alchemiser_cli.domain.events import Observer, OrderDone
from alchemiser_cli.domain.intents import CloseType, OrderIntent, Side, Urgency
from alchemiser_cli.domain.ladder import WalkProfile
from alchemiser_cli.domain.money import ZERO, normalize, quantize_qty
from alchemiser_cli.domain.orders import Asset
from alchemiser_cli.domain.quotes import AssessedQuote, QuotePolicy
from alchemiser_cli.domain.results import (
    ExecutionResult,
    ExecutionStatus,
    StepRecord,
    ValidationResult,
    with_validation,
)
from alchemiser_cli.settings import GuardSettings, Settings


@dataclass(frozen=True, slots=True)
class PlacementConfig:
    profiles: Mapping[Urgency, WalkProfile]
    walk: WalkConfig
    quote_policy: QuotePolicy
    stream_timeout_seconds: float
    tolerance: Decimal
    validation_timeout_seconds: float
    poll_seconds: float
    guards: GuardSettings = field(default_factory=GuardSettings)

    @classmethod
    def from_settings(cls, settings: Settings) -> PlacementConfig:
        ex = settings.execution
        return cls(
            profiles={u: settings.profile(u) for u in Urgency},
            walk=WalkConfig(ex.cancel_confirm_seconds, ex.poll_interval_seconds,
                            markout_seconds=ex.markout_seconds),
            quote_policy=settings.quotes.to_policy(),
            stream_timeout_seconds=settings.quotes.stream_timeout_seconds,
            tolerance=ex.validation_tolerance,
            validation_timeout_seconds=ex.validation_timeout_seconds,
            poll_seconds=ex.poll_interval_seconds,
            guards=settings.guards,
        )


class PlacementService:
    def __init__(self, broker: Broker, clock: Clock, emit: Observer, config: PlacementConfig) -> None:
        self._broker = broker
        self._clock = clock
        self._emit = emit
        self._config = config
        self.quotes = QuoteService(broker, clock, config.quote_policy,
                                   config.stream_timeout_seconds, emit)
        self.walker = Walker(broker, clock, self.quotes, emit, config.walk)
        self._markouts: list[asyncio.Task[None]] = []
        self.validator = PortfolioValidator(
            broker, clock, emit, tolerance=config.tolerance,
            timeout_seconds=config.validation_timeout_seconds, poll_seconds=config.poll_seconds)

    async def place(self, intent: OrderIntent, *, id_base: str, asset: Asset | None = None,
                    position_before: Decimal | None = None,
                    equity: Decimal | None = None, validate: bool = True) -> ExecutionResult:
        """Quote, size, check the guard rails, walk the book, confirm the position.

        ``equity``, when given, also applies the turnover guard to this one order. With
        ``validate`` False the caller checks the position itself (a rebalance checks every
        position from one read after the walks) and applies it with ``with_validation``.
        """
        started = self._clock.now()
        symbol = intent.symbol

        def refuse(message: str, quote: AssessedQuote | None = None) -> ExecutionResult:
            return self._finish(intent, ExecutionStatus.NOT_PLACED, ZERO, ZERO, None, quote, (),
                                None, started, message)

        try:
            if asset is None:
                asset = await self._broker.get_asset(symbol)
            if position_before is None:
                position = await self._broker.get_position(symbol)
                position_before = position.qty if position is not None else ZERO
        except NotFoundError:
            return refuse(f"{symbol} is not a known asset")
        except BrokerError as exc:
            return refuse(f"could not read {symbol} from the broker: {exc}")
        if not asset.tradable:
            return refuse(f"{symbol} is not tradable")
        arrival = await self.quotes.quote(symbol)
        if not arrival.usable:
            return refuse(f"no usable quote for {symbol} ({arrival.problem}); nothing placed")
        qty_or_error = self._size(intent, asset, arrival, position_before)
        if isinstance(qty_or_error, str):
            return refuse(qty_or_error, arrival)
        qty = qty_or_error
        notional = qty * arrival.ask  # what the order may cost at the far touch
        refusal = order_refusal(symbol, notional, self._config.guards) or (
            None if equity is None else turnover_refusal([notional], equity, self._config.guards))
        if refusal is not None:
            return refuse(refusal, arrival)
        outcome = await self.walker.walk(
            symbol=symbol, side=intent.side, qty=qty, profile=self._config.profiles[intent.urgency],
            arrival=arrival, id_base=id_base)
        if outcome.filled_qty == qty and outcome.error is None:
            status = ExecutionStatus.FILLED
        elif outcome.filled_qty > ZERO:
            status = ExecutionStatus.PARTIAL
        else:
            status = ExecutionStatus.FAILED
        validation: ValidationResult | None = None
        if validate:
            full_close = intent.close_type is CloseType.FULL and outcome.filled_qty == qty
            expected = ZERO if full_close else (
                position_before + intent.side.sign * outcome.filled_qty)
            validation = await self.validator.confirm(symbol, expected, exact=full_close)
        self._markouts.extend(outcome.markouts)  # measured in the background; see settle()
        return self._finish(intent, status, qty, outcome.filled_qty, outcome.avg_price, arrival,
                            outcome.steps, validation, started, outcome.error)

    async def settle(self) -> None:
        """Wait for the mark-outs still being measured (each at most ``markout_seconds``
        after its fill). Nothing waits for them while orders are walking."""
        pending, self._markouts = self._markouts, []
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def abandon_markouts(self) -> None:
        """A run that stops early does not wait for measurements."""
        pending, self._markouts = self._markouts, []
        for task in pending:
            task.cancel()

    def _size(self, intent: OrderIntent, asset: Asset, quote: AssessedQuote,
              position: Decimal) -> Decimal | str:
        symbol = intent.symbol
        if intent.close_type is CloseType.FULL:
            if position <= ZERO:
                return f"no {symbol} position to close"
            if intent.quantity is not None and intent.quantity != position:
                return (f"a full close of {symbol} sells the whole position ({normalize(position)}),"
                        f" not {normalize(intent.quantity)}")
            return position
        if intent.notional is not None:
            price = quote.ask if intent.side is Side.BUY else quote.bid
            qty = quantize_qty(intent.notional / price, asset.fractionable)
            if qty <= ZERO:
                return f"${intent.notional} buys less than one {symbol} share, which is not fractionable"
        else:
            assert intent.quantity is not None
            qty = intent.quantity
            if not asset.fractionable and qty % 1:
                return f"{symbol} is not fractionable; use a whole number of shares"
            if quantize_qty(qty, True) != qty:
                return "quantity has more than 9 decimals"
        if intent.side is Side.SELL and qty > position:
            return (f"cannot sell {normalize(qty)} {symbol}: the position is {normalize(position)}"
                    " (short selling is not supported)")
        return qty

    def _finish(self, intent: OrderIntent, status: ExecutionStatus, requested: Decimal,
                filled: Decimal, avg: Decimal | None, quote: AssessedQuote | None,
                steps: tuple[StepRecord, ...], validation: ValidationResult | None,
                started: datetime, error: str | None) -> ExecutionResult:
        usable = quote is not None and quote.usable
        result = ExecutionResult(
            intent=intent, status=status, requested_qty=requested, filled_qty=filled,
            avg_price=avg, arrival_bid=quote.bid if usable and quote else None,
            arrival_ask=quote.ask if usable and quote else None, steps=steps, validation=None,
            started_at=started, finished_at=self._clock.now(), error=error,
        )
        if validation is not None:
            result = with_validation(result, validation)
        self._emit(OrderDone(
            symbol=intent.symbol, side=intent.side.value, status=result.status.value,
            requested_qty=requested, filled_qty=filled, avg_price=avg,
            arrival_mid=result.arrival_mid, slippage_bps=result.slippage_bps,
            steps_used=len(steps), fill_step=result.fill_step, seconds=result.seconds,
            validation_passed=None if validation is None else validation.passed,
            error=result.error, at=result.finished_at,
        ))
        return result
