"""The placement service: the single entry point every command uses to trade.

quote -> size -> walk the book -> confirm the position -> ExecutionResult.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from alchemiser_cli.brokers.port import Broker, BrokerError, NotFoundError
from alchemiser_cli.clock import Clock
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
)
from alchemiser_cli.settings import Settings

MAX_CLIENT_ORDER_ID = 48  # Alpaca allows 128; the older documented limit is kept as a margin


@dataclass(frozen=True, slots=True)
class PlacementConfig:
    profiles: Mapping[Urgency, WalkProfile]
    walk: WalkConfig
    quote_policy: QuotePolicy
    stream_timeout_seconds: float
    tolerance: Decimal
    validation_timeout_seconds: float
    poll_seconds: float

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
        )


def client_order_id_base(run_id: str, symbol: str) -> str:
    """``alch-<run>-<SYMBOL>``; steps append ``-1``, ``-2``, ``-3`` or ``-m``."""
    base = f"alch-{run_id}-{symbol.replace('/', '_')}"
    if len(base) + 2 > MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client_order_id for {symbol} would exceed {MAX_CLIENT_ORDER_ID} chars")
    return base


class PlacementService:
    def __init__(self, broker: Broker, clock: Clock, emit: Observer, config: PlacementConfig) -> None:
        self._broker = broker
        self._clock = clock
        self._emit = emit
        self._config = config
        self.quotes = QuoteService(broker, clock, config.quote_policy,
                                   config.stream_timeout_seconds, emit)
        self.walker = Walker(broker, clock, self.quotes, emit, config.walk)
        self.validator = PortfolioValidator(
            broker, clock, emit, tolerance=config.tolerance,
            timeout_seconds=config.validation_timeout_seconds, poll_seconds=config.poll_seconds)

    async def place(self, intent: OrderIntent, *, id_base: str, asset: Asset | None = None,
                    position_before: Decimal | None = None) -> ExecutionResult:
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
        outcome = await self.walker.walk(
            symbol=symbol, side=intent.side, qty=qty, profile=self._config.profiles[intent.urgency],
            arrival=arrival, id_base=id_base)
        full_close = intent.close_type is CloseType.FULL and outcome.filled_qty == qty
        expected = ZERO if full_close else position_before + intent.side.sign * outcome.filled_qty
        validation = await self.validator.confirm(symbol, expected, exact=full_close)
        if not validation.passed:
            status = ExecutionStatus.FAILED
        elif outcome.filled_qty == qty and outcome.error is None:
            status = ExecutionStatus.FILLED
        elif outcome.filled_qty > ZERO:
            status = ExecutionStatus.PARTIAL
        else:
            status = ExecutionStatus.FAILED
        error = outcome.error
        if not validation.passed:
            error = f"position check failed: {validation.message}" + (f"; {error}" if error else "")
        result = self._finish(intent, status, qty, outcome.filled_qty, outcome.avg_price,
                              arrival, outcome.steps, validation, started, error)
        await self.walker.settle(outcome)  # the mark-outs, after the order is done
        return result

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
            avg_price=avg,
            arrival_bid=quote.bid if usable and quote is not None else None,
            arrival_ask=quote.ask if usable and quote is not None else None,
            steps=steps, validation=validation, started_at=started,
            finished_at=self._clock.now(), error=error,
        )
        self._emit(OrderDone(
            symbol=intent.symbol, side=intent.side.value, status=status.value,
            requested_qty=requested, filled_qty=filled, avg_price=avg,
            arrival_mid=result.arrival_mid, slippage_bps=result.slippage_bps,
            steps_used=len(steps), fill_step=result.fill_step, seconds=result.seconds,
            validation_passed=None if validation is None else validation.passed,
            error=error, at=result.finished_at,
        ))
        return result
