"""Order lifecycle of the simulator, as Alpaca runs it.

A submission answers ``accepted`` (Alpaca's recorded submit response in alpaca-py's
tests/trading/trading_client/test_order_routes.py) and becomes ``new`` once routed,
``accept_latency`` later. A cancel is asynchronous: the order is ``pending_cancel``
for ``cancel_latency`` and can still fill meanwhile (OpenAPI deleteOrderByOrderID
"Attempts to cancel": a 204 only means the request was accepted). A replace (PATCH) puts
the old order in ``pending_replace``; when the new one is routed the old one becomes
``replaced``, or, if it filled first, the new one is rejected (OpenAPI
patchOrderByOrderId). Every trade update goes through :meth:`_emit`, where the
trade-stream faults (dropped or delayed events) apply.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from alchemiser_cli.brokers.port import (
    DuplicateClientOrderIdError,
    NotCancelableError,
    NotFoundError,
    TransientBrokerError,
)
from alchemiser_cli.brokers.sim.order_checks import OrderChecks, OrderSpec, reject
from alchemiser_cli.brokers.sim.state import SimLaggedFill, SimOrderRecord, SimState, market_open
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.orders import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    TradeUpdate,
)

if TYPE_CHECKING:
    from alchemiser_cli.brokers.sim.engine import MatchingEngine
    from alchemiser_cli.brokers.sim.market import SymbolSpec
    from alchemiser_cli.clock import Clock

#: Statuses of an order that is not at the exchange yet: it cannot fill.
AWAITING_ROUTE = frozenset({OrderStatus.ACCEPTED.value, OrderStatus.PENDING_NEW.value,
                            OrderStatus.ACCEPTED_FOR_BIDDING.value})
#: A cancel or a replace is in flight: the order can still fill.
IN_FLIGHT = frozenset({OrderStatus.PENDING_CANCEL.value, OrderStatus.PENDING_REPLACE.value})
ONE_TICK_TIFS = frozenset({"ioc", "fok"})


class OrderLifecycle(OrderChecks):
    """Mixed into :class:`SimBroker`: submissions, cancels, replaces and their events."""

    if TYPE_CHECKING:
        state: SimState
        _clock: Clock
        _dirty: bool
        _tick_seconds: float
        _updates: dict[str, asyncio.Queue[TradeUpdate]]
        listeners: list[Callable[[TradeUpdate], None]]

        def spec(self, symbol: str) -> SymbolSpec | None: ...
        def true_touch(self, symbol: str) -> tuple[Decimal, Decimal]: ...
        def _call(self, *, read: bool) -> None: ...
        def _after_call(self) -> None: ...
        def _open_qty(self, symbol: str, side: Side) -> Decimal: ...
        def _reserved_cash(self) -> Decimal: ...
        def _far_touch(self, symbol: str, side: Side) -> Decimal: ...
        def _fill(self, rec: SimOrderRecord, qty: Decimal, price: Decimal) -> None: ...
        def _tick_index(self) -> int: ...
        engine: MatchingEngine
        def buying_power(self) -> Decimal: ...

    # -- submission ------------------------------------------------------------------------
    async def submit_order(self, request: OrderRequest) -> Order:
        return await self.submit(OrderSpec.from_request(request))

    async def submit(self, spec: OrderSpec) -> Order:
        """Submit any supported order (the emulator's POST /v2/orders)."""
        self._call(read=False)
        try:
            rec = self._place(spec)
            faults = self.state.faults
            if faults.lose_submit_response > 0:
                faults.lose_submit_response -= 1
                raise TransientBrokerError("timed out waiting for the response", status=504)
            return self._order(rec)
        finally:
            self._after_call()

    def _place(self, spec: OrderSpec, *, replaces: SimOrderRecord | None = None) -> SimOrderRecord:
        faults = self.state.faults
        cid = spec.client_order_id or str(uuid.uuid4())
        if cid in self.state.order_table.by_client_id:
            raise DuplicateClientOrderIdError(
                "client_order_id must be unique", status=422, code=40010001)
        qty = self._validate(spec, replaces)
        self.state.order_seq += 1
        now = self._clock.now().isoformat()
        rec = SimOrderRecord(
            id=str(uuid.UUID(int=self.state.seed * 10**12 + self.state.order_seq)),
            client_order_id=cid, symbol=spec.symbol, side=spec.side.value, type=spec.type.value,
            qty=str(qty), limit_price=None if spec.limit_price is None else str(spec.limit_price),
            status=faults.submit_status, created_at=now, updated_at=now,
            time_in_force=spec.time_in_force,
            notional=None if spec.notional is None else str(spec.notional),
            extended_hours=spec.extended_hours,
            replaces=None if replaces is None else replaces.id,
        )
        self.state.orders[rec.id] = rec
        self.engine.arrived(rec, self._tick_index())
        self._dirty = True
        if rec.status == OrderStatus.NEW.value:
            rec.routed_at = now
            self._emit(rec, "new")
        elif rec.status == OrderStatus.PENDING_NEW.value:
            self._emit(rec, "pending_new")
        if faults.reject_next > 0:
            faults.reject_next -= 1
            self._terminate(rec, OrderStatus.REJECTED, "rejected", reason="simulated rejection")
        return rec

    # -- cancel and replace ------------------------------------------------------------------
    def _working_order(self, order_id: str) -> SimOrderRecord:
        """The order, if it exists and is not terminal (Alpaca's 404 and 422 otherwise:
        'order is already in "filled" state', bennycode/trading-signals#1079)."""
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
            self._cancel(self._working_order(order_id))
        finally:
            self._after_call()

    def _cancel(self, rec: SimOrderRecord) -> None:
        faults = self.state.faults
        # pending_replace "will reject cancel request" (OpenAPI OrderStatus)
        if rec.status == OrderStatus.PENDING_REPLACE.value or (
                rec.status == OrderStatus.PENDING_CANCEL.value and not faults.repeat_cancel_204):
            raise NotCancelableError(f'order is already in "{rec.status}" state', status=422,
                                     code=42210000)
        if rec.status == OrderStatus.PENDING_CANCEL.value:
            return
        if faults.fill_on_cancel > 0:
            faults.fill_on_cancel -= 1
            remaining = Decimal(rec.qty) - Decimal(rec.filled_qty)
            price = (Decimal(rec.limit_price) if rec.limit_price
                     else self._far_touch(rec.symbol, Side(rec.side)))
            self._fill(rec, remaining, price)
            return
        stuck = faults.stuck_cancel > 0
        if not stuck and faults.cancel_latency <= 0:
            self._terminate(rec, OrderStatus.CANCELED, "canceled")
            return
        if stuck:
            faults.stuck_cancel -= 1
        rec.status = OrderStatus.PENDING_CANCEL.value
        rec.cancel_requested_at = rec.updated_at = self._clock.now().isoformat()
        rec.cancel_stuck = stuck
        self._dirty = True
        self._emit(rec, "pending_cancel")

    async def replace_order(self, order_id: str, qty: Decimal | None, limit_price: Decimal | None,
                            client_order_id: str | None, time_in_force: str | None = None) -> Order:
        """Alpaca's PATCH: a new order replaces the old one, which goes ``pending_replace``.

        Like Alpaca, the new order gets the *requested* quantity even if the old one was
        partially filled (alpacahq/Alpaca-API#165; which is why the walk never uses replace).
        Refusals: accepted/pending_new/pending_cancel/pending_replace and non-IPO notional
        orders cannot be replaced (OpenAPI patchOrderByOrderId), "unable to replace order,
        order isn't sent to exchange yet" (alpaca-trade-api-python#306), 42210000 "order
        parameters are not changed" (alpaca-py#412). The spec only forbids changing a
        fractional order's qty (PatchOrderRequest.qty); refusing any replace of one is the
        emulator's stricter choice.
        """
        self._call(read=False)
        try:
            old = self._working_order(order_id)
            if old.status in AWAITING_ROUTE:
                raise reject("unable to replace order, order isn't sent to exchange yet")
            if old.status in IN_FLIGHT:
                raise reject(f'order is already in "{old.status}" state')
            if old.notional is not None:
                raise reject("notional orders cannot be replaced")
            if Decimal(old.qty) % 1 or (qty is not None and qty % 1):
                raise reject("fractional orders cannot be replaced", code=40010001)
            old_limit = Decimal(old.limit_price) if old.limit_price else None
            if ((qty is None or qty == Decimal(old.qty))
                    and (limit_price is None or limit_price == old_limit)
                    and (time_in_force is None or time_in_force == old.time_in_force)):
                raise reject("order parameters are not changed")
            spec = OrderSpec(old.symbol, Side(old.side), OrderType(old.type),
                             qty if qty is not None else Decimal(old.qty),
                             limit_price=limit_price if limit_price is not None else old_limit,
                             time_in_force=time_in_force or old.time_in_force,
                             client_order_id=client_order_id)
            new = self._place(spec, replaces=old)
            old.status = OrderStatus.PENDING_REPLACE.value
            old.replaced_by = new.id
            old.updated_at = self._clock.now().isoformat()
            self._emit(old, "pending_replace")
            if new.status == OrderStatus.NEW.value:
                self._finish_replace(new)
            return self._order(new)
        finally:
            self._after_call()

    def _finish_replace(self, new: SimOrderRecord) -> None:
        old = self.state.orders[new.replaces or ""]
        if old.status == OrderStatus.FILLED.value:  # the old order filled first
            self._terminate(new, OrderStatus.REJECTED, "rejected",
                            reason="replaced order was already filled")
            return
        self._terminate(old, OrderStatus.REPLACED, "replaced")

    # -- the clock moves orders along ------------------------------------------------------
    def _progress_lifecycle(self, now: datetime) -> None:
        """Route accepted orders, complete cancels and replaces, apply lagged fills."""
        faults = self.state.faults
        accept_after = timedelta(seconds=faults.accept_latency)
        cancel_after = timedelta(seconds=faults.cancel_latency)
        one_tick = timedelta(seconds=self._tick_seconds)
        is_open = market_open(faults, now)
        for rec in list(self.state.order_table.open.values()):
            if rec.status in AWAITING_ROUTE:
                if not is_open or now < datetime.fromisoformat(rec.created_at) + accept_after:
                    continue
                rec.status = OrderStatus.NEW.value
                rec.routed_at = rec.updated_at = now.isoformat()
                self._dirty = True
                self._emit(rec, "new")
                if rec.replaces:
                    self._finish_replace(rec)
            elif rec.status == OrderStatus.PENDING_CANCEL.value:
                requested = datetime.fromisoformat(rec.cancel_requested_at or rec.updated_at)
                if not rec.cancel_stuck and now >= requested + cancel_after:
                    self._terminate(rec, OrderStatus.CANCELED, "canceled")
            elif (rec.time_in_force in ONE_TICK_TIFS and rec.routed_at
                  and not OrderStatus.parse(rec.status).terminal
                  and now >= datetime.fromisoformat(rec.routed_at) + one_tick):
                self._terminate(rec, OrderStatus.CANCELED, "canceled")  # IOC/FOK: not filled
        if self.state.lagged_fills:
            due = [f for f in self.state.lagged_fills if datetime.fromisoformat(f.due) <= now]
            if due:
                self.state.lagged_fills = [f for f in self.state.lagged_fills if f not in due]
                self._dirty = True

    def _terminate(self, rec: SimOrderRecord, status: OrderStatus, event: str, *,
                   reason: str | None = None) -> None:
        rec.status = status.value
        rec.updated_at = rec.terminal_at = self._clock.now().isoformat()
        if reason is not None:
            rec.reject_reason = reason
        self._dirty = True
        self._emit(rec, event)

    # -- executions and events ---------------------------------------------------------------
    def _record_execution(self, rec: SimOrderRecord, qty: Decimal, price: Decimal,
                          cost_change: Decimal) -> None:
        """After ``_fill`` changed the books: the lag fault, then the fill event."""
        side = Side(rec.side)
        lag = self.state.faults.position_lag_seconds
        if lag > 0:
            due = self._clock.now() + timedelta(seconds=lag)
            self.state.lagged_fills.append(SimLaggedFill(
                rec.symbol, str(qty if side is Side.BUY else -qty), str(cost_change),
                due.isoformat()))
        rec.executions += 1
        event = "fill" if rec.status == OrderStatus.FILLED.value else "partial_fill"
        execution_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"alch-sim/{rec.id}/{rec.executions}"))
        self._emit(rec, event, qty=qty, price=price, execution_id=execution_id)

    def visible_position(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(qty, cost) as position reads show them: fills still lagging are left out."""
        pos = self.state.positions.get(symbol)
        qty = Decimal(pos.qty) if pos else ZERO
        cost = Decimal(pos.cost) if pos else ZERO
        for lagged in self.state.lagged_fills:
            if lagged.symbol == symbol:
                qty -= Decimal(lagged.qty)
                cost -= Decimal(lagged.cost)
        return qty, cost

    def _emit(self, rec: SimOrderRecord, event: str, *, qty: Decimal | None = None,
              price: Decimal | None = None, execution_id: str | None = None) -> None:
        faults = self.state.faults
        if faults.trade_stream_down:
            return
        if faults.drop_event.get(event, 0) > 0:  # the stream loses it; REST still knows
            faults.drop_event[event] -= 1
            if not faults.drop_event[event]:
                del faults.drop_event[event]
            self._dirty = True
            return
        update = TradeUpdate(
            event, self._order(rec), self._clock.now(), qty=qty, price=price,
            position_qty=None if qty is None else self.state.position_qty(rec.symbol),
            execution_id=execution_id)
        if faults.delay_events > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                loop.call_later(faults.delay_events, self._deliver, rec.id, update)
                return
        self._deliver(rec.id, update)

    def _deliver(self, order_id: str, update: TradeUpdate) -> None:
        self._updates.setdefault(order_id, asyncio.Queue()).put_nowait(update)
        for listener in self.listeners:
            listener(update)

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


