"""The simulator's order lifecycle, as Alpaca runs it (virtual time).

Facts: a submission answers ``accepted`` (alpaca-py's recorded submit response,
tests/trading/trading_client/test_order_routes.py); a cancel's 204 only means the request
was accepted and the order can fill while ``pending_cancel`` (alpaca-docs orders.md
"Order Lifecycle"); PATCH gives a new order that ``replaces`` the old one, which becomes
``replaced`` with ``replaced_by`` (spec patchOrderByOrderId; Alpaca-API#111); a replace
whose old order filled first is rejected (spec patchOrderByOrderId: "If the existing open
order is filled before the replacing (new) order reaches the execution venue, the replacing
(new) order is rejected").
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alchemiser_cli.brokers.port import NotCancelableError, OrderRejectedError
from alchemiser_cli.brokers.sim.calendar import next_open_close, ny_timestamp, trading_days
from alchemiser_cli.brokers.sim.emulator.quota import RequestQuota
from alchemiser_cli.brokers.sim.faults import apply_fault
from alchemiser_cli.brokers.sim.order_checks import OrderSpec
from alchemiser_cli.brokers.sim.state import SimFaults
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import OrderRequest, OrderStatus, OrderType
from tests.conftest import run_sim

D = Decimal


def resting(cid: str, price: str = "100.00", qty: str = "1", side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(cid, "AAPL", side, D(qty), OrderType.LIMIT, D(price))


def test_a_submission_is_accepted_then_routed():
    async def body(h):
        h.sim.state.faults.limit_fills = False
        order = await h.sim.submit_order(resting("c1"))
        before = (await h.sim.get_order(order.id)).status
        await h.clock.sleep(1)
        update = await h.sim.wait_order_update(order.id, 1)
        return order.status, before, update, await h.sim.get_order(order.id)

    status, before, update, after = run_sim(body)
    assert status is OrderStatus.ACCEPTED and before is OrderStatus.ACCEPTED
    assert update is not None and update.event == "new" and after.status is OrderStatus.NEW


def test_no_fill_before_the_order_is_routed_and_none_while_the_market_is_closed():
    async def body(h):
        h.sim.state.faults.market_closed = True
        order = await h.sim.submit_order(resting("c1", price="300.00"))  # marketable
        await h.clock.sleep(5)
        return await h.sim.get_order(order.id)

    order = run_sim(body)
    assert order.status is OrderStatus.ACCEPTED and order.filled_qty == 0


def test_a_cancel_is_pending_then_canceled_and_a_second_one_is_refused():
    async def body(h):
        h.sim.state.faults.limit_fills = False
        order = await h.sim.submit_order(resting("c1"))
        await h.clock.sleep(1)
        await h.sim.cancel_order(order.id)
        pending = (await h.sim.get_order(order.id)).status
        with pytest.raises(NotCancelableError, match="pending_cancel"):
            await h.sim.cancel_order(order.id)
        await h.clock.sleep(1)
        return pending, await h.sim.get_order(order.id)

    pending, final = run_sim(body)
    assert pending is OrderStatus.PENDING_CANCEL and final.status is OrderStatus.CANCELED


def test_a_pending_cancel_order_can_still_fill():
    async def body(h):
        h.sim.state.faults.cancel_latency = 30
        order = await h.sim.submit_order(resting("c1", price="300.00"))
        await h.sim.cancel_order(order.id)  # before it is even routed
        await h.clock.sleep(2)
        return await h.sim.get_order(order.id)

    order = run_sim(body)
    assert order.status is OrderStatus.FILLED and order.filled_qty == 1


def test_a_replace_goes_through_pending_replace():
    async def body(h):
        h.sim.state.faults.limit_fills = False
        old = await h.sim.submit_order(resting("c1", qty="2"))
        await h.clock.sleep(1)
        new = await h.sim.replace_order(old.id, None, D("101.00"), None)
        pending = h.sim.state.orders[old.id].status
        await h.clock.sleep(1)
        return pending, h.sim.state.orders[old.id], h.sim.state.orders[new.id]

    pending, old, new = run_sim(body)
    assert pending == "pending_replace"
    assert old.status == "replaced" and old.replaced_by == new.id and new.replaces == old.id
    assert new.status == "new" and new.limit_price == "101.00" and new.client_order_id


def test_a_replace_whose_order_filled_first_is_rejected():
    async def body(h):
        old = await h.sim.submit_order(resting("c1", price="100.00"))
        await h.clock.sleep(1)
        h.sim.state.faults.accept_latency = 5
        new = await h.sim.replace_order(old.id, None, D("300.00"), None)
        h.sim._fill(h.sim.state.orders[old.id], D(1), D("100.00"))  # fills while pending
        await h.clock.sleep(6)
        return h.sim.state.orders[old.id], h.sim.state.orders[new.id]

    old, new = run_sim(body)
    assert old.status == "filled" and new.status == "rejected"


def test_replace_refusals():
    async def body(h):
        h.sim.state.faults.limit_fills = False
        h.sim.state.faults.accept_latency = 5
        waiting = await h.sim.submit_order(resting("c1"))
        with pytest.raises(OrderRejectedError, match="isn't sent to exchange yet"):
            await h.sim.replace_order(waiting.id, None, D("99.00"), None)
        h.sim.state.faults.accept_latency = 0
        await h.clock.sleep(1)
        with pytest.raises(OrderRejectedError, match="order parameters are not changed"):
            await h.sim.replace_order(waiting.id, None, D("100.00"), None)
        frac = await h.sim.submit_order(resting("c2", qty="1.5", price="99.00"))
        await h.clock.sleep(1)
        with pytest.raises(OrderRejectedError, match="fractional"):
            await h.sim.replace_order(frac.id, None, D("98.00"), None)

    run_sim(body)


def test_ioc_orders_that_do_not_fill_are_canceled():
    async def body(h):
        h.sim.state.faults.limit_fills = False
        order = await h.sim.submit(OrderSpec("XLE", Side.BUY, OrderType.LIMIT, D(1),
                                             limit_price=D("50.00"), time_in_force="ioc"))
        await h.clock.sleep(3)
        return await h.sim.get_order(order.id)

    assert run_sim(body).status is OrderStatus.CANCELED


def test_notional_orders_and_day_only_fractions():
    async def body(h):
        order = await h.sim.submit(OrderSpec("AAPL", Side.BUY, OrderType.MARKET, None,
                                             notional=D("500")))
        with pytest.raises(OrderRejectedError, match="must be DAY orders"):
            await h.sim.submit(OrderSpec("AAPL", Side.BUY, OrderType.MARKET, None,
                                         notional=D("500"), time_in_force="gtc"))
        with pytest.raises(OrderRejectedError, match="not fractionable"):
            await h.sim.submit(OrderSpec("XLE", Side.BUY, OrderType.MARKET, None,
                                         notional=D("500")))
        gtc = await h.sim.submit(OrderSpec("XLE", Side.BUY, OrderType.MARKET, D(2),
                                           time_in_force="gtc"))
        return h.sim.state.orders[order.id], gtc

    notional, gtc = run_sim(body)
    assert notional.notional == "500" and D(0) < D(notional.qty) < D(3)
    assert gtc.status is OrderStatus.ACCEPTED


def test_fill_events_carry_the_execution_and_positions_can_lag():
    async def body(h):
        h.sim.state.faults.position_lag_seconds = 3
        h.sim.state.faults.partial_probability = 1.0
        order = await h.sim.submit_order(resting("c1", qty="10", price="300.00"))
        fills = []
        while not fills or fills[-1].event != "fill":
            update = await h.sim.wait_order_update(order.id, 5)
            assert update is not None
            if update.qty is not None:
                fills.append(update)
        early = await h.sim.get_position("AAPL")
        await h.clock.sleep(4)
        return fills, early, await h.sim.get_position("AAPL")

    fills, early, late = run_sim(body)
    assert sum(f.qty for f in fills) == 10 and len({f.execution_id for f in fills}) == len(fills)
    assert fills[-1].position_qty == 70 and fills[-1].order.filled_qty == 10
    assert early is not None and early.qty < 70  # the position read lags the fills
    assert late is not None and late.qty == 70


def test_dropped_and_delayed_trade_updates():
    async def body(h):
        apply_fault(h.sim.state.faults, "drop_event=new")
        h.sim.state.faults.limit_fills = False
        order = await h.sim.submit_order(resting("c1"))
        dropped = await h.sim.wait_order_update(order.id, 2)
        h.sim.state.faults.delay_events = 3
        await h.sim.cancel_order(order.id)
        soon = await h.sim.wait_order_update(order.id, 1)
        later = await h.sim.wait_order_update(order.id, 5)
        return dropped, soon, later, (await h.sim.get_order(order.id)).status

    dropped, soon, later, status = run_sim(body)
    assert dropped is None and soon is None  # the stream lost "new"; "pending_cancel" is late
    assert later is not None and later.event == "pending_cancel"
    assert status is OrderStatus.CANCELED  # REST knows better than the stream


def test_margin_accounts_have_more_buying_power_than_cash():
    async def body(h):
        cash_only = (await h.sim.get_account()).buying_power
        h.sim.state.faults.margin_multiplier = "2"
        return cash_only, await h.sim.get_account()

    cash_only, margin = run_sim(body)
    assert cash_only == margin.cash == D(25000)
    assert margin.buying_power == margin.equity + margin.cash


def test_get_assets_reads_many_and_leaves_unknown_symbols_out():
    async def body(h):
        return await h.broker.get_assets(["AAPL", "XLE", "NOPE", "DELIST"])

    assets = run_sim(body)
    assert set(assets) == {"AAPL", "XLE", "DELIST"}
    assert not assets["XLE"].fractionable and not assets["DELIST"].tradable


def test_fault_parsing_of_the_new_switches():
    faults = SimFaults()
    for item in ("submit_status=pending_new", "cancel_latency=0", "margin_multiplier=2",
                 "drop_event=fill:2", "delay_events=1.5", "wash_trade_422"):
        apply_fault(faults, item)
    assert (faults.submit_status, faults.cancel_latency, faults.margin_multiplier) == (
        "pending_new", 0.0, "2")
    assert faults.drop_event == {"fill": 2} and faults.delay_events == 1.5 and faults.wash_trade_422
    for bad in ("submit_status=done", "margin_multiplier=9", "cancel_latency=-1", "drop_event="):
        with pytest.raises(ValueError, match=r"bad value|drop_event needs"):
            apply_fault(faults, bad)


def test_the_calendar_knows_sessions_holidays_and_alpacas_clock_format():
    friday_evening = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # after the 13:00 early close
    next_open, next_close = next_open_close(friday_evening)
    assert ny_timestamp(next_open) == "2026-11-30T09:30:00-05:00"
    assert ny_timestamp(next_close) == "2026-11-30T16:00:00-05:00"
    during = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York
    assert [ny_timestamp(t) for t in next_open_close(during)] == [
        "2026-11-25T09:30:00-05:00", "2026-11-24T16:00:00-05:00"]
    assert ny_timestamp(datetime(2022, 5, 16, 20, 32, 24, 143735, tzinfo=UTC)) == \
        "2022-05-16T16:32:24.143735-04:00"
    days = trading_days(datetime(2026, 7, 1).date(), datetime(2026, 7, 7).date())
    assert [d.day.isoformat() for d in days] == ["2026-07-01", "2026-07-02", "2026-07-06",
                                                 "2026-07-07"]


def test_the_request_quota_is_a_sliding_window_per_account_and_api():
    now = [1000.0]
    quota = RequestQuota(3, clock=lambda: now[0])
    answers = [quota.take("k", "trading") for _ in range(4)]
    assert [a.allowed for a in answers] == [True, True, True, False]
    assert [a.remaining for a in answers] == [2, 1, 0, 0] and answers[-1].reset == 1060
    assert quota.take("k", "data").allowed and quota.take("other", "trading").allowed
    now[0] = 1060.5
    assert quota.take("k", "trading").allowed


def test_guarded_get_assets_is_a_retried_read():
    async def body(h):
        h.sim.state.faults.transient_reads = 2
        return await h.broker.get_assets(["AAPL"]), h.broker.requests["assets"]

    assets, attempts = run_sim(body)
    assert set(assets) == {"AAPL"} and attempts == 3


@pytest.mark.parametrize("latency", [0.0, 0.3])
def test_synchronous_cancels_remain_selectable(latency):
    async def body(h):
        h.sim.state.faults.limit_fills = False
        h.sim.state.faults.cancel_latency = latency
        order = await h.sim.submit_order(resting("c1"))
        await h.sim.cancel_order(order.id)
        return (await h.sim.get_order(order.id)).status

    expected = OrderStatus.CANCELED if latency == 0 else OrderStatus.PENDING_CANCEL
    assert run_sim(body) is expected


def test_events_keep_order_under_concurrency():
    async def body(h):
        h.sim.state.faults.limit_fills = False
        orders = await asyncio.gather(*(h.sim.submit_order(resting(f"c{i}", price=f"{90 + i}.00"))
                                        for i in range(3)))
        await h.clock.sleep(1)
        return [(await h.sim.wait_order_update(o.id, 1)) for o in orders]

    assert [u.event for u in run_sim(body) if u is not None] == ["new"] * 3
