"""Sells and buys of a rebalance in one flow: a buy walks as soon as its cash is certain.

The sells start at once. A buy is released — at its planned size — when the cash on
hand when the run started plus what the finished sells actually realised covers it (its
quantity at the arrival ask plus the price reserve) on top of every buy already
released (the cash, and each dollar realised, net of the broker's hold on market buys:
``sizing.cash_for_buys``); in plan order, so buys that the account can already pay walk together with
the sells. Buys still waiting when the last order has ended are sized to the cash the
account then reports (scaled down, never up: :func:`fit_buys`) and walk last.

A sell whose end is unknown (a cancel that never confirmed), or whose order someone
else ended, releases nothing more: running buys finish, waiting ones are not placed
(fail closed). A plan has one trade per symbol, so a symbol never has a buy and a sell
resting at once. Any failure stops every walk, each cancelling its own live order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.results import ExecutionResult
from alchemiser_cli.domain.sizing import Action, MarketView, PlannedTrade, fit_buys

PlaceOne = Callable[[PlannedTrade], Awaitable[ExecutionResult]]


@dataclass
class FlowOutcome:
    results: list[ExecutionResult] = field(default_factory=list)  # sells, then buys
    buys: list[PlannedTrade] = field(default_factory=list)  # as placed, or HOLD with a note
    stopped_by: list[str] = field(default_factory=list)  # sells that stopped the buys
    #: Buys that waited for the last order to end: (as planned, as sized to the cash then)
    late: list[tuple[PlannedTrade, PlannedTrade]] = field(default_factory=list)
    late_budget: Decimal = ZERO  # the cash they were sized to


@dataclass
class TradeFlow:
    place: PlaceOne
    market: Mapping[str, MarketView]
    reserve: Decimal  # guards.buy_price_reserve
    min_notional: Decimal
    budget: Decimal  # cash on hand for buys when the run started, net of the cash buffer
    read_budget: Callable[[], Awaitable[Decimal]]  # the same, read again from the account
    on_phase: Callable[[str, int], None]
    on_stop: Callable[[list[str]], None]
    #: Of each dollar a sell realises, what buys may be given (``sizing.hold_factor``: the
    #: broker holds more than a buy's cost while its market order is open).
    usable_proceeds: Decimal

    def cost(self, trade: PlannedTrade) -> Decimal:
        return trade.qty * self.market[trade.symbol].ask * (1 + self.reserve)

    async def run(self, sells: Sequence[PlannedTrade],
                  buys: Sequence[PlannedTrade]) -> FlowOutcome:
        out = FlowOutcome()
        waiting = list(buys)
        released: list[PlannedTrade] = []
        finished: dict[str, ExecutionResult] = {}
        committed = ZERO
        proceeds = ZERO
        running: dict[asyncio.Task[ExecutionResult], PlannedTrade] = {}

        def start(trade: PlannedTrade) -> None:
            running[asyncio.ensure_future(self.place(trade))] = trade

        def release() -> None:
            nonlocal committed
            if out.stopped_by:
                return
            now: list[PlannedTrade] = []
            room = self.budget + proceeds - committed
            for trade in list(waiting):
                need = self.cost(trade)
                if need <= room:
                    waiting.remove(trade)
                    released.append(trade)
                    now.append(trade)
                    committed += need
                    room -= need
            if now:
                self.on_phase("buys", len(now))
                for trade in now:
                    start(trade)

        if sells:
            self.on_phase("sells", len(sells))
            for trade in sells:
                start(trade)
        release()
        try:
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    trade = running.pop(task)
                    result = task.result()
                    finished[trade.symbol] = result
                    if trade.side is not None and trade.action is not Action.BUY:
                        if result.unsettled or result.ended_elsewhere:
                            out.stopped_by.append(trade.symbol)
                            self.on_stop(sorted(out.stopped_by))
                        elif result.avg_price is not None:
                            proceeds += result.filled_qty * result.avg_price * self.usable_proceeds
                release()
        except BaseException:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        late: list[PlannedTrade] = []
        if waiting and out.stopped_by:
            late = [replace(b, action=Action.HOLD, qty=ZERO, note="not placed: a sell's end "
                            "is unknown or was not ours") for b in waiting]
        elif waiting:  # nothing is running now: the account's cash is exact
            out.late_budget = await self.read_budget()
            late = fit_buys(waiting, out.late_budget, self.market, self.reserve, self.min_notional)
            fitted = {t.symbol: t for t in late}
            out.late = [(b, fitted[b.symbol]) for b in waiting]
            to_place = [b for b in late if b.action is Action.BUY]
            if to_place:
                self.on_phase("buys", len(to_place))
                tasks = [asyncio.ensure_future(self.place(b)) for b in to_place]
                try:
                    for result in await asyncio.gather(*tasks):
                        finished[result.intent.symbol] = result
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
        order = {t.symbol: i for i, t in enumerate([*sells, *buys])}
        out.results = sorted(finished.values(), key=lambda r: order[r.intent.symbol])
        by_symbol = {t.symbol: t for t in [*released, *late]}
        out.buys = [by_symbol[b.symbol] for b in buys]
        return out
