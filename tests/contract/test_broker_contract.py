"""The same Broker-port behaviour from every adapter."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from alchemiser_cli.brokers.port import (
    Broker,
    DuplicateClientOrderIdError,
    NotCancelableError,
    OrderRejectedError,
)
from alchemiser_cli.brokers.sim.state import SimFaults
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import OrderRequest, OrderStatus, OrderType
from tests.contract.conftest import Contract

D = Decimal


def limit(cid: str, side: Side, qty: str, price: str, symbol: str = "AAPL") -> OrderRequest:
    return OrderRequest(cid, symbol, side, D(qty), OrderType.LIMIT, D(price))


async def until_terminal(broker: Broker, order_id: str, seconds: float = 5.0):
    for _ in range(int(seconds / 0.05)):
        order = await broker.get_order(order_id)
        if order.status.terminal:
            return order
        await asyncio.sleep(0.05)
    return await broker.get_order(order_id)


def test_account_clock_assets_and_positions(contract: Contract):
    async def body(broker: Broker, _: SimFaults):
        return (await broker.get_account(), await broker.get_clock(),
                await broker.get_asset("XLE"), await broker.get_positions(),
                await broker.get_position("GLD"))

    account, clock, asset, positions, missing = contract.run(body)
    assert account.active and account.cash == D(25000)
    assert clock.is_open
    assert asset.symbol == "XLE" and asset.tradable and not asset.fractionable
    assert {p.symbol: p.qty for p in positions} == {
        "AAPL": D(60), "MSFT": D(12), "SPY": D(20), "TSLA": D("8.5"), "BND": D(40)}
    assert missing is None


def test_quotes_rest_and_stream(contract: Contract):
    async def body(broker: Broker, faults: SimFaults):
        rest = await broker.latest_quote("SNDL")
        unknown = await broker.latest_quote("NOPE")
        assert await broker.subscribe_quotes(["AAPL"])
        streamed = await broker.stream_quote("AAPL", 5.0)
        faults.stream_down = True
        await asyncio.sleep(0.3)
        await broker.stream_quote("AAPL", 0.05)  # drain one that may be in flight
        silent = await broker.stream_quote("AAPL", 1.0)
        return rest, unknown, streamed, silent

    rest, unknown, streamed, silent = contract.run(body)
    assert rest is not None and D(0) < rest.bid < rest.ask < D(1)
    assert unknown is None
    assert streamed is not None and streamed.symbol == "AAPL" and streamed.bid < streamed.ask
    assert silent is None


def test_resting_order_lists_and_cancels_once(contract: Contract):
    async def body(broker: Broker, faults: SimFaults):
        faults.limit_fills = False
        order = await broker.submit_order(limit("c-rest", Side.BUY, "1", "100.00"))
        listed = [o.client_order_id for o in await broker.list_open_orders()]
        await broker.cancel_order(order.id)
        final = await until_terminal(broker, order.id)
        with pytest.raises(NotCancelableError):
            await broker.cancel_order(order.id)
        return order, listed, final

    order, listed, final = contract.run(body)
    assert order.status in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW)
    assert order.limit_price == D("100.00") and order.qty == D(1)
    assert listed == ["c-rest"]
    assert final.status is OrderStatus.CANCELED and final.filled_qty == 0


def test_marketable_order_fills_and_is_reported_on_the_stream(contract: Contract):
    async def body(broker: Broker, _: SimFaults):
        order = await broker.submit_order(limit("c-fill", Side.BUY, "2.5", "300.00"))
        events = []
        for _ in range(5):
            update = await broker.wait_order_update(order.id, 5.0)
            if update is None:
                break
            events.append(update.event)
            if update.order.status.terminal:
                break
        final = await broker.get_order(order.id)
        found = await broker.get_order_by_client_id("c-fill")
        missing = await broker.get_order_by_client_id("c-nope")
        position = await broker.get_position("AAPL")
        return events, final, found, missing, position

    events, final, found, missing, position = contract.run(body)
    assert events[-1] == "fill"
    assert final.status is OrderStatus.FILLED and final.filled_qty == D("2.5")
    assert final.filled_avg_price is not None and final.filled_avg_price < D(300)
    assert found is not None and found.id == final.id
    assert missing is None
    assert position is not None and position.qty == D("62.5")


@pytest.mark.parametrize(("request_", "error", "message"), [
    (limit("c-sub", Side.BUY, "1", "228.001"), OrderRejectedError, "sub-penny"),
    (limit("c-short", Side.SELL, "61", "200.00"), OrderRejectedError, "insufficient qty"),
    (limit("c-bp", Side.BUY, "1000", "228.00"), OrderRejectedError, "insufficient buying power"),
    (limit("c-frac", Side.BUY, "1.5", "80.00", symbol="XLE"), OrderRejectedError,
     "not fractionable"),
])
def test_refused_submissions(contract: Contract, request_, error, message):
    async def body(broker: Broker, _: SimFaults):
        with pytest.raises(error, match=message):
            await broker.submit_order(request_)
        return await broker.list_open_orders()

    assert contract.run(body) == []


def test_duplicate_client_order_id_and_wash_trade(contract: Contract):
    async def body(broker: Broker, faults: SimFaults):
        faults.limit_fills = False
        await broker.submit_order(limit("c-dup", Side.BUY, "1", "100.00"))
        with pytest.raises(DuplicateClientOrderIdError):
            await broker.submit_order(limit("c-dup", Side.BUY, "1", "100.00"))
        with pytest.raises(OrderRejectedError, match="wash trade"):
            await broker.submit_order(limit("c-wash", Side.SELL, "1", "400.00"))
        return [o.client_order_id for o in await broker.list_open_orders()]

    assert contract.run(body) == ["c-dup"]


def test_several_assets_in_one_read(contract: Contract):
    async def body(broker: Broker, _: SimFaults):
        return await broker.get_assets(["AAPL", "XLE", "NOPE"])

    assets = contract.run(body)
    assert set(assets) == {"AAPL", "XLE"}  # unknown symbols are simply absent
    assert assets["AAPL"].fractionable and not assets["XLE"].fractionable


def test_fill_events_describe_each_execution(contract: Contract):
    # trade_updates: qty/price of a fill are that execution's (alpacahq/Alpaca-API#103);
    # the order has the totals (alpaca-docs content/api-references/trading-api/streaming.md)
    async def body(broker: Broker, faults: SimFaults):
        faults.partial_probability = 1.0
        order = await broker.submit_order(limit("c-exec", Side.BUY, "4", "300.00"))
        fills = []
        for _ in range(20):
            update = await broker.wait_order_update(order.id, 5.0)
            if update is None:
                break
            if update.event in ("fill", "partial_fill"):
                fills.append(update)
            if update.event == "fill":
                break
        return fills

    fills = contract.run(body)
    assert fills and fills[-1].event == "fill"
    assert sum(f.qty for f in fills) == D(4)
    assert all(f.price is not None and f.price < D(300) and f.execution_id for f in fills)
    assert fills[-1].position_qty == D(64) and fills[-1].order.filled_qty == D(4)


def test_an_order_can_fill_while_its_cancel_is_pending(contract: Contract):
    # a cancel's 204 only means the request was accepted (alpaca-docs orders.md lifecycle)
    async def body(broker: Broker, faults: SimFaults):
        faults.cancel_latency = 30.0
        order = await broker.submit_order(limit("c-race", Side.BUY, "1", "300.00"))
        await broker.cancel_order(order.id)
        return await until_terminal(broker, order.id)

    final = contract.run(body)
    assert final.status is OrderStatus.FILLED and final.filled_qty == D(1)
