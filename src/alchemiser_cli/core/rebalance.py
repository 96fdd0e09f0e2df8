"""The rebalance runner: plan -> orders -> concurrent walks -> portfolio check.

Order of work, each step failing closed:
1. account active, market open; the account's open orders checked: foreign orders on
   a symbol to trade, or another alch run's orders anywhere on the account, refuse the
   run; this installation's leftovers (a crashed run) are cancelled and confirmed;
2. assets known and tradable, arrival quotes usable for every symbol;
3. trades sized from actual positions, guard rails checked (nothing placed on refusal);
4. sells walk concurrently; cash re-read; buys sized to realised cash (said when a buy
   is cut) and walk concurrently;
5. any order of this run still open is cancelled; the post-trade check compares every
   position with what the fills imply, and with the plan's target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from alchemiser_cli.brokers.port import BrokerError
from alchemiser_cli.core.guards import order_refusal, turnover_refusal
from alchemiser_cli.core.preflight import require_tradable_session
from alchemiser_cli.core.session import Runtime
from alchemiser_cli.core.trade_flow import TradeFlow
from alchemiser_cli.domain.errors import (
    BrokerUnavailableError,
    ExitCode,
    RefusedError,
    UsageError,
)
from alchemiser_cli.domain.events import (
    CheckRow,
    Notice,
    PhaseStarted,
    PlanReady,
    PortfolioChecked,
    ValidationDone,
)
from alchemiser_cli.domain.money import ZERO, normalize
from alchemiser_cli.domain.order_ids import client_order_id_base
from alchemiser_cli.domain.orders import Account, Asset, OrderStatus
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.domain.results import (
    ExecutionResult,
    ExecutionStatus,
    ValidationResult,
    with_validation,
)
from alchemiser_cli.domain.sizing import (
    Action,
    MarketView,
    PlannedTrade,
    cash_for_buys,
    hold_factor,
    plan_trades,
    turnover,
)

T = TypeVar("T")
WEIGHT = Decimal("0.0001")


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
    short_of_plan: tuple[str, ...] = ()  # symbols whose buy was cut or dropped for cash

    @property
    def ok(self) -> bool:
        """Nothing failed: every order filled, every check passed, nothing left open."""
        return self.dry_run or (self.check_passed and self.swept
                                and all(r.ok for r in self.results))

    @property
    def reached_plan(self) -> bool:
        """Nothing failed *and* no buy was cut for cash: the portfolio is where the plan said."""
        return self.ok and (self.dry_run or not self.short_of_plan)

    @property
    def unknown_state(self) -> bool:
        """Some order's outcome could not be established (it may still be working)."""
        return not self.swept or any(
            s.status is OrderStatus.UNKNOWN for r in self.results for s in r.steps)

    @property
    def exit_code(self) -> ExitCode:
        """0 only when the portfolio reached the plan; see the README's exit-code table."""
        if self.unknown_state:
            return ExitCode.BROKER
        if not self.ok:
            return ExitCode.FAILED
        if not self.reached_plan:
            return ExitCode.SHORT_OF_PLAN
        return ExitCode.OK


class RebalanceRunner:
    def __init__(self, rt: Runtime, plan: Plan, *, dry_run: bool = False,
                 cancel_orphans: bool = False) -> None:
        self.rt = rt
        self.plan = plan
        self.dry_run = dry_run
        self.cancel_orphans = cancel_orphans
        self._sem = asyncio.Semaphore(rt.settings.execution.max_concurrent_orders)
        self._placed = False  # set once the first phase starts

    async def run(self) -> RebalanceReport:
        rt = self.rt
        broker = rt.broker
        if self.dry_run:
            account = await self._read(broker.get_account(), "account")
        else:
            account = await require_tradable_session(broker)
        positions = await self._positions()
        symbols = sorted(set(self.plan.targets) | (
            {s for s, q in positions.items() if q > ZERO} if self.plan.sell_unlisted else set()))
        leftovers = await rt.prepare_account(set(symbols), dry_run=self.dry_run,
                                             cancel_orphans=self.cancel_orphans)
        if leftovers:  # they may have filled: size from the positions as they are now
            positions = await self._positions()
            account = await self._read(broker.get_account(), "account")
        assets = await self._assets(symbols)
        market = await self._arrival_quotes(symbols, assets)
        try:
            trades = plan_trades(self.plan, account.equity, positions, market)
        except ValueError as exc:  # no equity to size anything from
            raise RefusedError(str(exc)) from exc
        self._guard(trades, account.equity)
        cost = self._estimated_cost(trades, market)
        rt.emit(PlanReady(self.plan.name, account.equity, account.cash, tuple(trades),
                          turnover(trades), cost, self.dry_run, rt.clock.now()))
        if self.dry_run:
            return RebalanceReport(tuple(trades), (), (), True, True, turnover(trades), cost)

        sells = [t for t in trades if t.action in (Action.SELL, Action.CLOSE)]
        planned_buys = [t for t in trades if t.action is Action.BUY]
        reserve = rt.settings.guards.buy_price_reserve

        def on_phase(name: str, count: int) -> None:
            self._placed = True
            rt.emit(PhaseStarted(name, count, rt.clock.now()))

        def on_stop(symbols: list[str]) -> None:
            rt.emit(Notice("error", f"the {', '.join(symbols)} sell order(s) ended in an unknown "
                            "state or were ended by someone else: no more buys are placed"))

        async def place_one(trade: PlannedTrade) -> ExecutionResult:
            async with self._sem:
                return await rt.placement.place(
                    trade.intent(), id_base=client_order_id_base(rt.run_id, trade.symbol),
                    asset=assets[trade.symbol], position_before=positions.get(trade.symbol, ZERO),
                    validate=False)  # every position is checked from one read afterwards

        flow = TradeFlow(place_one, market, reserve, self.plan.min_order_notional,
                         self._cash_for_buys(account), self._cash_now, on_phase, on_stop,
                         usable_proceeds=hold_factor(reserve))
        outcome = await flow.run(sells, planned_buys)
        self._say_what_sizing_changed([p for p, _ in outcome.late], [f for _, f in outcome.late],
                                      outcome.late_budget)
        buys = outcome.buys
        swept = await rt.sweep()
        if not swept.ok:
            rt.emit(Notice("error", f"could not confirm that no order of this run is still "
                            f"open: {swept.describe()}"))
        cut = {p.symbol for p, b in zip(planned_buys, buys, strict=True) if b.qty < p.qty}
        final_trades = [t for t in trades if t.action is not Action.BUY] + buys
        check, passed, results = await self._check(final_trades, positions, outcome.results,
                                                   market, account.equity, cut)
        short = tuple(r.symbol for r in check if r.short)
        return RebalanceReport(tuple(final_trades), tuple(results), check, passed, False,
                               turnover(final_trades), cost, swept.ok, short)

    def _cash_for_buys(self, account: Account) -> Decimal:
        return cash_for_buys(account.cash, account.buying_power, account.equity,
                             self.plan.cash_buffer, self.rt.settings.guards.buy_price_reserve)

    async def _cash_now(self) -> Decimal:
        return self._cash_for_buys(await self._read(self.rt.broker.get_account(),
                                                    "account after sells"))

    async def _read(self, awaitable: Awaitable[T], what: str) -> T:
        try:
            return await awaitable
        except BrokerError as exc:
            done = ("stopped after placing orders (see alch show)" if self._placed
                    else "nothing placed")
            raise BrokerUnavailableError(f"could not read {what}: {exc}; {done}") from exc

    async def _positions(self) -> dict[str, Decimal]:
        return {p.symbol: p.qty for p in await self._read(self.rt.broker.get_positions(),
                                                          "positions")}

    def _say_what_sizing_changed(self, planned: Sequence[PlannedTrade],
                                 fitted: Sequence[PlannedTrade], available: Decimal) -> None:
        for before, after in zip(planned, fitted, strict=True):
            if after.qty == before.qty:
                continue
            what = (f"scaled from {normalize(before.qty)} to {normalize(after.qty)} shares"
                    if after.action is Action.BUY else
                    f"of {normalize(before.qty)} shares dropped")
            self.rt.emit(Notice(
                "warning", f"{before.symbol}: buy {what}: only ${max(available, ZERO):.2f} of "
                "cash is available after sells, the cash buffer and the broker's hold on market buys; "
                "the plan will not be reached",
                before.symbol))

    async def _assets(self, symbols: Sequence[str]) -> dict[str, Asset]:
        """Every symbol the run trades, in one bulk read; unknown or untradable plan symbols
        refuse the run (a holding to sell that is no longer tradable is left to the walk)."""
        found = await self._read(self.rt.broker.get_assets(symbols), "assets")
        problems = [f"targets.{s}: unknown symbol" for s in self.plan.symbols if s not in found]
        problems += [f"targets.{s}: {s} is not tradable" for s in self.plan.symbols
                     if s in found and not found[s].tradable and self.plan.targets[s] > ZERO]
        if problems:
            raise UsageError(f"{'; '.join(problems)}; nothing placed")
        missing = [s for s in symbols if s not in found]
        if missing:
            raise BrokerUnavailableError(f"the broker does not know held symbol(s) "
                                         f"{', '.join(missing)}; nothing placed")
        return dict(found)

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
        active = [t for t in trades if t.action is not Action.HOLD]
        for t in active:
            if (refusal := order_refusal(t.symbol, t.notional, guards)) is not None:
                raise RefusedError(refusal)
        if (refusal := turnover_refusal((t.notional for t in active), equity, guards)) is not None:
            raise RefusedError(refusal)

    @staticmethod
    def _estimated_cost(trades: Sequence[PlannedTrade], market: dict[str, MarketView]) -> Decimal:
        """Half the spread on every traded share: the cost of crossing to the far touch."""
        total = sum((t.qty * (market[t.symbol].ask - market[t.symbol].bid) / 2
                     for t in trades if t.action is not Action.HOLD), ZERO)
        return total.quantize(Decimal("0.01"))

    async def _check(self, trades: Sequence[PlannedTrade], before: dict[str, Decimal],
                     results: Sequence[ExecutionResult], market: dict[str, MarketView],
                     equity: Decimal, cut: set[str]
                     ) -> tuple[tuple[CheckRow, ...], bool, list[ExecutionResult]]:
        """Every position against what the fills imply, from one positions read (polled until
        they all agree or ``validation_timeout_seconds``), and against the plan.

        This is each order's position check too: a row that does not agree fails its order.
        Achieved weights are at arrival prices and of the equity the plan invested (net of
        the cash buffer), so they compare directly with the plan's target weights. A symbol
        whose buy was cut for cash is *short* when it ends further below its target weight
        than the plan's own drift threshold (the tolerance under which it would not trade).
        """
        rt = self.rt
        by_symbol = {r.intent.symbol: r for r in results}
        tolerance = rt.settings.execution.validation_tolerance
        expected: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (expected, tolerance)
        for t in trades:
            result = by_symbol.get(t.symbol)
            filled = ZERO if result is None else result.intent.side.sign * result.filled_qty
            exact = t.action is Action.CLOSE or t.target_qty == ZERO
            expected[t.symbol] = (before.get(t.symbol, ZERO) + filled, ZERO if exact else tolerance)
        deadline = rt.clock.monotonic() + rt.settings.execution.validation_timeout_seconds
        while True:
            final = {p.symbol: p.qty for p in await self._read(rt.broker.get_positions(),
                                                               "positions for the check")}
            agree = {s: abs(final.get(s, ZERO) - want) <= tol for s, (want, tol) in expected.items()}
            if all(agree.values()) or rt.clock.monotonic() >= deadline:
                break
            await rt.clock.sleep(rt.settings.execution.poll_interval_seconds)
        checked: list[ExecutionResult] = []
        for result in results:
            symbol = result.intent.symbol
            want, tol = expected[symbol]
            actual = final.get(symbol, ZERO)
            message = (f"position {normalize(actual)} as expected" if agree[symbol] else
                       f"position {normalize(actual)}, expected {normalize(want)} "
                       f"(off by {normalize(actual - want)})")
            rt.emit(ValidationDone(symbol, want, actual, agree[symbol], message, rt.clock.now()))
            checked.append(with_validation(result, ValidationResult(
                symbol, want, actual, tol, agree[symbol], message)))
        investable = equity * (1 - self.plan.cash_buffer)
        by_symbol = {r.intent.symbol: r for r in checked}
        rows: list[CheckRow] = []
        for t in trades:
            result = by_symbol.get(t.symbol)
            want, _ = expected[t.symbol]
            actual = final.get(t.symbol, ZERO)
            complete = result is None or result.status is ExecutionStatus.FILLED
            achieved = (actual * market[t.symbol].price / investable).quantize(WEIGHT) \
                if investable > ZERO else ZERO
            short = t.symbol in cut and t.target_weight - achieved > self.plan.drift_threshold
            rows.append(CheckRow(t.symbol, t.target_weight, want, actual, actual - want,
                                 agree[t.symbol] and complete, target_qty=t.target_qty,
                                 achieved_weight=achieved, short=short))
        passed = all(r.passed for r in rows)
        rt.emit(PortfolioChecked(tuple(rows), passed, rt.clock.now()))
        return tuple(rows), passed, checked
