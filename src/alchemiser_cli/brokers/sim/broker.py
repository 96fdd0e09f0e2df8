"""The simulator broker: a deterministic, seeded market behind the Broker port.

It runs on whatever clock it is given; on the virtual-time loop a 2-minute walk
costs milliseconds. A background ticker advances prices, matches the open orders
(and only those) and publishes streamed quotes every ``tick_seconds``. The market
is :mod:`.market`; how orders fill is :mod:`.matching`; persistence is :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.brokers.port import (
    BrokerError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    NotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TransientBrokerError,
)
from alchemiser_cli.brokers.sim.engine import MatchingEngine
from alchemiser_cli.brokers.sim.market import (
    DEFAULT_UNIVERSE,
    Market,
    MarketModel,
    SymbolSpec,
    Touch,
    spec_for_generated,
    tick_index,
    wide_touch,
)
from alchemiser_cli.brokers.sim.state import (
    SimOrderRecord,
    SimPosition,
    SimState,
    StateLog,
    save_state,
)
from alchemiser_cli.clock import Clock, wait_for
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import FRACTIONAL_STEP, ZERO, is_valid_tick, tick_for
from alchemiser_cli.domain.orders import (
    Account,
    Asset,
    MarketClock,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    TradeUpdate,
)
from alchemiser_cli.domain.quotes import Quote


class SimBroker:
    """In-process simulated brokerage. Use as an async context manager."""

    name = "sim"

    def __init__(
        self,
        state: SimState,
        clock: Clock,
        *,
        path: Path | None = None,
        model: MarketModel | None = None,
        tick_seconds: float = 0.5,
        universe: Iterable[SymbolSpec] = DEFAULT_UNIVERSE,
    ) -> None:
        self.state = state
        self._clock = clock
        self._path = path
        self._tick_seconds = tick_seconds
        self._specs = {s.symbol: s for s in universe}
        self.market = Market(model or MarketModel(), state.seed, tick_seconds, state.markets)
        self.engine = MatchingEngine(self.market, state.queues, state.seed, self._spec)
        self._log = StateLog(path) if path is not None else None
        self._subscribed: set[str] = set()
        self._tick_event = asyncio.Event()
        self._updates: dict[str, asyncio.Queue[TradeUpdate]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._last_fill_time: datetime | None = None
        self._dirty = False
        #: Called with every trade update (the emulator broadcasts them on its WebSocket).
        self.listeners: list[Callable[[TradeUpdate], None]] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> SimBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._path is not None and not self.state.generation:
            save_state(self._path, self.state)  # the log always extends a snapshot
        if self._ticker is None:
            self._last_fill_time = self._clock.now()
            self._ticker = asyncio.create_task(self._run_ticker(), name="sim-ticker")

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self._sync_time()
        self._persist(compact=True)

    async def _run_ticker(self) -> None:
        while True:
            await self._clock.sleep(self._tick_seconds)
            self._advance()
            event, self._tick_event = self._tick_event, asyncio.Event()
            event.set()

    # -- model -----------------------------------------------------------------------------
    def spec(self, symbol: str) -> SymbolSpec | None:
        spec = self._specs.get(symbol)
        if spec is None and (spec := spec_for_generated(symbol)) is not None:
            self._specs[symbol] = spec
        return spec

    def _tick_index(self) -> int:
        return tick_index(self._clock.now(), self._tick_seconds)

    def _sync_time(self) -> None:
        self.state.now = self._clock.now().isoformat()

    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self.spec(symbol)
        if spec is None:
            raise NotFoundError(f"asset {symbol} not found", status=404, code=40410000)
        return spec

    def public_touch(self, symbol: str) -> Touch:
        """The market's own best bid and offer now, without our orders."""
        return self.market.touch(self._spec(symbol), self._tick_index())

    def mid(self, symbol: str) -> Decimal:
        return self.public_touch(symbol).mid

    def true_touch(self, symbol: str) -> tuple[Decimal, Decimal]:
        """The best bid and offer now, including our own resting limits inside the spread."""
        touch = self.public_touch(symbol)
        bid, ask = touch.bid, touch.ask
        for rec in self.state.order_table.open_on(symbol):
            if rec.limit_price is None:
                continue
            limit = Decimal(rec.limit_price)
            if rec.side == Side.BUY.value and bid < limit < ask:
                bid = limit
            elif rec.side == Side.SELL.value and bid < limit < ask:
                ask = limit
        return bid, ask

    def _quote(self, symbol: str) -> Quote:
        spec = self.spec(symbol)
        if spec is None:
            raise NotFoundError(f"no quote for {symbol}", status=404)
        mode = self.state.faults.mode_for(symbol)
        now = self._clock.now()
        bid, ask = self.true_touch(symbol)
        stamp = now
        if mode == "zero_bid":
            bid = ZERO
        elif mode == "zero_ask":
            ask = ZERO
        elif mode == "both_zero":
            bid = ask = ZERO
        elif mode == "crossed":
            bid = ask + 2 * tick_for(ask)  # bid above ask
        elif mode == "stale":
            stamp = now - timedelta(seconds=120)
        elif mode == "wide":
            bid, ask = wide_touch(self.mid(symbol), Decimal(2000))
        touch = self.public_touch(symbol)
        return Quote(symbol, bid, ask, _lots(touch.bid_size), _lots(touch.ask_size), stamp)

    # -- call accounting and faults ----------------------------------------------------------
    def _call(self, *, read: bool) -> None:
        self.state.calls += 1
        self._sync_time()
        faults = self.state.faults
        if read and faults.transient_reads > 0:
            faults.transient_reads -= 1
            self._dirty = True
            raise RateLimitedError("rate limit exceeded", retry_after=1.0)

    def _after_call(self) -> None:
        self._persist()
        limit = self.state.faults.crash_after_calls
        if limit is not None and self.state.calls >= limit:
            self.state.faults.crash_after_calls = None
            self._persist()
            os.kill(os.getpid(), signal.SIGKILL)

    def _persist(self, *, compact: bool = False) -> None:
        """Append what changed to the state log; ``compact``: write a new snapshot.

        O(changes), not O(orders ever placed): see :mod:`.state`.
        """
        self._dirty = False
        if self._path is None or self._log is None:
            return
        if compact:
            self._log.close()
            save_state(self._path, self.state)  # (queue states of open orders only)
        else:
            self._log.append(self.state)

    # -- Broker port: reads -------------------------------------------------------------------
    async def get_account(self) -> Account:
        self._call(read=True)
        try:
            cash = Decimal(self.state.cash)
            equity = cash + sum(
                (Decimal(p.qty) * self.mid(sym) for sym, p in self.state.positions.items()), ZERO
            )
            return Account(
                id="sim-account",
                status="ACTIVE",
                cash=cash,
                equity=equity,
                buying_power=cash - self._reserved_cash(),
                trading_blocked=self.state.faults.account_blocked,
                account_blocked=False,
            )
        finally:
            self._after_call()

    async def get_clock(self) -> MarketClock:
        self._call(read=True)
        try:
            now = self._clock.now()
            is_open = not self.state.faults.market_closed
            return MarketClock(now, is_open, now + timedelta(hours=17), now + timedelta(hours=6))
        finally:
            self._after_call()

    async def get_asset(self, symbol: str) -> Asset:
        self._call(read=True)
        try:
            spec = self.spec(symbol)
            if spec is None:
                raise NotFoundError(f"asset {symbol} not found", status=404, code=40410000)
            return Asset(symbol, spec.tradable, spec.fractionable,
                         "active" if spec.tradable else "inactive")
        finally:
            self._after_call()

    async def get_positions(self) -> list[Position]:
        self._call(read=True)
        try:
            return [self._position(sym) for sym in sorted(self.state.positions)]
        finally:
            self._after_call()

    async def get_position(self, symbol: str) -> Position | None:
        self._call(read=True)
        try:
            return self._position(symbol) if symbol in self.state.positions else None
        finally:
            self._after_call()

    def _position(self, symbol: str) -> Position:
        pos = self.state.positions[symbol]
        qty = Decimal(pos.qty)
        avg = Decimal(pos.cost) / qty if qty else ZERO
        return Position(symbol, qty, avg, qty * self.mid(symbol))

    async def latest_quote(self, symbol: str) -> Quote | None:
        self._call(read=True)
        try:
            return self._quote(symbol) if self.spec(symbol) else None
        finally:
            self._after_call()

    async def subscribe_quotes(self, symbols: Sequence[str]) -> bool:
        self._subscribed.update(symbols)
        return not self.state.faults.stream_down

    async def stream_quote(self, symbol: str, timeout: float) -> Quote | None:
        if self.state.faults.stream_down or symbol not in self._subscribed or self.spec(symbol) is None:
            await self._clock.sleep(timeout)
            return None
        if await wait_for(self._tick_event.wait(), timeout) is None:
            return None
        return self._quote(symbol)

    async def get_order(self, order_id: str) -> Order:
        self._call(read=True)
        try:
            rec = self.state.orders.get(order_id)
            if rec is None:
                raise NotFoundError("order not found", status=404, code=40410000)
            return self._order(rec)
        finally:
            self._after_call()

    async def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self._call(read=True)
        try:
            rec = self.state.order_table.by_client_id.get(client_order_id)
            return None if rec is None else self._order(rec)
        finally:
            self._after_call()

    async def list_open_orders(self) -> list[Order]:
        self._call(read=True)
        try:
            return [self._order(r) for r in self.state.order_table.open.values()]
        finally:
            self._after_call()

    async def trade_stream_ok(self) -> bool:
        return not self.state.faults.trade_stream_down

    async def wait_order_update(self, order_id: str, timeout: float) -> TradeUpdate | None:
        if self.state.faults.trade_stream_down:
            return None
        queue = self._updates.setdefault(order_id, asyncio.Queue())
        return await wait_for(queue.get(), timeout)

    # -- Broker port: writes ------------------------------------------------------------------
    async def submit_order(self, request: OrderRequest) -> Order:
        self._call(read=False)
        try:
            return self._submit(request)
        finally:
            self._after_call()

    def _submit(self, req: OrderRequest) -> Order:
        faults = self.state.faults
        if req.client_order_id in self.state.order_table.by_client_id:
            raise DuplicateClientOrderIdError(
                "client_order_id must be unique", status=422, code=40010001
            )
        spec = self.spec(req.symbol)
        if spec is None:
            raise OrderRejectedError(f"asset {req.symbol} not found", status=422, code=40010001)
        if not spec.tradable:
            raise OrderRejectedError(f"asset {req.symbol} is not tradable", status=422, code=42210000)
        if req.qty <= ZERO:
            raise OrderRejectedError("qty must be > 0", status=422, code=40010001)
        if req.qty % 1 and not spec.fractionable:
            raise OrderRejectedError(
                "requested asset is not fractionable", status=422, code=42210000)
        if req.qty % FRACTIONAL_STEP:
            raise OrderRejectedError("qty has more than 9 decimals", status=422, code=40010001)
        if req.type is OrderType.LIMIT and (
                req.limit_price is None or not is_valid_tick(req.limit_price)):
            raise OrderRejectedError(
                f"invalid limit_price {req.limit_price}. sub-penny increment does not "
                "fulfill minimum pricing criteria", status=422, code=42210000)
        if req.symbol in faults.reject_symbols:
            raise OrderRejectedError("simulated rejection", status=403, code=40310000)
        opposite = Side.SELL if req.side is Side.BUY else Side.BUY
        for rec in self.state.order_table.open_on(req.symbol):
            if rec.side == opposite.value:
                raise OrderRejectedError(
                    "potential wash trade detected. use complex orders", status=403, code=40310000)
        if req.side is Side.SELL:
            available = self.state.position_qty(req.symbol) - self._open_qty(req.symbol, Side.SELL)
            if req.qty > available:
                raise OrderRejectedError(
                    f"insufficient qty available for order (requested: {req.qty}, available: "
                    f"{available})", status=403, code=40310000)
        else:
            _, ask = self.true_touch(req.symbol)
            price = req.limit_price if req.type is OrderType.LIMIT else ask * Decimal("1.03")
            assert price is not None
            if req.qty * price > Decimal(self.state.cash) - self._reserved_cash():
                raise OrderRejectedError(
                    "insufficient buying power", status=403, code=40310000)
        self.state.order_seq += 1
        now = self._clock.now().isoformat()
        rec = SimOrderRecord(
            id=str(uuid.UUID(int=self.state.seed * 10**12 + self.state.order_seq)),
            client_order_id=req.client_order_id,
            symbol=req.symbol,
            side=req.side.value,
            type=req.type.value,
            qty=str(req.qty),
            limit_price=None if req.limit_price is None else str(req.limit_price),
            status=OrderStatus.NEW.value,
            created_at=now,
            updated_at=now,
        )
        self.state.orders[rec.id] = rec
        self.engine.arrived(rec, self._tick_index())
        self._dirty = True
        self._emit(rec, "new")
        if faults.reject_next > 0:
            faults.reject_next -= 1
            rec.status = OrderStatus.REJECTED.value
            rec.reject_reason = "simulated rejection"
            self._emit(rec, "rejected")
        if faults.lose_submit_response > 0:
            faults.lose_submit_response -= 1
            raise TransientBrokerError("timed out waiting for the response", status=504)
        return self._order(rec)

    def _working_order(self, order_id: str) -> SimOrderRecord:
        """The order, if it exists and is not terminal (Alpaca's 404 and 422 otherwise)."""
        rec = self.state.orders.get(order_id)
        if rec is None:
            raise NotFoundError("order not found", status=404, code=40410000)
        status = OrderStatus.parse(rec.status)
        if status.terminal:
            raise NotCancelableError(
                f'order is already in "{status.value}" state', status=422, code=42210000)
        return rec

    async def cancel_order(self, order_id: str) -> None:
        self._call(read=False)
        try:
            rec = self._working_order(order_id)
            if self.state.faults.stuck_cancel > 0:
                self.state.faults.stuck_cancel -= 1
                rec.status = OrderStatus.PENDING_CANCEL.value
                rec.cancel_stuck = True
                self._dirty = True
                self._emit(rec, "pending_cancel")
                return
            if self.state.faults.fill_on_cancel > 0:
                self.state.faults.fill_on_cancel -= 1
                remaining = Decimal(rec.qty) - Decimal(rec.filled_qty)
                price = (Decimal(rec.limit_price) if rec.limit_price
                         else self._far_touch(rec.symbol, Side(rec.side)))
                self._fill(rec, remaining, price)
                return
            rec.status = OrderStatus.CANCELED.value
            rec.updated_at = self._clock.now().isoformat()
            self._dirty = True
            self._emit(rec, "canceled")
        finally:
            self._after_call()

    async def replace_order(self, order_id: str, qty: Decimal | None, limit_price: Decimal | None,
                            client_order_id: str | None) -> Order:
        """Alpaca's PATCH: the old order becomes ``replaced``; a new one takes its place.

        Like Alpaca, the new order gets the *requested* quantity even if the old one
        was partially filled (which is why the walk never uses replace).
        """
        self._call(read=False)
        try:
            rec = self._working_order(order_id)
            rec.status = OrderStatus.REPLACED.value
            self._emit(rec, "replaced")
            request = OrderRequest(
                client_order_id or f"{rec.client_order_id}-r{self.state.order_seq + 1}",
                rec.symbol, Side(rec.side), qty if qty is not None else Decimal(rec.qty),
                OrderType(rec.type),
                limit_price if limit_price is not None else (
                    Decimal(rec.limit_price) if rec.limit_price else None))
            try:
                return self._submit(request)
            except BrokerError:
                rec.status = OrderStatus.NEW.value  # the replace was rejected: old order stands
                raise
        finally:
            self._after_call()

    # -- matching ------------------------------------------------------------------------------
    def _far_touch(self, symbol: str, side: Side) -> Decimal:
        bid, ask = self.true_touch(symbol)
        return ask if side is Side.BUY else bid

    def _open_qty(self, symbol: str, side: Side) -> Decimal:
        return sum(
            (Decimal(r.qty) - Decimal(r.filled_qty) for r in self.state.order_table.open_on(symbol)
             if r.side == side.value),
            ZERO,
        )

    def _reserved_cash(self) -> Decimal:
        total = ZERO
        for r in self.state.order_table.open.values():
            if r.side != Side.BUY.value:
                continue
            remaining = Decimal(r.qty) - Decimal(r.filled_qty)
            price = (Decimal(r.limit_price) if r.limit_price
                     else self._far_touch(r.symbol, Side.BUY) * Decimal("1.03"))
            total += remaining * price
        return total

    def _advance(self) -> None:
        """One tick: the matching engine looks at the open orders, and only those."""
        self._sync_time()
        now = self._clock.now()
        dt = (now - (self._last_fill_time or now)).total_seconds()
        self._last_fill_time = now
        if dt <= 0 or self.state.faults.market_closed:
            return
        table = self.state.order_table
        self.engine.tick(table.open.values(), self._tick_index(), dt, self.state.faults,
                         self._fill, lambda order_id: order_id in table.open)
        self._persist()

    def _fill(self, rec: SimOrderRecord, qty: Decimal, price: Decimal) -> None:
        side = Side(rec.side)
        filled = Decimal(rec.filled_qty) + qty
        rec.filled_qty = str(filled)
        rec.filled_notional = str(Decimal(rec.filled_notional) + qty * price)
        rec.status = (OrderStatus.FILLED if filled >= Decimal(rec.qty)
                      else OrderStatus.PARTIALLY_FILLED).value
        rec.updated_at = self._clock.now().isoformat()
        pos = self.state.positions.get(rec.symbol, SimPosition("0", "0"))
        old_qty, old_cost = Decimal(pos.qty), Decimal(pos.cost)
        if side is Side.BUY:
            new_qty, new_cost = old_qty + qty, old_cost + qty * price
            self.state.cash = str(Decimal(self.state.cash) - qty * price)
        else:
            new_qty = old_qty - qty
            new_cost = old_cost * new_qty / old_qty if old_qty else ZERO
            self.state.cash = str(Decimal(self.state.cash) + qty * price)
        if new_qty == ZERO:
            self.state.positions.pop(rec.symbol, None)
        else:
            self.state.positions[rec.symbol] = SimPosition(str(new_qty), str(new_cost))
        self._dirty = True
        self._emit(rec, "fill" if rec.status == OrderStatus.FILLED.value else "partial_fill")

    # -- conversion ------------------------------------------------------------------------------
    def _order(self, rec: SimOrderRecord) -> Order:
        filled = Decimal(rec.filled_qty)
        avg = (Decimal(rec.filled_notional) / filled) if filled else None
        return Order(
            id=rec.id,
            client_order_id=rec.client_order_id,
            symbol=rec.symbol,
            side=Side(rec.side),
            type=OrderType(rec.type),
            qty=Decimal(rec.qty),
            filled_qty=filled,
            filled_avg_price=avg,
            limit_price=Decimal(rec.limit_price) if rec.limit_price else None,
            status=OrderStatus.parse(rec.status),
            created_at=datetime.fromisoformat(rec.created_at),
            updated_at=datetime.fromisoformat(rec.updated_at),
            reject_reason=rec.reject_reason,
        )

    def _emit(self, rec: SimOrderRecord, event: str) -> None:
        if self.state.faults.trade_stream_down:
            return
        update = TradeUpdate(event, self._order(rec), self._clock.now())
        self._updates.setdefault(rec.id, asyncio.Queue()).put_nowait(update)
        for listener in self.listeners:
            listener(update)


def _lots(shares: float) -> Decimal:
    """Displayed size in round lots of 100 shares."""
    return Decimal(max(1, round(shares / 100)))
