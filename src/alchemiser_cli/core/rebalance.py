"""The rebalance runner: plan -> orders -> concurrent walks -> portfolio check.

Order of work, each step failing closed:
1. account active, market open; our leftover open orders (from a crashed run)
   cancelled and confirmed; foreign open orders on plan symbols refuse the run;
2. assets known and tradable, arrival quotes usable for every symbol;
3. trades sized from actual positions, guard rails checked (nothing placed on refusal);
4. sells walk concurrently; cash re-read; buys sized to realised cash and walk concurrently;
5. any order of this run still open is cancelled; the post-trade check compares
   every position with what the fills imply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from alchemiser_cli.brokers.port import BrokerError, NotFoundError
from alchemiser_cli.core.placement import client_order_id_base
from alchemiser_cli.core.preflight import require_tradable_session
from alchemiser_cli.core.session import Runtime
from alchemiser_cli.core.walk import UnknownOrderStateError
from alchemiser_cli.domain.errors import BrokerUnavailableError, RefusedError, UsageError
from alchemiser_cli.domain.events import CheckRow, Notice, PhaseStarted, PlanReady, PortfolioChecked
from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.orders import Asset, Order, OrderStatus
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.domain.sizing import (
    Action,
    MarketView,
    PlannedTrade,
    fit_buys,
    plan_trades,
    turnover,
)

OUR_PREFIX = "alch-"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RebalanceReport:
    trades: tuple[PlannedTrade, ...]
    results: tuple[ExecutionResult, ...]
    check: tuple[CheckRow, ...]
    check_passed: bool
    dry_run: bool
    turnover: Decimal
    estimated_cost: Decimal
    swept: bool = True  # the final sweep confirmed none of this run's orders is still open

    @property
    def ok(self) -> bool:
        return self.dry_run or (self.check_passed and self.swept
                                and all(r.ok for r in self.results))

    @property
    def unknown_state(self) -> bool:
        """Some order's outcome could not be established (it may still be working)."""
        return not self.swept or any(
            s.status is OrderStatus.UNKNOWN for r in self.results for s in r.steps)


class RebalanceRunner:
    def __init__(self, rt: Runtime, plan: Plan, *, dry_run: bool = False) -> None:
        self.rt = rt
        self.plan = plan
        self.dry_run = dry_run
        self._sem = asyncio.Semaphore(rt.settings.execution.max_concurrent_orders)
        self._placed = False  # set once the first phase starts

    async def run(self) -> RebalanceReport:
        try:
            return await self._run()
        except asyncio.CancelledError:
            await asyncio.shield(self._sweep_open_orders())
            raise

    async def _run(self) -> RebalanceReport:
        rt = self.rt
        broker = rt.broker
        if self.dry_run:
            account = await self._read(broker.get_account(), "account")
        else:
            account = await require_tradable_session(broker)
        await self._reconcile_open_orders()
        assets = await self._assets()
        positions = {p.symbol: p.qty for p in await self._read(broker.get_positions(), "positions")}
        symbols = sorted(set(self.plan.targets) | (
            {s for s, q in positions.items() if q > ZERO} if self.plan.sell_unlisted else set()))
        for symbol in symbols:
            if symbol not in assets:
                assets[symbol] = await self._read(broker.get_asset(symbol), f"asset {symbol}")
        market = await self._arrival_quotes(symbols, assets)
        trades = plan_trades(self.plan, account.equity, positions, market)
        self._guard(trades, account.equity)
        cost = self._estimated_cost(trades, market)
        rt.emit(PlanReady(self.plan.name, account.equity, account.cash, tuple(trades),
                          turnover(trades), cost, self.dry_run, rt.clock.now()))
        if self.dry_run:
            return RebalanceReport(tuple(trades), (), (), True, True, turnover(trades), cost)

        sells = [t for t in trades if t.action in (Action.SELL, Action.CLOSE)]
        results = list(await self._phase("sells", sells, assets, positions))
        planned_buys = [t for t in trades if t.action is Action.BUY]
        buys: list[PlannedTrade] = []
        unknown = sorted(r.intent.symbol for r in results
                         if any(s.status is OrderStatus.UNKNOWN for s in r.steps))
        if unknown and planned_buys:
            rt.emit(Notice("error", f"the state of the {', '.join(unknown)} sell order(s) is "
                            "unknown: no buys placed"))
            buys = [replace(b, action=Action.HOLD, qty=ZERO, note="not placed: unknown state")
                    for b in planned_buys]
        elif planned_buys:
            after = await self._read(broker.get_account(), "account after sells")
            available = min(after.cash, after.buying_power) - self.plan.cash_buffer * after.equity
            buys = fit_buys(planned_buys, available, market, rt.settings.guards.buy_price_reserve,
                            self.plan.min_order_notional)
            for dropped in (b for b in buys if b.action is Action.HOLD):
                rt.emit(Notice("warning", f"buy of {dropped.symbol} skipped: {dropped.note}",
                               dropped.symbol))
            results += await self._phase("buys", [b for b in buys if b.action is Action.BUY],
                                         assets, positions)
        swept = await self._sweep_open_orders()
        final_trades = [t for t in trades if t.action is not Action.BUY] + buys
        check, passed = await self._check(final_trades, positions, results)
        return RebalanceReport(tuple(final_trades), tuple(results), check, passed, False,
                               turnover(final_trades), cost, swept)

    async def _read(self, awaitable: Awaitable[T], what: str) -> T:
        try:
            return await awaitable
        except BrokerError as exc:
            done = ("stopped after placing orders (see alch show)" if self._placed
                    else "nothing placed")
            raise BrokerUnavailableError(f"could not read {what}: {exc}; {done}") from exc

    async def _reconcile_open_orders(self) -> None:
        """Cancel our own leftovers (a crashed run); refuse on foreign orders we would fight."""
        open_orders = await self._read(self.rt.broker.list_open_orders(), "open orders")
        managed = set(self.plan.targets)
        foreign = sorted({o.symbol for o in open_orders
                          if not o.client_order_id.startswith(OUR_PREFIX) and o.symbol in managed})
        if foreign:
            raise RefusedError(
                f"open orders not placed by alch on {', '.join(foreign)}: cancel them first "
                "(they would be rejected as wash trades or double the trade); nothing placed")
        ours = [o for o in open_orders if o.client_order_id.startswith(OUR_PREFIX)]
        if not ours:
            return
        if self.dry_run:
            self.rt.emit(Notice("warning", f"{len(ours)} open order(s) from an earlier alch run "
                                "would be cancelled first"))
            return
        self.rt.emit(Notice("warning", f"cancelling {len(ours)} open order(s) left by an "
                            "earlier alch run"))
        await asyncio.gather(*(self._cancel_confirmed(o) for o in ours))

    async def _cancel_confirmed(self, order: Order) -> None:
        """The walk's cancel-and-confirm (stream first, then REST); unknown state stops the run."""
        try:
            await self.rt.placement.walker.cancel_and_confirm(order)
        except NotFoundError:
            pass  # gone already
        except (BrokerError, UnknownOrderStateError) as exc:
            raise BrokerUnavailableError(
                f"could not cancel leftover order {order.client_order_id}: {exc}") from exc

    async def _sweep_open_orders(self) -> bool:
        """Cancel any order of this run still open; False when that cannot be confirmed."""
        prefix = f"{OUR_PREFIX}{self.rt.run_id}-"
        try:
            open_orders = await self.rt.broker.list_open_orders()
            leftovers = [o for o in open_orders if o.client_order_id.startswith(prefix)]
            for order in leftovers:
                self.rt.emit(Notice("warning", f"cancelling leftover order {order.client_order_id}",
                                    order.symbol))
            await asyncio.gather(*(self._cancel_confirmed(o) for o in leftovers))
        except (BrokerError, BrokerUnavailableError) as exc:
            self.rt.emit(Notice("error", f"could not confirm that no order of this run is still "
                                f"open: {exc}"))
            return False
        return True

    async def _assets(self) -> dict[str, Asset]:
        async def one(symbol: str) -> tuple[str, Asset | None]:
            try:
                return symbol, await self.rt.broker.get_asset(symbol)
            except NotFoundError:
                return symbol, None
            except BrokerError as exc:
                raise BrokerUnavailableError(f"could not read asset {symbol}: {exc}") from exc

        found = dict(await asyncio.gather(*(one(s) for s in self.plan.symbols)))
        problems = [f"targets.{s}: unknown symbol" for s, a in found.items() if a is None]
        problems += [f"targets.{s}: {s} is not tradable" for s, a in found.items()
                     if a is not None and not a.tradable and self.plan.targets[s] > ZERO]
        if problems:
            raise UsageError(f"{'; '.join(problems)}; nothing placed")
        return {s: a for s, a in found.items() if a is not None}

    async def _arrival_quotes(self, symbols: Sequence[str],
                              assets: dict[str, Asset]) -> dict[str, MarketView]:
        quotes = self.rt.placement.quotes
        await quotes.subscribe(symbols)
        assessed = await asyncio.gather(*(quotes.quote(s) for s in symbols))
        bad = [f"{q.symbol} ({q.problem})" for q in assessed if not q.usable]
        if bad:
            raise RefusedError(f"no usable quote for {', '.join(bad)}; nothing placed")
        return {q.symbol: MarketView(q.mid, q.bid, q.ask, assets[q.symbol].fractionable)
                for q in assessed}

    def _guard(self, trades: Sequence[PlannedTrade], equity: Decimal) -> None:
        guards = self.rt.settings.guards
        for t in trades:
            if t.action is not Action.HOLD and t.notional > guards.max_order_notional:
                raise RefusedError(
                    f"{t.symbol}: order of ${t.notional} exceeds guards.max_order_notional "
                    f"${guards.max_order_notional}; nothing placed")
        total = turnover(trades)
        if total > guards.max_turnover_fraction * equity:
            raise RefusedError(
                f"turnover ${total} exceeds guards.max_turnover_fraction "
                f"{guards.max_turnover_fraction} of equity ${equity:.2f}; nothing placed")

    @staticmethod
    def _estimated_cost(trades: Sequence[PlannedTrade], market: dict[str, MarketView]) -> Decimal:
        """Half the spread on every traded share: the cost of crossing to the far touch."""
        total = sum((t.qty * (market[t.symbol].ask - market[t.symbol].bid) / 2
                     for t in trades if t.action is not Action.HOLD), ZERO)
        return total.quantize(Decimal("0.01"))

    async def _phase(self, name: str, trades: Sequence[PlannedTrade], assets: dict[str, Asset],
                     positions: dict[str, Decimal]) -> list[ExecutionResult]:
        if not trades:
            return []
        self._placed = True
        self.rt.emit(PhaseStarted(name, len(trades), self.rt.clock.now()))

        async def one(trade: PlannedTrade) -> ExecutionResult:
            async with self._sem:
                return await self.rt.placement.place(
                    trade.intent(), id_base=client_order_id_base(self.rt.run_id, trade.symbol),
                    asset=assets[trade.symbol], position_before=positions.get(trade.symbol, ZERO))

        return list(await asyncio.gather(*(one(t) for t in trades)))

    async def _check(self, trades: Sequence[PlannedTrade], before: dict[str, Decimal],
                     results: Sequence[ExecutionResult]) -> tuple[tuple[CheckRow, ...], bool]:
        final = {p.symbol: p.qty for p in await self._read(self.rt.broker.get_positions(),
                                                           "positions for the check")}
        by_symbol = {r.intent.symbol: r for r in results}
        tolerance = self.rt.settings.execution.validation_tolerance
        rows: list[CheckRow] = []
        for t in trades:
            result = by_symbol.get(t.symbol)
            filled = ZERO if result is None else result.intent.side.sign * result.filled_qty
            expected = before.get(t.symbol, ZERO) + filled
            actual = final.get(t.symbol, ZERO)
            exact = t.action is Action.CLOSE
            consistent = abs(actual - expected) <= (ZERO if exact else tolerance)
            complete = result is None or result.status is ExecutionStatus.FILLED
            rows.append(CheckRow(t.symbol, t.target_weight, expected, actual, actual - expected,
                                 consistent and complete))
        passed = all(r.passed for r in rows)
        self.rt.emit(PortfolioChecked(tuple(rows), passed, self.rt.clock.now()))
        return tuple(rows), passed



