"""The order desk: one order's I/O with the broker, for the walk.

- a submission is sent once; an unknown outcome is resolved by looking the
  client_order_id up, and only an order proven absent is sent again, under the *same*
  client_order_id (the broker refuses a duplicate);
- an order is awaited on the trade-updates stream while it is healthy (a terminal state
  is believed when the stream reported every execution it counts), over REST otherwise;
- a cancel is confirmed: the order reaches a terminal state (fills during the cancel
  count) or the walk stops with :class:`UnknownOrderStateError` (fail closed).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal

from alchemiser_cli.brokers.port import (
    Broker,
    BrokerError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    TransientBrokerError,
)
from alchemiser_cli.clock import MIN_WAIT, Clock
from alchemiser_cli.domain.events import Notice, Observer, OrderProgress
from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.orders import Order, OrderRequest, OrderType, TradeUpdate


class UnknownOrderStateError(Exception):
    """An order's outcome could not be established; nothing more is sent for it."""


@dataclass(frozen=True, slots=True)
class WalkConfig:
    """How long and how often the desk waits, looks up and retries (execution settings)."""

    cancel_confirm_seconds: float = 10.0
    poll_interval_seconds: float = 1.0
    lookup_attempts: int = 3
    submit_attempts: int = 3
    markout_seconds: float = 5.0  # 0: no mark-outs


@dataclass(slots=True)
class WorkingOrder:
    """The order of a walk that is live at the broker."""

    order: Order
    cid: str
    step: int
    order_type: OrderType
    ratio: Decimal | None
    price: Decimal | None
    qty: Decimal
    bid: Decimal | None  # the quote that priced it
    ask: Decimal | None
    total_before: Decimal
    started: float  # monotonic, at submission
    last_fill_at: float | None = None
    #: Shares the trade-updates stream reported as executions of this order; None once an
    #: event came without its execution's size (then only REST can be believed).
    stream_filled: Decimal | None = ZERO

    def heard(self, update: TradeUpdate) -> None:
        """Count an execution the stream reported (``fill`` / ``partial_fill``)."""
        if update.event in ("fill", "partial_fill") and self.stream_filled is not None:
            self.stream_filled = None if update.qty is None else self.stream_filled + update.qty

    def accounts_for(self, order: Order) -> bool:
        """The stream's order agrees with every execution it reported: no event was missed."""
        return self.stream_filled is not None and order.filled_qty == self.stream_filled


class OrderDesk:
    """Submits, awaits and cancels the orders of walks (one desk per placement core)."""

    def __init__(self, broker: Broker, clock: Clock, emit: Observer, config: WalkConfig) -> None:
        self._broker = broker
        self._clock = clock
        self._emit = emit
        self._cfg = config
        self._stream_loss_reported = False

    async def submit_resolving(self, request: OrderRequest) -> Order:
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
                adopted = await self.lookup(cid)
                if adopted is None:
                    raise UnknownOrderStateError(
                        f"{cid} already used but not found; stopped") from None
                return adopted
            except TransientBrokerError as exc:
                adopted = await self.lookup(cid)
                if adopted is not None:
                    return adopted
                last = exc
        raise UnknownOrderStateError(
            f"submission of {cid} failed {self._cfg.submit_attempts} times ({last}); "
            "the order is not at the broker")

    async def lookup(self, cid: str) -> Order | None:
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

    async def wait(self, live: WorkingOrder, until: float) -> Order:
        """Wait until the order is terminal or ``until``: trade-updates stream first, REST
        polling otherwise.

        A terminal state from the stream is believed when it accounts for every execution
        the stream reported (no event was missed); otherwise one REST read confirms it.
        When the wait ends with the order still working, the last known state is returned
        (and kept on ``live``): the caller either waits more or cancels it and confirms
        that, so no read is spent on an order about to be cancelled.
        """
        order = live.order
        if order.status.terminal:  # ended before the wait (the broker's own answer): final
            return order
        last = order
        stream_ok = await self._broker.trade_stream_ok()
        while stream_ok and (left := until - self._clock.monotonic()) > MIN_WAIT:
            # wait in short slices so a stream that drops mid-wait is noticed
            update = await self._broker.wait_order_update(order.id, min(left, 1.0))
            if update is None:
                stream_ok = await self._broker.trade_stream_ok()
                continue
            live.heard(update)
            last = self.seen(live, update.order)
            self._emit(OrderProgress(live.cid, order.symbol, last.status.value, last.filled_qty,
                                     last.filled_avg_price, self._clock.now()))
            if last.status.terminal:
                if not live.accounts_for(last):  # an execution the stream never reported
                    live.order = await self._broker.get_order(order.id)
                return live.order
        if not stream_ok:
            self.report_stream_loss(order.symbol)
            while (left := until - self._clock.monotonic()) > MIN_WAIT:
                await self._clock.sleep(min(self._cfg.poll_interval_seconds, left))
                last = self.seen(live, await self._broker.get_order(order.id))
                if last.status.terminal:
                    return last
        return last

    def seen(self, live: WorkingOrder, order: Order) -> Order:
        if order.filled_qty > live.order.filled_qty:
            live.last_fill_at = self._clock.monotonic()
        live.order = order
        return order

    def report_stream_loss(self, symbol: str) -> None:
        if not self._stream_loss_reported:
            self._stream_loss_reported = True
            self._emit(Notice("warning", "trade-update stream lost; polling orders over REST",
                              symbol))

    async def cancel_and_confirm(self, order: Order, live: WorkingOrder | None = None) -> Order:
        """Cancel, then confirm a terminal state (fills during the cancel count).

        With a healthy stream the cancel's outcome (canceled, or filled meanwhile) is awaited
        there; it is believed without a REST read when the walk's ``live`` order has heard
        every execution it reports. Otherwise REST is read until the order is terminal.
        """
        # NotCancelable: already terminal (typically filled during the cancel); the re-read tells
        with contextlib.suppress(NotCancelableError):
            await self._broker.cancel_order(order.id)
        deadline = self._clock.monotonic() + self._cfg.cancel_confirm_seconds
        if await self._broker.trade_stream_ok():
            while (left := deadline - self._clock.monotonic()) > MIN_WAIT:
                update = await self._broker.wait_order_update(order.id, min(left, 1.0))
                if update is not None:
                    if live is not None:
                        live.heard(update)
                    if update.order.status.terminal:
                        if live is not None and live.accounts_for(update.order):
                            return update.order  # the stream told the whole story
                        break
                elif not await self._broker.trade_stream_ok():
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

    async def cancel_quietly(self, order_id: str) -> None:
        try:
            current = await self._broker.get_order(order_id)
            if not current.status.terminal:
                await self.cancel_and_confirm(current)
        except (BrokerError, UnknownOrderStateError):
            pass
