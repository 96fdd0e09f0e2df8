"""Walk the book: limit steps toward the aggressive side, then a market order (or a
marketable limit with a collar).

Guarantees, whatever the profile:

- every submission is journaled (``OrderSubmitting``) before it is sent, and an order
  POST is never resent blind (an unknown outcome is resolved by client_order_id);
- an order is only ever replaced by cancel -> confirm a terminal state -> re-read the
  fills -> order the remainder (fills during the cancel count), never by PATCH;
- the quote is re-taken before every step; an unusable quote stops the walk (the
  resting order, if any, is cancelled and its fills counted); a rejection ends it
  without escalating; an order whose state cannot be confirmed ends it (fail closed);
- cancellation of the task (Ctrl-C) cancels the live order first.

With the ``ticks`` ladder an order whose next step has the same price stays where it
is (keeping its place in the queue). With ``reprice`` a step follows the quote: when
the step's price moves, the order is replaced (cancel-confirm-new) with a fresh
client_order_id ``<base>-<step>r<n>``, after a minimum dwell and at most
``max_reprices`` times. After each fill the mid ``markout_seconds`` later is recorded
(a ``MarkOut`` event) from the quote stream, so live runs measure what the benchmark
measures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal

from alchemiser_cli.brokers.port import Broker, BrokerError, OrderRejectedError
from alchemiser_cli.clock import MIN_WAIT, Clock
from alchemiser_cli.core.order_desk import (
    OrderDesk,
    UnknownOrderStateError,
    WalkConfig,
    WorkingOrder,
)
from alchemiser_cli.core.quote_service import QuoteService
from alchemiser_cli.domain.events import (
    MarkOut,
    Notice,
    Observer,
    OrderAccepted,
    OrderSubmitFailed,
    OrderSubmitting,
    StepFinished,
)
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.ladder import (
    FinalStep,
    WalkProfile,
    marketable_limit_price,
    spread_ticks,
    step_price,
)
from alchemiser_cli.domain.money import ZERO, bps
from alchemiser_cli.domain.order_ids import MAX_CLIENT_ORDER_ID
from alchemiser_cli.domain.orders import Order, OrderRequest, OrderStatus, OrderType
from alchemiser_cli.domain.quotes import AssessedQuote
from alchemiser_cli.domain.results import StepRecord

__all__ = ["UnknownOrderStateError", "WalkConfig", "WalkOutcome", "Walker"]

#: How often a repriced step looks at the quote while its order rests.
REPRICE_CHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WalkOutcome:
    steps: tuple[StepRecord, ...]
    filled_qty: Decimal
    avg_price: Decimal | None
    error: str | None
    #: Mark-outs still being measured; :meth:`Walker.settle` waits for them.
    markouts: tuple[asyncio.Task[None], ...] = ()


@dataclass(slots=True)
class _Walk:
    symbol: str
    side: Side
    qty: Decimal
    profile: WalkProfile
    id_base: str
    remaining: Decimal
    steps: list[StepRecord] = field(default_factory=list)
    working: WorkingOrder | None = None
    error: str | None = None
    reprices: int = 0
    markouts: list[asyncio.Task[None]] = field(default_factory=list)
    final_quote: AssessedQuote | None = None  # a fresh quote the final step may use
    ladder_steps: int = 0  # limit steps that ran


class Walker:
    def __init__(self, broker: Broker, clock: Clock, quotes: QuoteService, emit: Observer,
                 config: WalkConfig) -> None:
        self._clock = clock
        self._quotes = quotes
        self._emit = emit
        self._cfg = config
        self._desk = OrderDesk(broker, clock, emit, config)

    async def walk(self, *, symbol: str, side: Side, qty: Decimal, profile: WalkProfile,
                   arrival: AssessedQuote, id_base: str) -> WalkOutcome:
        w = _Walk(symbol, side, qty, profile, id_base, remaining=qty)
        try:
            if await self._limit_steps(w, arrival):
                await self._final_step(w, arrival)
        except asyncio.CancelledError:
            if w.working is not None:
                await asyncio.shield(self._desk.cancel_quietly(w.working.order.id))
            for task in w.markouts:
                task.cancel()
            raise
        filled = qty - w.remaining
        notional = sum((r.filled_qty * r.avg_price for r in w.steps if r.avg_price is not None),
                       ZERO)
        avg = (notional / filled).quantize(Decimal("0.000001")) if filled > ZERO else None
        return WalkOutcome(tuple(w.steps), filled, avg, w.error, tuple(w.markouts))

    async def settle(self, outcome: WalkOutcome) -> None:
        """Wait for the walk's mark-outs (at most ``markout_seconds`` after its last fill)."""
        if outcome.markouts:
            await asyncio.gather(*outcome.markouts, return_exceptions=True)

    # -- the limit steps --------------------------------------------------------------------
    async def _limit_steps(self, w: _Walk, arrival: AssessedQuote) -> bool:
        """Run the ladder; True when the final step should follow."""
        profile = w.profile
        for index, ratio in enumerate(profile.ratios, start=1):
            if w.working is not None and not profile.keeps_orders and not await self._close(w):
                return False
            quote = arrival if index == 1 else await self._quotes.quote(w.symbol)
            if not quote.usable:
                problem = f"no usable quote before step {index} ({quote.problem}); walk stopped"
                if w.working is not None:
                    await self._close(w)
                w.error = w.error or problem
                return False
            if spread_ticks(quote.bid, quote.ask) < profile.min_spread_ticks:
                w.final_quote = quote  # too narrow to gain from a limit: to the final step
                break
            price = self._price(w, quote, ratio)
            if w.working is not None and w.working.price != price and not await self._close(w):
                return False
            if w.working is None and not await self._open(
                    w, index, OrderType.LIMIT, ratio, price, quote, f"{w.id_base}-{index}"):
                return False
            w.ladder_steps = index
            deadline = self._clock.monotonic() + profile.step_wait_seconds
            if not await self._rest(w, index, ratio, deadline):
                return False
        return w.working is None or await self._close(w)

    def _price(self, w: _Walk, quote: AssessedQuote, ratio: Decimal) -> Decimal:
        """The step's price from ``quote``, not counting our own resting order.

        Our order inside the spread *is* the near touch in the quote, and pricing from it
        would chase our own price. So when the near touch is at (or behind) our price, the
        public near touch is taken as the far touch minus the spread our order was priced
        from (never past our price), and the order only ever moves toward the far touch:
        moving it back would give up the best place in the queue.
        """
        bid, ask = quote.bid, quote.ask
        live = w.working
        kind, side = w.profile.ladder, w.side
        if live is None or live.price is None or live.bid is None or live.ask is None:
            return step_price(kind, side, bid, ask, ratio)
        width = live.ask - live.bid
        if side is Side.BUY and bid <= live.price:
            target = step_price(kind, side, min(ask - width, live.price), ask, ratio)
            return max(target, live.price)
        if side is Side.SELL and ask >= live.price:
            target = step_price(kind, side, bid, max(bid + width, live.price), ratio)
            return min(target, live.price)
        return step_price(kind, side, bid, ask, ratio)

    async def _rest(self, w: _Walk, index: int, ratio: Decimal, deadline: float) -> bool:
        """Let the working order rest until ``deadline``, repricing it if the profile says so.

        False when the walk is over (filled, or an error).
        """
        profile = w.profile
        repriced = 0  # in this step, for the client_order_id
        while True:  # every turn ends with an order resting, or returns
            live = w.working
            assert live is not None
            until = deadline
            if profile.reprice:
                until = min(deadline, self._clock.monotonic() + REPRICE_CHECK_SECONDS)
            order = await self._desk.wait(live, until)
            if order.status.terminal:
                self._add(w, self._record(w, live, order, order.status, self._ended(live, order)))
                if w.error is not None:
                    return False
                return w.remaining > ZERO
            left = deadline - self._clock.monotonic()
            if left <= MIN_WAIT:
                return True
            if not profile.reprice or w.reprices >= profile.max_reprices \
                    or self._clock.monotonic() - live.started < profile.min_dwell_seconds:
                continue
            peeked = await self._quotes.peek(w.symbol, min(left, REPRICE_CHECK_SECONDS))
            if peeked is None:
                continue
            target = self._price(w, peeked, ratio)
            if target == live.price:
                continue
            cid = f"{w.id_base}-{index}r{repriced + 1}"
            if len(cid) > MAX_CLIENT_ORDER_ID:
                self._emit(Notice("warning", f"{cid} would exceed {MAX_CLIENT_ORDER_ID} characters;"
                                  " the order is not repriced", w.symbol))
                w.reprices = profile.max_reprices
                continue
            self._quotes.record(peeked)  # the quote that prices the new order is on record
            if not await self._close(w):
                return False
            w.reprices += 1
            repriced += 1
            if not await self._open(w, index, OrderType.LIMIT, ratio, target, peeked, cid):
                return False

    # -- the final step ---------------------------------------------------------------------
    async def _final_step(self, w: _Walk, arrival: AssessedQuote) -> None:
        """The market order or marketable limit (the limit steps left shares to fill)."""
        profile = w.profile
        quote = w.final_quote or (await self._quotes.quote(w.symbol) if profile.ratios
                                  else arrival)
        step = w.ladder_steps + 1  # after the limit steps that ran (1: straight to it)
        if profile.final is FinalStep.MARKET:
            what, order_type, price, cid = ("market order", OrderType.MARKET, None,
                                            f"{w.id_base}-m")
        else:
            what, order_type, cid = (f"marketable limit (collar {profile.collar_bps} bps)",
                                     OrderType.LIMIT, f"{w.id_base}-c")
            price = None
        if not quote.usable:
            w.error = (f"no usable quote before the market step ({quote.problem}); "
                       f"walk stopped without a {what}")
            return
        if price is None and order_type is OrderType.LIMIT:
            price = marketable_limit_price(w.side, quote.bid, quote.ask, profile.collar_bps)
        if not await self._open(w, step, order_type, None, price, quote, cid):
            return
        live = w.working
        assert live is not None
        order = await self._desk.wait(live, self._clock.monotonic() + profile.market_wait_seconds)
        if order.status.terminal:
            self._add(w, self._record(w, live, order, order.status, self._ended(live, order)))
        else:
            await self._close(w)
        if w.error is None and w.remaining > ZERO:
            w.error = f"{what} left {w.remaining} unfilled; cancelled"

    # -- one order --------------------------------------------------------------------------
    async def _open(self, w: _Walk, step: int, order_type: OrderType, ratio: Decimal | None,
                    price: Decimal | None, quote: AssessedQuote, cid: str) -> bool:
        """Journal, then submit one order for the remainder; False (and the error set)
        when it could not be placed."""
        bid = quote.bid if quote.usable else None
        ask = quote.ask if quote.usable else None
        now = self._clock.now()
        live = WorkingOrder(  # the order is a placeholder until the broker has answered
            order=Order(id="", client_order_id=cid, symbol=w.symbol, side=w.side,
                        type=order_type, qty=w.remaining, filled_qty=ZERO,
                        filled_avg_price=None, limit_price=price, status=OrderStatus.UNKNOWN,
                        created_at=now, updated_at=now),
            cid=cid, step=step, order_type=order_type, ratio=ratio, price=price,
            qty=w.remaining, bid=bid, ask=ask, total_before=w.qty - w.remaining,
            started=self._clock.monotonic())
        self._emit(OrderSubmitting(
            client_order_id=cid, symbol=w.symbol, side=w.side.value, order_type=order_type.value,
            qty=w.remaining, limit_price=price, step=step, ratio=ratio, bid=bid, ask=ask, at=now,
            wait_seconds=w.profile.step_wait_seconds if ratio is not None
            else w.profile.market_wait_seconds,
        ))
        request = OrderRequest(cid, w.symbol, w.side, w.remaining, order_type, price)
        try:
            order = await self._desk.submit_resolving(request)
        except OrderRejectedError as exc:
            return self._failed(w, live, "rejected", f"rejected: {exc}")
        except UnknownOrderStateError as exc:
            return self._failed(w, live, "unknown", str(exc))
        except BrokerError as exc:
            return self._failed(w, live, "rejected", f"submission failed: {exc}")
        self._emit(OrderAccepted(cid, w.symbol, order.id, order.status.value, self._clock.now()))
        live.order = order
        w.working = live
        return True

    def _failed(self, w: _Walk, live: WorkingOrder, outcome: str, message: str) -> bool:
        self._emit(OrderSubmitFailed(live.cid, w.symbol, outcome, message, self._clock.now()))
        status = OrderStatus.REJECTED if outcome == "rejected" else OrderStatus.UNKNOWN
        self._add(w, self._record(w, live, None, status, message))
        return False

    async def _close(self, w: _Walk) -> bool:
        """Cancel the working order, confirm, count its fills. True: the walk goes on."""
        live = w.working
        assert live is not None
        try:
            final = live.order if live.order.status.terminal else \
                await self._desk.cancel_and_confirm(live.order, live)
        except UnknownOrderStateError as exc:
            self._add(w, self._record(w, live, None, OrderStatus.UNKNOWN, str(exc)))
            return False
        except BrokerError as exc:
            self._add(w, self._record(w, live, None, OrderStatus.UNKNOWN,
                                      f"lost track of {live.cid}: {exc}"))
            return False
        if final.filled_qty > live.order.filled_qty:
            live.last_fill_at = self._clock.monotonic()
        self._add(w, self._record(w, live, final, final.status, self._rejection(live, final)))
        return w.error is None and w.remaining > ZERO

    @staticmethod
    def _rejection(live: WorkingOrder, order: Order) -> str | None:
        if order.status is OrderStatus.REJECTED:
            return f"rejected at step {live.step}: {order.reject_reason or 'no reason given'}"
        return None

    @classmethod
    def _ended(cls, live: WorkingOrder, order: Order) -> str | None:
        """Why the walk must stop when its order ended without this run cancelling it.

        Filled is the happy end. Any other end (cancelled by hand or by another process,
        expired, done for the day) means someone else is acting on the account: the walk
        stops instead of walking on (fail closed).
        """
        if order.status is OrderStatus.FILLED:
            return None
        if order.status is OrderStatus.REJECTED:
            return cls._rejection(live, order)
        return (f"{live.cid} was {order.status.value} outside this run (by hand, another process "
                "or the broker); walk stopped")

    def _add(self, w: _Walk, rec: StepRecord) -> None:
        w.steps.append(rec)
        w.remaining -= rec.filled_qty
        w.working = None
        if w.error is None:  # the first error is the walk's (any error ends it)
            w.error = rec.error

    def _record(self, w: _Walk, live: WorkingOrder, order: Order | None, status: OrderStatus,
                error: str | None) -> StepRecord:
        filled = order.filled_qty if order else ZERO
        rec = StepRecord(
            step=live.step, order_type=live.order_type, ratio=live.ratio,
            client_order_id=live.cid, order_id=order.id if order else None, qty=live.qty,
            limit_price=live.price, bid=live.bid, ask=live.ask, status=status,
            filled_qty=filled, avg_price=order.filled_avg_price if order else None,
            seconds=round(self._clock.monotonic() - live.started, 3), error=error,
        )
        self._emit(StepFinished(
            client_order_id=live.cid, order_id=rec.order_id or "", symbol=w.symbol,
            step=live.step, order_type=live.order_type.value, ratio=live.ratio,
            limit_price=live.price, qty=live.qty, status=status.value, filled_qty=filled,
            avg_price=rec.avg_price, total_filled=live.total_before + filled,
            remaining=live.qty - filled, seconds=rec.seconds, at=self._clock.now(),
        ))
        if filled > ZERO and rec.avg_price is not None and self._cfg.markout_seconds > 0:
            fill_at = live.last_fill_at if live.last_fill_at is not None \
                else self._clock.monotonic()
            w.markouts.append(asyncio.create_task(self._markout(w, live, rec, fill_at)))
        return rec

    async def _markout(self, w: _Walk, live: WorkingOrder, rec: StepRecord, fill_at: float) -> None:
        """The mid ``markout_seconds`` after a fill, from the stream (never a REST request)."""
        assert rec.avg_price is not None
        horizon = self._cfg.markout_seconds
        await self._clock.sleep(fill_at + horizon - self._clock.monotonic())
        quote = await self._quotes.peek(w.symbol, max(horizon, 1.0))
        if quote is None:
            return
        sign = Decimal(w.side.sign)
        self._emit(MarkOut(
            client_order_id=live.cid, symbol=w.symbol, side=w.side.value, step=live.step,
            order_type=live.order_type.value, ratio=live.ratio, fill_price=rec.avg_price,
            filled_qty=rec.filled_qty, horizon_seconds=horizon, mid=quote.mid,
            markout_bps=bps(sign * (quote.mid - rec.avg_price), rec.avg_price),
            at=self._clock.now(),
        ))

    async def cancel_and_confirm(self, order: Order, live: WorkingOrder | None = None) -> Order:
        """Cancel ``order`` and confirm a terminal state (see :class:`OrderDesk`)."""
        return await self._desk.cancel_and_confirm(order, live)
