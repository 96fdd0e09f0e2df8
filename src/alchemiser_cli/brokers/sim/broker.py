"""The simulator broker: a deterministic, seeded market behind the Broker port.

It runs on whatever clock it is given; on the virtual-time loop a 2-minute walk
costs milliseconds. A background ticker advances prices, matches the open orders
(and only those) and publishes streamed quotes every ``tick_seconds``. The market
is :mod:`.market`; how orders fill is :mod:`.matching` and :mod:`.engine`; the order
lifecycle is :mod:`.lifecycle`; persistence is :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.brokers.port import (
    NotFoundError,
    RateLimitedError,
)
from alchemiser_cli.brokers.sim.engine import MatchingEngine
from alchemiser_cli.brokers.sim.lifecycle import IN_FLIGHT, OrderLifecycle
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
from alchemiser_cli.brokers.sim.persistence import StateLog, save_state
from alchemiser_cli.brokers.sim.reads import AccountReads
from alchemiser_cli.brokers.sim.state import SimOrderRecord, SimPosition, SimState, market_open
from alchemiser_cli.clock import Clock, wait_for
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import ZERO, tick_for
from alchemiser_cli.domain.orders import (
    Order,
    OrderStatus,
    TradeUpdate,
)
from alchemiser_cli.domain.quotes import Quote


class SimBroker(AccountReads, OrderLifecycle):
    """In-process simulated brokerage. Use as an async context manager.

    The order lifecycle (submission, cancel, replace, events) is :class:`OrderLifecycle`;
    account, clock, asset and position reads are :class:`AccountReads`.
    """

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

    # -- Broker port: reads (account, clock, assets, positions: AccountReads) --------------
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
        if self.state.faults.stream_down:
            return None  # a stream known to be down answers at once, like the Alpaca adapter's
        if symbol not in self._subscribed or self.spec(symbol) is None:
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
        if self.state.faults.trade_stream_down:  # a lost stream delivers nothing: the wait
            await self._clock.sleep(timeout)  # times out, as the adapter's queue does
            return None
        queue = self._updates.setdefault(order_id, asyncio.Queue())
        return await wait_for(queue.get(), timeout)

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
            # an open market buy holds 2.5%-4% above the market (alpaca-docs orders.md
            # "Buying Power"; see order_checks.py); open buys reduce buying power (same page)
            price = (Decimal(r.limit_price) if r.limit_price
                     else self._far_touch(r.symbol, Side.BUY) * Decimal("1.03"))
            total += remaining * price
        return total

    def _advance(self) -> None:
        """One tick: the lifecycle moves orders along, then the matching engine looks at
        the open orders, and only those."""
        self._progress_lifecycle(self._clock.now())
        self._sync_time()
        now = self._clock.now()
        dt = (now - (self._last_fill_time or now)).total_seconds()
        self._last_fill_time = now
        if dt <= 0 or not market_open(self.state.faults, now):
            self._persist()
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
        rec.updated_at = self._clock.now().isoformat()
        if filled >= Decimal(rec.qty):
            rec.status = OrderStatus.FILLED.value
            rec.terminal_at = rec.updated_at
        elif rec.status not in IN_FLIGHT:  # a partial fill leaves a pending cancel pending
            rec.status = OrderStatus.PARTIALLY_FILLED.value
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
        self._record_execution(rec, qty, price, new_cost - old_cost)


def _lots(shares: float) -> Decimal:
    """Displayed size in round lots of 100 shares."""
    return Decimal(max(1, round(shares / 100)))
