"""The rebalance's trade flow: which buy walks when, and with how much cash.

The orders are a fake desk in virtual time: each one ends after the seconds the test
gives it, with the fill the test gives it, so the cash arithmetic is checked exactly
(when each buy started, at what size) without a market in the way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.trade_flow import FlowOutcome, TradeFlow
from alchemiser_cli.domain.intents import Urgency
from alchemiser_cli.domain.orders import OrderStatus, OrderType
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus, StepRecord
from alchemiser_cli.domain.sizing import Action, MarketView, PlannedTrade

D = Decimal
START = datetime(2026, 11, 24, 15, tzinfo=UTC)
RESERVE = D("0.01")
#: Asks are 100 (and 50 for the whole-share LOW): a buy of q shares needs q * ask * 1.01.
MARKET = {
    "S1": MarketView(D("99.99"), D("99.98"), D("100.00"), True),
    "S2": MarketView(D("99.99"), D("99.98"), D("100.00"), True),
    "BIG": MarketView(D("99.99"), D("99.98"), D("100.00"), True),
    "B1": MarketView(D("99.99"), D("99.98"), D("100.00"), True),
    "B2": MarketView(D("99.99"), D("99.98"), D("100.00"), True),
    "LOW": MarketView(D("49.99"), D("49.98"), D("50.00"), False),
}


def trade(symbol: str, action: Action, qty: str) -> PlannedTrade:
    q = D(qty)
    return PlannedTrade(symbol, action, D(0), D("0.1"), D(0), q, q, MARKET[symbol].price,
                        Urgency.MEDIUM)


def sell(symbol: str, qty: str) -> PlannedTrade:
    return trade(symbol, Action.SELL, qty)


def buy(symbol: str, qty: str) -> PlannedTrade:
    return trade(symbol, Action.BUY, qty)


@dataclass
class Fill:
    """How one order ends: after ``seconds``, ``qty`` filled at ``price`` (None: all of it at
    the ask for a buy, at 100 for a sell), with the ends ``status`` says."""

    seconds: float = 1.0
    qty: str | None = None
    price: str | None = None
    status: OrderStatus = OrderStatus.FILLED
    error: str | None = None
    fails: bool = False  # the walk raises instead of returning


@dataclass
class Desk:
    """A fake placement: records when each order started, at what size, and how it ended."""

    clock: LoopClock
    fills: dict[str, Fill] = field(default_factory=dict)
    started: list[tuple[str, Decimal, float]] = field(default_factory=list)  # symbol, qty, at
    cancelled: list[str] = field(default_factory=list)
    phases: list[tuple[str, int, float]] = field(default_factory=list)
    stops: list[list[str]] = field(default_factory=list)
    budget_reads: list[float] = field(default_factory=list)
    cash_later: Decimal = field(default_factory=Decimal)

    def started_at(self, symbol: str) -> float:
        return next(at for s, _, at in self.started if s == symbol)

    def qty_of(self, symbol: str) -> Decimal:
        return next(q for s, q, _ in self.started if s == symbol)

    async def place(self, planned: PlannedTrade) -> ExecutionResult:
        fill = self.fills.get(planned.symbol, Fill())
        self.started.append((planned.symbol, planned.qty, self.clock.monotonic()))
        try:
            await self.clock.sleep(fill.seconds)
        except asyncio.CancelledError:
            await self.clock.sleep(0.5)  # a cancelled walk first cancels its live order
            self.cancelled.append(planned.symbol)
            raise
        if fill.fails:
            raise RuntimeError(f"{planned.symbol} walk broke")
        filled = planned.qty if fill.qty is None else D(fill.qty)
        default = MARKET[planned.symbol].ask if planned.action is Action.BUY else D(100)
        price = (default if fill.price is None else D(fill.price)) if filled > 0 else None
        step = StepRecord(1, OrderType.LIMIT, None, f"x-{planned.symbol}-1", "id", planned.qty,
                          None, None, None, fill.status, filled, price, fill.seconds, fill.error)
        status = ExecutionStatus.FILLED if filled == planned.qty else ExecutionStatus.PARTIAL
        return ExecutionResult(planned.intent(), status, planned.qty, filled, price, None, None,
                               (step,), None, START, START, fill.error)

    async def read_budget(self) -> Decimal:
        self.budget_reads.append(self.clock.monotonic())
        return self.cash_later


def flow(sells: list[PlannedTrade], buys: list[PlannedTrade], *, budget: str,
         fills: dict[str, Fill] | None = None, cash_later: str = "0",
         min_notional: str = "5", usable: str = "1") -> tuple[FlowOutcome, Desk]:
    async def main() -> tuple[FlowOutcome, Desk]:
        clock = LoopClock(START)
        desk = Desk(clock, fills or {}, cash_later=D(cash_later))
        tf = TradeFlow(desk.place, MARKET, RESERVE, D(min_notional), D(budget), desk.read_budget,
                       lambda name, n: desk.phases.append((name, n, clock.monotonic())),
                       desk.stops.append, usable_proceeds=D(usable))
        return await tf.run(sells, buys), desk

    return run(main, virtual=True)


def test_a_buy_the_cash_on_hand_covers_exactly_walks_with_the_sells():
    # B1: 10 x 100 x 1.01 = 1010, exactly the cash on hand
    out, desk = flow([sell("S1", "5")], [buy("B1", "10")], budget="1010")
    assert desk.started_at("B1") == desk.started_at("S1") == 0
    assert desk.phases == [("sells", 1, 0), ("buys", 1, 0)]
    assert desk.budget_reads == [] and out.late == []
    assert [b.qty for b in out.buys] == [D(10)]


def test_a_buy_one_cent_beyond_the_cash_on_hand_waits_for_a_sell():
    _, desk = flow([sell("S1", "1")], [buy("B1", "10")], budget="1009.99",
                     fills={"S1": Fill(seconds=7)})
    assert desk.started_at("B1") == 7  # released by S1's proceeds (100), not before
    assert desk.phases == [("sells", 1, 0), ("buys", 1, 7)]
    assert desk.budget_reads == []


def test_a_sells_realised_proceeds_release_the_buy_they_pay_for():
    # no cash at all: B1 (1010) walks as soon as S1's 10 x 101 = 1010 are realised
    out, desk = flow([sell("S1", "10")], [buy("B1", "10")], budget="0",
                     fills={"S1": Fill(seconds=4, price="101")})
    assert desk.started_at("B1") == 4
    assert desk.budget_reads == [] and out.late == []
    assert out.buys[0].action is Action.BUY and out.buys[0].qty == D(10)


def test_proceeds_are_what_the_sell_realised_not_what_it_planned():
    # S1 planned 10 shares (1,000) but sold 4 at 100: 400 realised, short of B1's 1,010.
    # B1 waits for every order to end, then is sized to the cash the account reports.
    out, desk = flow([sell("S1", "10")], [buy("B1", "10")], budget="0",
                     fills={"S1": Fill(seconds=3, qty="4", price="100")}, cash_later="404")
    assert desk.budget_reads == [3]
    assert desk.started_at("B1") == 3
    assert desk.qty_of("B1") == D(4)  # 404 / (100 x 1.01): scaled down, never up
    assert out.late_budget == D(404)
    assert [(p.qty, f.qty) for p, f in out.late] == [(D(10), D(4))]
    assert out.buys[0].note == "scaled to 40.0% for cash"


def test_only_the_usable_part_of_the_proceeds_releases_buys():
    # each realised dollar gives buys 0.9 (the broker holds more than a market buy's cost):
    # 1,100 realised is 990, short of B1's 1,010; 1,200 realised (1,080) covers it
    _, desk = flow([sell("S1", "11")], [buy("B1", "10")], budget="0", usable="0.9",
                   fills={"S1": Fill(seconds=2)}, cash_later="1010")
    assert desk.budget_reads == [2]  # released only by the late read
    _, desk = flow([sell("S1", "12")], [buy("B1", "10")], budget="0", usable="0.9",
                   fills={"S1": Fill(seconds=2)})
    assert desk.budget_reads == [] and desk.started_at("B1") == 2


def test_a_sell_that_filled_at_a_lower_price_releases_less():
    # 10 sold at 50 realise 500, not the 1,000 planned: B1 (1,010) must not walk early
    _, desk = flow([sell("S1", "10")], [buy("B1", "10")], budget="0",
                     fills={"S1": Fill(seconds=2, price="50")}, cash_later="2020")
    assert desk.budget_reads == [2]  # only the late read released it
    assert desk.qty_of("B1") == D(10)


def test_cash_released_to_one_buy_is_not_released_again():
    # 1,500 on hand: B1 (1,010) walks at once; B2 (1,010) needs more than the 490 left, and
    # still more than 490 + S1's 100 when S1 ends
    _, desk = flow([sell("S1", "1")], [buy("B1", "10"), buy("B2", "10")], budget="1500",
                     fills={"S1": Fill(seconds=2), "B1": Fill(seconds=5), "B2": Fill(seconds=1)},
                     cash_later="2000")
    assert desk.started_at("B1") == 0
    assert desk.budget_reads == [5]  # B2 waited for every order to end
    assert desk.started_at("B2") == 5
    assert desk.phases == [("sells", 1, 0), ("buys", 1, 0), ("buys", 1, 5)]


def test_two_buys_the_cash_covers_together_walk_together():
    _, desk = flow([], [buy("B1", "10"), buy("B2", "10")], budget="2020")
    assert desk.started_at("B1") == desk.started_at("B2") == 0
    assert desk.phases == [("buys", 2, 0)]  # no sells: no sells phase
    assert desk.budget_reads == []


def test_a_buy_that_does_not_fit_yet_does_not_hold_back_a_smaller_one():
    _, desk = flow([sell("S1", "1")], [buy("BIG", "20"), buy("B1", "5")], budget="600",
                     fills={"S1": Fill(seconds=3)}, cash_later="3000")
    assert desk.started_at("B1") == 0  # 505 fits in 600 while BIG (2,020) waits
    assert desk.started_at("BIG") == 3 and desk.budget_reads == [3]


def test_a_filled_buy_is_not_counted_as_proceeds():
    # 1,020 on hand: B1 (1,010) walks, 10 left. B1 then fills (1,000 spent, not realised):
    # B2 must still wait for the last order to end
    _, desk = flow([sell("S1", "1")], [buy("B1", "10"), buy("B2", "10")], budget="1020",
                     fills={"S1": Fill(seconds=6), "B1": Fill(seconds=1)}, cash_later="1010")
    assert desk.started_at("B1") == 0
    assert desk.started_at("B2") == 6 and desk.budget_reads == [6]


@pytest.mark.parametrize("end", [
    Fill(seconds=2, qty="0", status=OrderStatus.UNKNOWN, error="cancel of x not confirmed"),
    Fill(seconds=2, qty="0", status=OrderStatus.CANCELED, error="x was canceled outside this run"),
], ids=["unknown", "ended-elsewhere"])
def test_a_sell_with_an_unknown_or_foreign_end_stops_every_buy_still_waiting(end):
    out, desk = flow([sell("S1", "10"), sell("S2", "10")], [buy("B1", "5"), buy("B2", "10")],
                     budget="600", fills={"S1": end, "S2": Fill(seconds=4), "B1": Fill(seconds=8)},
                     cash_later="99999")
    assert desk.stops == [["S1"]]
    assert [s for s, _, _ in desk.started] == ["S1", "S2", "B1"]  # B1 was already running
    assert desk.budget_reads == []  # nothing is sized after a stop
    assert [(b.symbol, b.action, b.qty) for b in out.buys] == [
        ("B1", Action.BUY, D(5)), ("B2", Action.HOLD, D(0))]
    assert out.buys[1].note == "not placed: a sell's end is unknown or was not ours"
    assert out.stopped_by == ["S1"]
    assert [r.intent.symbol for r in out.results] == ["S1", "S2", "B1"]


def test_a_buy_with_an_unknown_end_stops_nothing():
    out, desk = flow([], [buy("B1", "5"), buy("B2", "10")], budget="600",
                     fills={"B1": Fill(seconds=1, qty="0", status=OrderStatus.UNKNOWN,
                                       error="lost")}, cash_later="1010")
    assert desk.stops == [] and out.stopped_by == []
    assert desk.budget_reads == [1] and desk.qty_of("B2") == D(10)


def test_a_cancelled_sell_without_an_error_is_a_normal_end():
    # our own cancel (no error) after a partial fill: its proceeds count, nothing stops
    _, desk = flow([sell("S1", "10")], [buy("B1", "5")], budget="0",
                     fills={"S1": Fill(seconds=2, qty="6", status=OrderStatus.CANCELED)})
    assert desk.stops == [] and desk.started_at("B1") == 2  # 600 realised covers 505


def test_buys_still_waiting_at_the_end_are_fitted_to_the_cash_read_then():
    # nothing on hand, S1 realises nothing: 1,515 read at the end for B1 (1,010) + LOW (20 x 50
    # x 1.01 = 1,010): scaled by 1515/2020 = 75% -> B1 7.5, LOW 15 whole shares
    out, desk = flow([sell("S1", "10")], [buy("B1", "10"), buy("LOW", "20")], budget="0",
                     fills={"S1": Fill(seconds=1, qty="0")}, cash_later="1515")
    assert desk.budget_reads == [1]
    assert (desk.qty_of("B1"), desk.qty_of("LOW")) == (D("7.5"), D(15))
    assert desk.phases == [("sells", 1, 0), ("buys", 2, 1)]
    assert [(p.symbol, p.qty, f.qty) for p, f in out.late] == [
        ("B1", D(10), D("7.5")), ("LOW", D(20), D(15))]
    assert out.late_budget == D(1515)
    assert [r.intent.symbol for r in out.results] == ["S1", "B1", "LOW"]


def test_a_late_buy_dropped_for_cash_is_not_placed():
    out, desk = flow([sell("S1", "1")], [buy("B1", "10"), buy("LOW", "1")], budget="0",
                     fills={"S1": Fill(seconds=1, qty="0")}, cash_later="60")
    # 60 / 1,060.5 = 5.66%: B1 0.5657 shares ($57 >= $5), LOW 0.0566 -> 0 whole shares
    assert [s for s, _, _ in desk.started] == ["S1", "B1"]
    assert desk.phases == [("sells", 1, 0), ("buys", 1, 1)]
    assert [(b.symbol, b.action) for b in out.buys] == [("B1", Action.BUY), ("LOW", Action.HOLD)]
    assert [r.intent.symbol for r in out.results] == ["S1", "B1"]


def test_results_come_in_plan_order_whatever_order_the_orders_end_in():
    out, _ = flow([sell("S1", "1"), sell("S2", "1")], [buy("B1", "1"), buy("B2", "1")],
                  budget="5000", fills={"S1": Fill(seconds=9), "S2": Fill(seconds=1),
                                        "B1": Fill(seconds=5), "B2": Fill(seconds=2)})
    assert [r.intent.symbol for r in out.results] == ["S1", "S2", "B1", "B2"]
    assert [b.symbol for b in out.buys] == ["B1", "B2"]


def test_a_walk_that_breaks_cancels_every_other_walk_and_the_error_surfaces():
    with pytest.raises(RuntimeError, match="S2 walk broke"):
        flow([sell("S1", "1"), sell("S2", "1")], [buy("B1", "1")], budget="5000",
             fills={"S1": Fill(seconds=50), "S2": Fill(seconds=1, fails=True),
                    "B1": Fill(seconds=50)})


def test_the_other_walks_are_cancelled_not_left_running():
    async def main() -> list[str]:
        clock = LoopClock(START)
        desk = Desk(clock, {"S1": Fill(seconds=50), "S2": Fill(seconds=1, fails=True),
                            "B1": Fill(seconds=50)})
        tf = TradeFlow(desk.place, MARKET, RESERVE, D(5), D(5000), desk.read_budget,
                       lambda *_: None, desk.stops.append, usable_proceeds=D(1))
        with pytest.raises(RuntimeError):
            await tf.run([sell("S1", "1"), sell("S2", "1")], [buy("B1", "1")])
        return sorted(desk.cancelled)  # as the error reaches the caller

    # every other walk has finished cancelling (its live order) before the error surfaces
    assert run(main, virtual=True) == ["B1", "S1"]


def test_a_late_walk_that_breaks_cancels_the_other_late_walks():
    async def main() -> list[str]:
        clock = LoopClock(START)
        desk = Desk(clock, {"S1": Fill(seconds=1, qty="0"), "B1": Fill(seconds=1, fails=True),
                            "B2": Fill(seconds=50)}, cash_later=D(5000))
        tf = TradeFlow(desk.place, MARKET, RESERVE, D(5), D(0), desk.read_budget,
                       lambda *_: None, desk.stops.append, usable_proceeds=D(1))
        with pytest.raises(RuntimeError, match="B1 walk broke"):
            await tf.run([sell("S1", "1")], [buy("B1", "1"), buy("B2", "1")])
        return list(desk.cancelled)

    assert run(main, virtual=True) == ["B2"]


def test_cancelling_the_flow_cancels_every_walk():
    async def main() -> list[str]:
        clock = LoopClock(START)
        desk = Desk(clock, {"S1": Fill(seconds=50), "B1": Fill(seconds=50)})
        tf = TradeFlow(desk.place, MARKET, RESERVE, D(5), D(5000), desk.read_budget,
                       lambda *_: None, desk.stops.append, usable_proceeds=D(1))
        task = asyncio.ensure_future(tf.run([sell("S1", "1")], [buy("B1", "1")]))
        await clock.sleep(3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sorted(desk.cancelled)

    assert run(main, virtual=True) == ["B1", "S1"]


def test_cancelling_the_late_buys_cancels_every_one_of_them():
    async def main() -> list[str]:
        clock = LoopClock(START)
        desk = Desk(clock, {"S1": Fill(seconds=1, qty="0"), "B1": Fill(seconds=50),
                            "B2": Fill(seconds=50)}, cash_later=D(5000))
        tf = TradeFlow(desk.place, MARKET, RESERVE, D(5), D(0), desk.read_budget,
                       lambda *_: None, desk.stops.append, usable_proceeds=D(1))
        task = asyncio.ensure_future(tf.run([sell("S1", "1")], [buy("B1", "1"), buy("B2", "1")]))
        await clock.sleep(5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sorted(desk.cancelled)

    assert run(main, virtual=True) == ["B1", "B2"]
