"""The end-of-run sweep and the open-order check before a run: which orders are ours to
cancel, and what the run may claim afterwards.

Against the simulator (whose cancels are asynchronous, as Alpaca's: 204, then
``pending_cancel``, then ``canceled``; docs.alpaca.markets/docs/orders-at-alpaca) behind a
script of failures. Client order ids are ``alch-<run id>-<SYMBOL>-<step>``
(``domain/order_ids.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

import pytest

from alchemiser_cli.brokers.port import BrokerError, NotFoundError
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.quote_service import QuoteService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.reconcile import Reconciler, RunOrders, SweepResult, classify, sweep_run
from alchemiser_cli.core.walk import WalkConfig, Walker
from alchemiser_cli.domain.errors import BrokerUnavailableError, OtherRunError, RefusedError
from alchemiser_cli.domain.events import Event, LeftoverCancelled, Notice, OrderProgress
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import Order, OrderRequest, OrderStatus, OrderType
from alchemiser_cli.domain.quotes import QuotePolicy
from alchemiser_cli.journal.rows import UnsettledOrder
from tests.unit.scripted import Scripted

T = TypeVar("T")
D = Decimal
RUN = "261124150000abc001"  # this run: installation "abc"
DEAD = "261124140000abc004"  # an earlier run of this installation, whose process is gone
ALIVE = "261124145000abc005"  # a run of this installation still in progress
ELSEWHERE = "261124150000xyz001"  # another machine's run, same second


def cid(run_id: str, symbol: str, step: str = "1") -> str:
    return f"alch-{run_id}-{symbol}-{step}"


MINE = cid(RUN, "AAPL")


@dataclass
class Desk:
    """What a test body gets: the scripted simulator, the run's guarded broker, a walker (for
    cancel-and-confirm), the clock and the events emitted."""

    scripted: Scripted
    broker: GuardedBroker
    walker: Walker
    clock: LoopClock
    events: list[Event] = field(default_factory=list)

    def notices(self) -> list[str]:
        return [e.message for e in self.events if isinstance(e, Notice)]

    async def rest(self, client_order_id: str, symbol: str = "AAPL") -> Order:
        """A buy far below the market: it rests."""
        return await self.scripted.sim.submit_order(OrderRequest(
            client_order_id, symbol, Side.BUY, D(1), OrderType.LIMIT, D("20.00")))


def on_sim(body: Callable[[Desk], Awaitable[T]]) -> tuple[T, SimState, Desk]:
    state = demo_state()
    state.faults.limit_fills = False
    desks: list[Desk] = []

    async def main() -> T:
        clock = LoopClock(state.now_dt)
        async with SimBroker(state, clock) as sim:
            scripted = Scripted(sim, clock)
            guarded = GuardedBroker(scripted, RateLimiter(clock, 200), clock)  # type: ignore[arg-type]
            events: list[Event] = []
            quotes = QuoteService(guarded, clock, QuotePolicy(), 1.0, events.append)
            desk = Desk(scripted, guarded, Walker(guarded, clock, quotes, events.append,
                                                  WalkConfig()), clock, events)
            desks.append(desk)
            return await body(desk)

    result = run(main, virtual=True)
    return result, state, desks[0]


def status_of(state: SimState, client_order_id: str) -> str:
    return state.order_table.by_client_id[client_order_id].status


async def sweep(desk: Desk, submitted: set[str], finished: set[str] | None = None) -> SweepResult:
    orders = RunOrders(RUN, submitted=set(submitted), finished=set(finished or ()))
    return await sweep_run(desk.broker, desk.walker.cancel_and_confirm, orders, desk.events.append)


# -- the end-of-run sweep ----------------------------------------------------------------------
def test_the_sweep_cancels_this_runs_open_orders_and_nothing_else():
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.rest(cid(ELSEWHERE, "MSFT"), "MSFT")
        await desk.rest(cid(DEAD, "SPY"), "SPY")
        await desk.rest("manual-order-7", "BND")
        await desk.clock.sleep(1)
        return await sweep(desk, {MINE})

    swept, state, desk = on_sim(body)
    assert swept.ok
    assert [(o.client_order_id, o.status) for o in swept.settled] == [(MINE, OrderStatus.CANCELED)]
    assert status_of(state, MINE) == "canceled"
    for other in (cid(ELSEWHERE, "MSFT"), cid(DEAD, "SPY"), "manual-order-7"):
        assert status_of(state, other) == "new", other
    assert desk.notices() == [f"cancelling open order {MINE}"]
    assert swept.describe() == (
        f"1 order(s) of this run were working: {MINE} canceled (filled 0 of 1 AAPL); "
        "none is open now")


def test_the_sweep_finds_this_runs_orders_by_prefix_even_those_it_did_not_record():
    # an order of this run the in-memory record never saw is still this run's by its
    # client_order_id, and is cancelled. (With nothing recorded as working the sweep reads
    # nothing: every order is recorded before its submission, so a run that saw each of its
    # orders end has none open; see test_a_run_whose_orders_all_ended_finds_nothing_to_cancel.)
    unrecorded = cid(RUN, "MSFT", "m")

    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.rest(unrecorded, "MSFT")
        await desk.clock.sleep(1)
        return await sweep(desk, {MINE})

    swept, state, _ = on_sim(body)
    assert [o.client_order_id for o in swept.settled] == sorted([MINE, unrecorded])
    assert status_of(state, unrecorded) == "canceled"
    assert status_of(state, MINE) == "canceled"


def test_a_run_whose_orders_all_ended_finds_nothing_to_cancel():
    async def body(desk: Desk) -> SweepResult:
        order = await desk.rest(MINE)
        await desk.clock.sleep(1)
        await desk.walker.cancel_and_confirm(order)
        return await sweep(desk, {MINE}, {MINE})

    swept, _, desk = on_sim(body)
    assert swept.ok and swept.settled == () and swept.unconfirmed == ()
    assert swept.describe() == "no order of this run was left open"
    assert desk.scripted.count("get_order_by_client_id") == 0


def test_an_order_that_ended_without_the_run_seeing_it_is_reported_as_it_ended():
    async def body(desk: Desk) -> SweepResult:
        order = await desk.rest(MINE)
        await desk.clock.sleep(1)
        await desk.scripted.sim.cancel_order(order.id)
        await desk.clock.sleep(1)
        return await sweep(desk, {MINE})

    swept, _, desk = on_sim(body)
    assert swept.ok and [(o.client_order_id, o.status) for o in swept.settled] == [
        (MINE, OrderStatus.CANCELED)]
    assert desk.notices() == [] and desk.scripted.count("cancel_order") == 0


def test_when_the_open_orders_cannot_be_listed_each_working_order_is_looked_up():
    finished = cid(RUN, "SPY")

    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        done = await desk.rest(finished, "SPY")
        await desk.clock.sleep(1)
        await desk.walker.cancel_and_confirm(done)
        desk.scripted.fail("list_open_orders", BrokerError("HTTP 400: list broken"))
        return await sweep(desk, {MINE, finished}, {finished})

    swept, state, desk = on_sim(body)
    assert swept.ok and [o.client_order_id for o in swept.settled] == [MINE]
    assert status_of(state, MINE) == "canceled"
    assert desk.scripted.count("get_order_by_client_id", finished) == 0  # it had ended
    assert desk.notices() == [f"cancelling open order {MINE}"]


def test_an_order_that_cannot_be_looked_up_is_never_claimed_stopped():
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.clock.sleep(1)
        desk.scripted.fail("list_open_orders", BrokerError("HTTP 400: list broken"))
        desk.scripted.fail("get_order_by_client_id", BrokerError("HTTP 400: lookup broken"))
        return await sweep(desk, {MINE})

    swept, state, _ = on_sim(body)
    assert not swept.ok and swept.unconfirmed == (MINE,)
    assert status_of(state, MINE) == "new"
    assert swept.describe() == (f"COULD NOT CONFIRM that these orders stopped working: {MINE} "
                                "(check them at the broker)")


def test_an_order_whose_cancel_never_confirms_is_unconfirmed_not_cancelled():
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.clock.sleep(1)
        desk.scripted.sim.state.faults.stuck_cancel = 1
        return await sweep(desk, {MINE})

    swept, state, _ = on_sim(body)
    assert not swept.ok and swept.unconfirmed == (MINE,) and swept.settled == ()
    assert status_of(state, MINE) == "pending_cancel"


def test_an_unrecorded_order_whose_cancel_never_confirms_is_unconfirmed():
    # found only by its prefix (the run's record never saw it): its failed cancel must still
    # be reported, or the run would claim nothing is working
    unrecorded = cid(RUN, "MSFT", "m")

    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.rest(unrecorded, "MSFT")
        await desk.clock.sleep(1)
        desk.scripted.sim.state.faults.stuck_cancel = 2
        return await sweep(desk, {MINE})

    swept, _, _ = on_sim(body)
    assert not swept.ok and swept.unconfirmed == tuple(sorted([MINE, unrecorded]))


def test_ended_orders_that_cannot_be_looked_up_do_not_hide_the_others():
    # the list works and shows nothing open; of two orders that ended unseen, the first
    # cannot be looked up (it is not working: the list says so), the second is reported
    first, second = cid(RUN, "AAPL"), cid(RUN, "MSFT")

    async def body(desk: Desk) -> SweepResult:
        for c, symbol in ((first, "AAPL"), (second, "MSFT")):
            order = await desk.rest(c, symbol)
            await desk.clock.sleep(1)
            await desk.scripted.sim.cancel_order(order.id)
        await desk.clock.sleep(1)
        desk.scripted.fail("get_order_by_client_id", BrokerError("HTTP 400: lookup broken"))
        return await sweep(desk, {first, second})

    swept, _, desk = on_sim(body)
    assert swept.ok and [(o.client_order_id, o.status) for o in swept.settled] == [
        (second, OrderStatus.CANCELED)]
    assert desk.scripted.count("get_order_by_client_id") == 2


def test_an_order_the_broker_never_received_is_not_working():
    async def body(desk: Desk) -> SweepResult:
        desk.scripted.fail("list_open_orders", BrokerError("HTTP 400: list broken"))
        return await sweep(desk, {MINE})  # submitted, but the broker has no such order

    swept, _, _ = on_sim(body)
    assert swept.ok and swept.settled == () and swept.unconfirmed == ()


def test_settled_and_unconfirmed_orders_are_both_described():
    result = SweepResult(settled=tuple(_orders(MINE)), unconfirmed=(cid(RUN, "MSFT"),))
    assert result.describe() == (
        f"1 order(s) of this run were working: {MINE} new (filled 0 of 1 AAPL); "
        f"COULD NOT CONFIRM that these orders stopped working: {cid(RUN, 'MSFT')} "
        "(check them at the broker)")
    assert not result.ok and SweepResult().ok


def test_an_order_gone_from_the_broker_is_settled_as_it_was():
    async def gone(_: Order) -> Order:
        raise NotFoundError("order not found", status=404)

    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.clock.sleep(1)
        return await sweep_run(desk.broker, gone, RunOrders(RUN, submitted={MINE}))

    swept, _, _ = on_sim(body)
    assert swept.ok and [(o.client_order_id, o.status) for o in swept.settled] == [
        (MINE, OrderStatus.NEW)]


def test_a_working_order_the_list_missed_is_cancelled_not_reported_as_ended():
    # the open-orders list lags (it does not show the order yet); the lookup shows it working
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.clock.sleep(1)
        real = desk.scripted.sim.list_open_orders

        async def lagging() -> list[Order]:
            return [o for o in await real() if o.client_order_id != MINE]
        desk.scripted.sim.list_open_orders = lagging  # type: ignore[method-assign]
        return await sweep(desk, {MINE})

    swept, state, desk = on_sim(body)
    assert swept.ok and [(o.client_order_id, o.status) for o in swept.settled] == [
        (MINE, OrderStatus.CANCELED)]
    assert status_of(state, MINE) == "canceled"
    assert desk.notices() == [f"cancelling open order {MINE}"]


def test_a_missed_working_order_whose_cancel_never_confirms_is_unconfirmed():
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.clock.sleep(1)
        desk.scripted.sim.state.faults.stuck_cancel = 1
        desk.scripted.fail("list_open_orders", BrokerError("HTTP 400: list broken"))
        return await sweep(desk, {MINE})

    swept, _, _ = on_sim(body)
    assert not swept.ok and swept.unconfirmed == (MINE,) and swept.settled == ()


def test_every_order_the_sweep_cancels_is_announced():
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.rest(cid(RUN, "MSFT"), "MSFT")
        await desk.clock.sleep(1)
        return await sweep(desk, {MINE})

    _, _, desk = on_sim(body)
    assert sorted(desk.notices()) == [f"cancelling open order {cid(RUN, 'AAPL')}",
                                      f"cancelling open order {cid(RUN, 'MSFT')}"]


# -- before a run: whose open orders are these? ------------------------------------------------
def _orders(*client_order_ids: str) -> list[Order]:
    now = datetime(2026, 11, 24, 15, tzinfo=UTC)
    return [Order(f"id-{i}", c, "AAPL", Side.BUY, OrderType.LIMIT, D(1), D(0), None, D(1),
                  OrderStatus.NEW, now, now) for i, c in enumerate(client_order_ids)]


def test_open_orders_are_sorted_by_who_placed_them():
    found = classify(_orders(cid(DEAD, "AAPL"), cid(ALIVE, "AAPL"), cid(ELSEWHERE, "AAPL"),
                             cid(RUN, "AAPL"), "alch-not-a-run-id", "manual-1"),
                     run_id=RUN, live_runs={ALIVE})
    assert [o.client_order_id for o in found.leftovers] == [cid(DEAD, "AAPL")]
    assert [o.client_order_id for o in found.other_runs] == [
        cid(ALIVE, "AAPL"), cid(ELSEWHERE, "AAPL"), cid(RUN, "AAPL"), "alch-not-a-run-id"]
    assert [o.client_order_id for o in found.foreign] == ["manual-1"]


@dataclass
class Prepared:
    outcome: tuple[Order, ...] | Exception
    state: SimState
    desk: Desk


def prepare(setup: Callable[[Desk], Awaitable[None]], *, trade: frozenset[str] = frozenset({"AAPL"}),
            dry_run: bool = False, cancel_orphans: bool = False,
            live: frozenset[str] = frozenset(), age: float = 0.0) -> Prepared:
    """The open-order check of a run about to trade ``trade``, ``age`` seconds after
    ``setup`` placed the account's open orders."""
    async def body(desk: Desk) -> tuple[Order, ...] | Exception:
        await setup(desk)
        await desk.clock.sleep(1 + age)
        reconciler = Reconciler(desk.broker, desk.clock, desk.events.append,
                                desk.walker.cancel_and_confirm)
        try:
            return await reconciler.prepare(
                run_id=RUN, live_runs=live, trade_symbols=trade, dry_run=dry_run,
                cancel_orphans=cancel_orphans, orphan_min_age_seconds=900)
        except Exception as exc:
            return exc

    outcome, state, desk = on_sim(body)
    return Prepared(outcome, state, desk)


def resting(*orders: tuple[str, str]) -> Callable[[Desk], Awaitable[None]]:
    async def setup(desk: Desk) -> None:
        for client_order_id, symbol in orders:
            await desk.rest(client_order_id, symbol)
    return setup


def test_a_dead_runs_leftovers_are_cancelled_and_reported_before_anything_is_placed():
    leftover = cid(DEAD, "MSFT")
    done = prepare(resting((leftover, "MSFT")))
    assert isinstance(done.outcome, tuple)
    assert [(o.client_order_id, o.status) for o in done.outcome] == [
        (leftover, OrderStatus.CANCELED)]
    assert status_of(done.state, leftover) == "canceled"
    cancelled = [e for e in done.desk.events if isinstance(e, LeftoverCancelled)]
    assert [(e.client_order_id, e.run_id, e.status, e.qty, e.filled_qty) for e in cancelled] == [
        (leftover, DEAD, "canceled", D(1), D(0))]
    assert done.desk.notices() == [f"cancelling 1 open order(s) left by an earlier alch run "
                                   f"({DEAD}) before placing anything"]


def test_a_leftover_that_filled_before_it_was_cancelled_is_reported_with_its_fill():
    leftover = cid(DEAD, "MSFT")

    async def setup(desk: Desk) -> None:
        await desk.rest(leftover, "MSFT")
        desk.scripted.sim.state.faults.fill_on_cancel = 1
    done = prepare(setup)
    assert isinstance(done.outcome, tuple) and done.outcome[0].status is OrderStatus.FILLED
    assert done.desk.notices()[-1] == (f"leftover order {leftover} had filled 1 of 1 MSFT (buy) "
                                       "before it was filled")


def test_a_dry_run_only_says_it_would_cancel_leftovers():
    leftover = cid(DEAD, "MSFT")
    done = prepare(resting((leftover, "MSFT")), dry_run=True)
    assert done.outcome == ()
    assert status_of(done.state, leftover) == "new"
    assert done.desk.scripted.count("cancel_order") == 0
    assert done.desk.notices() == [
        f"1 open order(s) left by an earlier alch run ({DEAD}) would be cancelled first"]


def test_no_open_orders_means_nothing_to_do():
    done = prepare(resting())
    assert done.outcome == () and done.desk.events == []
    assert done.desk.scripted.count("cancel_order") == 0


def test_a_foreign_order_on_a_symbol_to_trade_refuses_the_run_and_changes_nothing():
    leftover = cid(DEAD, "MSFT")
    done = prepare(resting((leftover, "MSFT"), ("manual-1", "AAPL"), ("manual-2", "SPY")),
                   trade=frozenset({"AAPL", "SPY"}))
    assert isinstance(done.outcome, RefusedError)
    assert str(done.outcome) == (
        "open orders not placed by alch on AAPL, SPY: cancel them first (they would be "
        "rejected as wash trades or double the trade); nothing placed")
    assert status_of(done.state, leftover) == "new"  # refusals come first: nothing cancelled


def test_a_foreign_order_on_another_symbol_is_left_alone():
    done = prepare(resting(("manual-1", "BND")))
    assert done.outcome == () and status_of(done.state, "manual-1") == "new"


@pytest.mark.parametrize("run_id", [ALIVE, ELSEWHERE])
def test_another_live_runs_orders_refuse_the_run_and_are_left_alone(run_id):
    theirs = cid(run_id, "MSFT")
    done = prepare(resting((theirs, "MSFT")), live=frozenset({ALIVE}))
    assert isinstance(done.outcome, OtherRunError)
    assert str(done.outcome) == (
        f"1 open order(s) of another alch run ({run_id}: another machine, data directory or a "
        "run still in progress) on MSFT; nothing placed (if that run is dead, rerun with "
        "--cancel-orphans to cancel alch orders older than 900s)")
    assert status_of(done.state, theirs) == "new"


def test_cancel_orphans_clears_only_orders_older_than_the_threshold():
    theirs = cid(ELSEWHERE, "MSFT")
    young = prepare(resting((theirs, "MSFT")), cancel_orphans=True, age=898)  # 899 s old
    assert isinstance(young.outcome, OtherRunError)
    assert "(only orders older than 900s are cancelled by --cancel-orphans)" in str(young.outcome)
    assert status_of(young.state, theirs) == "new"
    old = prepare(resting((theirs, "MSFT")), cancel_orphans=True, age=899)  # 900 s old
    assert isinstance(old.outcome, tuple)
    assert [o.client_order_id for o in old.outcome] == [theirs]
    assert status_of(old.state, theirs) == "canceled"


def test_orphans_are_not_cleared_without_being_asked():
    theirs = cid(ELSEWHERE, "MSFT")
    done = prepare(resting((theirs, "MSFT")), age=5000)
    assert isinstance(done.outcome, OtherRunError)
    assert status_of(done.state, theirs) == "new"


def test_open_orders_that_cannot_be_read_stop_the_run_before_anything_is_placed():
    async def setup(desk: Desk) -> None:
        desk.scripted.fail("list_open_orders", BrokerError("HTTP 400: nope"))
    done = prepare(setup)
    assert isinstance(done.outcome, BrokerUnavailableError)
    assert str(done.outcome) == "could not read open orders: HTTP 400: nope; nothing placed"


def test_a_leftover_whose_cancel_cannot_be_confirmed_stops_the_run():
    leftover = cid(DEAD, "MSFT")

    async def setup(desk: Desk) -> None:
        await desk.rest(leftover, "MSFT")
        desk.scripted.sim.state.faults.stuck_cancel = 1
    done = prepare(setup)
    assert isinstance(done.outcome, BrokerUnavailableError)
    assert str(done.outcome).startswith(f"could not cancel leftover order {leftover}: cancel of ")
    assert str(done.outcome).endswith("; nothing placed")


def test_a_leftover_already_gone_from_the_broker_is_settled_as_it_was():
    leftover = cid(DEAD, "MSFT")

    async def setup(desk: Desk) -> None:
        await desk.rest(leftover, "MSFT")
        desk.scripted.fail("cancel_order", NotFoundError("order not found", status=404))
    done = prepare(setup)
    assert isinstance(done.outcome, tuple)
    assert [(o.client_order_id, o.status) for o in done.outcome] == [(leftover, OrderStatus.NEW)]


# -- orders of dead runs that ended while nobody watched ---------------------------------------
def _unsettled(client_order_id: str, symbol: str = "MSFT", qty: str = "1") -> UnsettledOrder:
    tag = client_order_id.split("-")[1]
    return UnsettledOrder(client_order_id, tag, symbol, "buy", qty, "submitted")


def settle_unseen(setup: Callable[[Desk], Awaitable[None]], unsettled: list[UnsettledOrder], *,
                  dry_run: bool = False) -> Prepared:
    """The open-order check with the journal's ``unsettled`` orders of dead runs."""
    async def body(desk: Desk) -> tuple[Order, ...] | Exception:
        await setup(desk)
        await desk.clock.sleep(1)
        reconciler = Reconciler(desk.broker, desk.clock, desk.events.append,
                                desk.walker.cancel_and_confirm)
        return await reconciler.prepare(
            run_id=RUN, live_runs=(), trade_symbols={"AAPL"}, dry_run=dry_run,
            cancel_orphans=False, orphan_min_age_seconds=900, unsettled=unsettled)

    outcome, state, desk = on_sim(body)
    return Prepared(outcome, state, desk)


def _ended(*fills: tuple[str, str]) -> Callable[[Desk], Awaitable[None]]:
    """Orders of the dead run that ended: (client_order_id, "filled" | "canceled")."""
    async def setup(desk: Desk) -> None:
        for client_order_id, end in fills:
            desk.scripted.sim.state.faults.limit_fills = end == "filled"
            await desk.scripted.sim.submit_order(OrderRequest(
                client_order_id, "MSFT", Side.BUY, D(1),
                OrderType.MARKET if end == "filled" else OrderType.LIMIT,
                None if end == "filled" else D("20.00")))
            await desk.clock.sleep(1)
            if end == "canceled":
                order = await desk.scripted.sim.get_order_by_client_id(client_order_id)
                assert order is not None
                await desk.scripted.sim.cancel_order(order.id)
                await desk.clock.sleep(1)
    return setup


def test_dead_runs_orders_that_ended_unseen_are_reported_as_they_ended():
    filled, canceled, gone = cid(DEAD, "MSFT", "1"), cid(DEAD, "MSFT", "2"), cid(DEAD, "MSFT", "3")
    done = settle_unseen(_ended((filled, "filled"), (canceled, "canceled")),
                         [_unsettled(filled), _unsettled(canceled), _unsettled(gone, qty="7")])
    assert done.outcome == ()
    reported = [(e.client_order_id, e.run_id, e.status, e.qty, e.filled_qty)
                for e in done.desk.events if isinstance(e, LeftoverCancelled)]
    assert reported == [(filled, DEAD, "filled", D(1), D(1)),
                        (canceled, DEAD, "canceled", D(1), D(0)),
                        (gone, DEAD, "not_found", D(7), D(0))]  # as the journal knew it
    # only what filled is worth a warning
    assert done.desk.notices() == [
        f"order {filled} of interrupted run {DEAD} filled 1 of 1 MSFT (buy) after its run "
        "stopped (now filled)"]


def test_an_unseen_order_still_open_is_left_to_the_leftover_cancel_not_reported():
    # the open-orders list lagged: the lookup finds it working, so it is not reported as ended
    open_one = cid(DEAD, "MSFT")

    async def setup(desk: Desk) -> None:
        await desk.rest(open_one, "MSFT")
        real = desk.scripted.sim.list_open_orders

        async def lagging() -> list[Order]:
            return [o for o in await real() if o.client_order_id != open_one]
        desk.scripted.sim.list_open_orders = lagging  # type: ignore[method-assign]
    filled = cid(DEAD, "MSFT", "2")
    both = _ended((filled, "filled"))

    async def setup_both(desk: Desk) -> None:
        await both(desk)
        await setup(desk)
    done = settle_unseen(setup_both, [_unsettled(open_one), _unsettled(filled)])
    assert done.outcome == ()
    reported = [e.client_order_id for e in done.desk.events if isinstance(e, LeftoverCancelled)]
    assert reported == [filled]  # the next one is still looked up
    assert status_of(done.state, open_one) == "new"


def test_an_unseen_order_that_cannot_be_looked_up_is_left_for_the_next_run():
    lost, filled = cid(DEAD, "MSFT", "1"), cid(DEAD, "MSFT", "2")

    async def setup(desk: Desk) -> None:
        await _ended((filled, "filled"))(desk)
        desk.scripted.fail("get_order_by_client_id", BrokerError("HTTP 400: lookup broken"))
    done = settle_unseen(setup, [_unsettled(lost), _unsettled(filled)])
    assert done.outcome == ()
    reported = [e.client_order_id for e in done.desk.events if isinstance(e, LeftoverCancelled)]
    assert reported == [filled]  # `lost` is not reported (a later run looks it up again)


def test_a_dry_run_says_a_foreign_order_would_refuse_and_changes_nothing():
    done = prepare(resting(("manual-1", "AAPL")), dry_run=True)
    assert done.outcome == ()
    assert done.desk.notices() == [
        "a rebalance now would refuse: open orders not placed by alch on AAPL: cancel them "
        "first (they would be rejected as wash trades or double the trade)"]
    assert status_of(done.state, "manual-1") == "new"


def test_a_dry_run_looks_nothing_up_for_orders_that_ended_unseen():
    filled = cid(DEAD, "MSFT")
    done = settle_unseen(_ended((filled, "filled")), [_unsettled(filled)], dry_run=True)
    assert done.outcome == () and done.desk.events == []
    assert done.desk.scripted.count("get_order_by_client_id") == 0


def test_a_dry_run_says_another_runs_orders_would_refuse_and_changes_nothing():
    theirs = cid(ELSEWHERE, "MSFT")
    done = prepare(resting((theirs, "MSFT")), dry_run=True)
    assert done.outcome == ()
    assert done.desk.notices() == [
        f"a rebalance now would refuse: 1 open order(s) of another alch run ({ELSEWHERE}: "
        "another machine, data directory or a run still in progress) on MSFT"]
    assert status_of(done.state, theirs) == "new"


def test_the_sweep_looks_up_every_missed_order_even_after_one_that_is_gone():
    # the list cannot be read; the first order looked up is unknown to the broker, the
    # second is still working: it is cancelled all the same
    gone, working = cid(RUN, "AAPL", "1"), cid(RUN, "AAPL", "2")

    async def body(desk: Desk) -> SweepResult:
        await desk.rest(working)
        await desk.clock.sleep(1)
        desk.scripted.fail("list_open_orders", BrokerError("HTTP 400: list broken"))
        return await sweep(desk, {gone, working})

    swept, state, _ = on_sim(body)
    assert status_of(state, working) == "canceled"
    assert [(o.client_order_id, o.status) for o in swept.settled] == [
        (working, OrderStatus.CANCELED)]


def test_the_sweep_reports_how_each_order_it_settled_ended():
    async def body(desk: Desk) -> SweepResult:
        await desk.rest(MINE)
        await desk.clock.sleep(1)
        return await sweep(desk, {MINE})

    _, _, desk = on_sim(body)
    progress = [(e.client_order_id, e.status, e.filled_qty) for e in desk.events
                if isinstance(e, OrderProgress)]
    assert progress == [(MINE, "canceled", D(0))]
