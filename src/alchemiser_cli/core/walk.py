"""Walk the book: limit at 75% -> 85% -> 95% of the spread, then market.

Between steps: cancel, confirm the cancel reached a terminal state, re-read the
filled quantity (a fill can land during the cancel), and order only the
remainder. The quote is re-taken at every step. A rejection ends the walk
without escalation; an order whose state cannot be confirmed ends it too
(fail closed). Cancellation of the task (Ctrl-C) cancels the live order first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from alchemiser_cli.brokers.port import (
    Broker,
    BrokerError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    OrderRejectedError,
    TransientBrokerError,
)
from alchemiser_cli.clock import MIN_WAIT, Clock
from alchemiser_cli.core.quote_service import QuoteService
from alchemiser_cli.domain.events import (
    Notice,
    Observer,
    OrderAccepted,
    OrderProgress,
    OrderSubmitFailed,
    OrderSubmitting,
    StepFinished,
)
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.ladder import WalkProfile, ladder_price
from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.orders import Order, OrderRequest, OrderStatus, OrderType
from alchemiser_cli.domain.quotes import AssessedQuote
from alchemiser_cli.domain.results import StepRecord

_Recorder = Callable[[Order | None, OrderStatus, str | None], StepRecord]


class UnknownOrderStateError(Exception):
    """An order's outcome could not be established; nothing more is sent for it."""


@dataclass(frozen=True, slots=True)
class WalkConfig:
    cancel_confirm_seconds: float = 10.0
    poll_interval_seconds: float = 1.0
    lookup_attempts: int = 3
    submit_attempts: int = 3


@dataclass(frozen=True, slots=True)
class WalkOutcome:
    steps: tuple[StepRecord, ...]
    filled_qty: Decimal
    avg_price: Decimal | None
    error: str | None


class Walker:
    def __init__(self, broker: Broker, clock: Clock, quotes: QuoteService, emit: Observer,
                 config: WalkConfig) -> None:
        self._broker = broker
        self._clock = clock
        self._quotes = quotes
        self._emit = emit
        self._cfg = config
        self._stream_loss_reported = False

    async def walk(self, *, symbol: str, side: Side, qty: Decimal, profile: WalkProfile,
                   arrival: AssessedQuote, id_base: str) -> WalkOutcome:
        steps: list[StepRecord] = []
        remaining = qty
        error: str | None = None
        quote = arrival
        for index, ratio in enumerate(profile.ratios, start=1):
            if index > 1:
                quote = await self._quotes.quote(symbol)
            if not quote.usable:
                error = f"no usable quote before step {index} ({quote.problem}); walk stopped"
                break
            price = ladder_price(side, quote.bid, quote.ask, ratio)
            rec = await self._run_order(
                symbol=symbol, side=side, step=index, order_type=OrderType.LIMIT, ratio=ratio,
                qty=remaining, price=price, quote=quote, wait=profile.step_wait_seconds,
                cid=f"{id_base}-{index}", total_before=qty - remaining,
            )
            steps.append(rec)
            remaining -= rec.filled_qty
            if rec.error is not None:
                error = rec.error
                break
            if remaining <= ZERO:
                break
        else:
            market_quote = arrival
            if remaining > ZERO and profile.ratios:
                market_quote = await self._quotes.quote(symbol)
            if remaining > ZERO and not market_quote.usable:
                error = (f"no usable quote before the market step ({market_quote.problem}); "
                         "walk stopped without a market order")
            elif remaining > ZERO:
                rec = await self._run_order(
                    symbol=symbol, side=side, step=len(profile.ratios) + 1,
                    order_type=OrderType.MARKET, ratio=None, qty=remaining, price=None,
                    quote=market_quote, wait=profile.market_wait_seconds,
                    cid=f"{id_base}-m", total_before=qty - remaining,
                )
                steps.append(rec)
                remaining -= rec.filled_qty
                if rec.error is not None:
                    error = rec.error
                elif remaining > ZERO:
                    error = f"market order left {remaining} unfilled; cancelled"
        filled = qty - remaining
        notional = sum((r.filled_qty * r.avg_price for r in steps if r.avg_price is not None), ZERO)
        avg = (notional / filled).quantize(Decimal("0.000001")) if filled > ZERO else None
        return WalkOutcome(tuple(steps), filled, avg, error)

    async def _run_order(self, *, symbol: str, side: Side, step: int, order_type: OrderType,
                         ratio: Decimal | None, qty: Decimal, price: Decimal | None,
                         quote: AssessedQuote, wait: float, cid: str,
                         total_before: Decimal) -> StepRecord:
        start = self._clock.monotonic()
        bid = quote.bid if quote.usable else None
        ask = quote.ask if quote.usable else None

        def record(order: Order | None, status: OrderStatus, error: str | None) -> StepRecord:
            filled = order.filled_qty if order else ZERO
            rec = StepRecord(
                step=step, order_type=order_type, ratio=ratio, client_order_id=cid,
                order_id=order.id if order else None, qty=qty, limit_price=price, bid=bid,
                ask=ask, status=status, filled_qty=filled,
                avg_price=order.filled_avg_price if order else None,
                seconds=round(self._clock.monotonic() - start, 3), error=error,
            )
            self._emit(StepFinished(
                client_order_id=cid, order_id=rec.order_id or "", symbol=symbol, step=step,
                order_type=order_type.value, ratio=ratio, limit_price=price, qty=qty,
                status=status.value, filled_qty=filled, avg_price=rec.avg_price,
                total_filled=total_before + filled, remaining=qty - filled,
                seconds=rec.seconds, at=self._clock.now(),
            ))
            return rec

        self._emit(OrderSubmitting(
            client_order_id=cid, symbol=symbol, side=side.value, order_type=order_type.value,
            qty=qty, limit_price=price, step=step, ratio=ratio, bid=bid, ask=ask,
            at=self._clock.now(),
        ))
        request = OrderRequest(cid, symbol, side, qty, order_type, price)
        try:
            order = await self._submit_resolving(request)
        except OrderRejectedError as exc:
            return self._failed(record, cid, symbol, "rejected", f"rejected: {exc}")
        except UnknownOrderStateError as exc:
            return self._failed(record, cid, symbol, "unknown", str(exc))
        except BrokerError as exc:
            return self._failed(record, cid, symbol, "rejected", f"submission failed: {exc}")
        self._emit(OrderAccepted(cid, symbol, order.id, order.status.value, self._clock.now()))
        try:
            final = await self._await_terminal(order, wait, cid)
            if not final.status.terminal:
                final = await self.cancel_and_confirm(final)
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel_quietly(order.id))
            raise
        except UnknownOrderStateError as exc:
            return record(None, OrderStatus.UNKNOWN, str(exc))
        except BrokerError as exc:
            return record(None, OrderStatus.UNKNOWN, f"lost track of {cid}: {exc}")
        error = None
        if final.status is OrderStatus.REJECTED:
            error = f"rejected at step {step}: {final.reject_reason or 'no reason given'}"
        return record(final, final.status, error)

    def _failed(self, record: _Recorder, cid: str, symbol: str, outcome: str,
                message: str) -> StepRecord:
        self._emit(OrderSubmitFailed(cid, symbol, outcome, message, self._clock.now()))
        status = OrderStatus.REJECTED if outcome == "rejected" else OrderStatus.UNKNOWN
        return record(None, status, message)

    async def _submit_resolving(self, request: OrderRequest) -> Order:
        """Submit once; if the outcome is unknown, look the client_order_id up.

        Only when the lookup proves the order is not at the broker is it sent again, with
        the *same* client_order_id, so the broker itself refuses any duplicate.
        """
        cid = request.client_order_id
        last: BrokerError | None = None
        for _ in range(self._cfg.submit_attempts):
            try:
                return await self._broker.submit_order(request)
            except DuplicateClientOrderIdError:
                adopted = await self._lookup(cid)
                if adopted is None:
                    raise UnknownOrderStateError(
                        f"{cid} already used but not found; stopped") from None
                return adopted
            except TransientBrokerError as exc:
                adopted = await self._lookup(cid)
                if adopted is not None:
                    return adopted
                last = exc
        raise UnknownOrderStateError(
            f"submission of {cid} failed {self._cfg.submit_attempts} times ({last}); "
            "the order is not at the broker")

    async def _lookup(self, cid: str) -> Order | None:
        """Resolve an unknown submission outcome by client_order_id (never by resending)."""
        for attempt in range(self._cfg.lookup_attempts):
            try:
                found = await self._broker.get_order_by_client_id(cid)
            except BrokerError:
                found = None
            if found is not None:
                return found
            await self._clock.sleep(self._cfg.poll_interval_seconds * (attempt + 1))
        return None

    async def _await_terminal(self, order: Order, wait: float, cid: str) -> Order:
        """Wait for the order to finish: trade-updates stream first, REST polling otherwise.

        A terminal state is always confirmed by a REST read. When the wait ends with the
        order still working, the last known state is returned (the caller cancels it and
        confirms that over REST), so no read is spent on an order about to be cancelled.
        """
        deadline = self._clock.monotonic() + wait
        if order.status.terminal:
            return await self._broker.get_order(order.id)
        last = order
        stream_ok = await self._broker.trade_stream_ok()
        while stream_ok and (left := deadline - self._clock.monotonic()) > MIN_WAIT:
            # wait in short slices so a stream that drops mid-wait is noticed
            update = await self._broker.wait_order_update(order.id, min(left, 1.0))
            if update is None:
                stream_ok = await self._broker.trade_stream_ok()
                continue
            last = update.order
            self._emit(OrderProgress(cid, order.symbol, last.status.value, last.filled_qty,
                                     last.filled_avg_price, self._clock.now()))
            if last.status.terminal:
                return await self._broker.get_order(order.id)  # REST confirms the stream
        if not stream_ok:
            self._report_stream_loss(order.symbol)
            while (left := deadline - self._clock.monotonic()) > MIN_WAIT:
                await self._clock.sleep(min(self._cfg.poll_interval_seconds, left))
                last = await self._broker.get_order(order.id)
                if last.status.terminal:
                    return last
        return last

    def _report_stream_loss(self, symbol: str) -> None:
        if not self._stream_loss_reported:
            self._stream_loss_reported = True
            self._emit(Notice("warning", "trade-update stream lost; polling orders over REST",
                              symbol))

    async def cancel_and_confirm(self, order: Order) -> Order:
        """Cancel, then confirm a terminal state over REST (fills during the cancel count).

        With a healthy stream the cancel's outcome (canceled, or filled meanwhile) is
        awaited there first, so REST is read once rather than polled.
        """
        # NotCancelable: already terminal (typically filled during the cancel); the re-read tells
        with contextlib.suppress(NotCancelableError):
            await self._broker.cancel_order(order.id)
        deadline = self._clock.monotonic() + self._cfg.cancel_confirm_seconds
        if await self._broker.trade_stream_ok():
            while (left := deadline - self._clock.monotonic()) > MIN_WAIT:
                update = await self._broker.wait_order_update(order.id, min(left, 1.0))
                if update is not None and update.order.status.terminal:
                    break
                if update is None and not await self._broker.trade_stream_ok():
                    break
        delay = 0.1
        while True:
            current = await self._broker.get_order(order.id)
            if current.status.terminal:
                return current
            if self._clock.monotonic() >= deadline:
                raise UnknownOrderStateError(
                    f"cancel of {order.client_order_id} not confirmed within "
                    f"{self._cfg.cancel_confirm_seconds:g}s (status {current.status}); stopped")
            await self._clock.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _cancel_quietly(self, order_id: str) -> None:
        try:
            current = await self._broker.get_order(order_id)
            if not current.status.terminal:
                await self.cancel_and_confirm(current)
        except (BrokerError, UnknownOrderStateError):
            pass
