"""Market data REST and both WebSockets through alpaca-py (its models parse every message).

Sources: alpaca-py 0.44 data/historical/stock.py, data/mappings.py, data/live/websocket.py,
trading/stream.py; the protocols in alpacahq/alpaca-docs
content/api-references/market-data-api/stock-pricing-data/realtime.md (market data) and
content/api-references/trading-api/streaming.md (trade_updates); Alpaca's market-data FAQ
(docs.alpaca.markets/docs/market-data-faq) for the SIP refusal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.live.stock import StockDataStream
from alpaca.data.models import Bar, Quote, Snapshot, Trade
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import LimitOrderRequest
from alpaca.trading.stream import TradingStream

from alchemiser_cli.brokers.sim.emulator import EmulatorThread
from tests.conformance.conftest import KEY, SECRET, http, set_faults


def test_latest_quote_trade_and_bar(data):
    # GET /v2/stocks/quotes/latest?symbols=A,B -> {"quotes": {SYM: {...}}}, an unknown symbol
    # simply absent (alpaca-py data/historical/stock.py get_stock_latest_quote)
    quotes = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "MSFT"]))
    assert set(quotes) == {"AAPL", "MSFT"} and isinstance(quotes["AAPL"], Quote)
    assert 0 < quotes["AAPL"].bid_price < quotes["AAPL"].ask_price
    trades = data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="SPY"))
    assert isinstance(trades["SPY"], Trade) and trades["SPY"].price > 0
    bars = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="SPY"))
    assert isinstance(bars["SPY"], Bar) and bars["SPY"].low <= bars["SPY"].close <= bars["SPY"].high
    assert data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="NOPE")) == {}


def test_single_symbol_routes(emu):
    # GET /v2/stocks/{symbol}/quotes/latest -> {"symbol", "quote"} (alpaca-trade-api rest.py
    # get_latest_quote reads resp['quote'])
    quote = http(emu, "GET", "/v2/stocks/AAPL/quotes/latest").json()
    assert quote["symbol"] == "AAPL" and set(quote["quote"]) >= {"t", "bp", "bs", "ap", "as"}
    assert "trade" in http(emu, "GET", "/v2/stocks/AAPL/trades/latest").json()
    assert "bar" in http(emu, "GET", "/v2/stocks/AAPL/bars/latest").json()
    # snapshot keys: alpaca-py data/mappings.py SNAPSHOT_MAPPING
    snapshot = http(emu, "GET", "/v2/stocks/AAPL/snapshot").json()
    assert {"latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar"} <= set(snapshot)


def test_bars_and_snapshots(data):
    start = datetime.now(UTC) - timedelta(hours=2)
    bars = data.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL"], timeframe=TimeFrame.Minute,
                                                start=start, limit=30))
    series = bars.data["AAPL"]
    assert 1 <= len(series) <= 30 and all(isinstance(b, Bar) for b in series)
    assert [b.timestamp for b in series] == sorted(b.timestamp for b in series)
    snapshots = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL", "SPY"]))
    assert set(snapshots) == {"AAPL", "SPY"} and isinstance(snapshots["SPY"], Snapshot)


def test_sip_without_a_subscription_is_refused_like_alpaca(data, emu):
    # 403 "subscription does not permit querying recent SIP data" (market-data FAQ)
    set_faults(emu, "sip_refused")
    with pytest.raises(APIError) as refused:
        data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL",
                                                            feed=DataFeed.SIP))
    assert refused.value.status_code == 403
    assert "subscription does not permit querying recent SIP data" in str(refused.value)
    iex = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL",
                                                              feed=DataFeed.IEX))
    assert "AAPL" in iex


def run_stream(stream: Any, done: Callable[[], bool], seconds: float = 8.0) -> None:
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.stop()
    thread.join(8)


def test_data_stream_serves_quotes_trades_and_bars(emu):
    # realtime.md: subscribe to trades, quotes and bars; "T" = t, q, b
    seen: dict[str, list[Any]] = {"q": [], "t": [], "b": []}

    async def on(kind: str, item: Any) -> None:
        seen[kind].append(item)

    stream = StockDataStream(KEY, SECRET, url_override=f"{emu.ws_url}/v2/iex")

    async def quote(q: Any) -> None:
        await on("q", q)

    async def trade(t: Any) -> None:
        await on("t", t)

    async def bar(b: Any) -> None:
        await on("b", b)

    stream.subscribe_quotes(quote, "AAPL")
    stream.subscribe_trades(trade, "AAPL")
    stream.subscribe_bars(bar, "SPY")
    run_stream(stream, lambda: all(seen.values()))
    assert isinstance(seen["q"][0], Quote) and seen["q"][0].symbol == "AAPL"
    assert isinstance(seen["t"][0], Trade) and seen["t"][0].price > 0
    assert isinstance(seen["b"][0], Bar) and seen["b"][0].symbol == "SPY"


def test_sip_stream_refusal_is_409_insufficient_subscription(emu):
    # realtime.md: [{"T":"error","code":409,"msg":"insufficient subscription"}] at auth
    # ("Any attempt to access a data source not available for your subscription")
    import asyncio

    import msgpack
    import websockets

    set_faults(emu, "sip_refused")

    async def talk() -> list[Any]:
        async with websockets.connect(f"{emu.ws_url}/v2/sip") as ws:
            await ws.recv()
            await ws.send(msgpack.packb({"action": "auth", "key": KEY, "secret": SECRET}))
            return list(msgpack.unpackb(await ws.recv()))

    assert asyncio.run(talk()) == [{"T": "error", "code": 409, "msg": "insufficient subscription"}]


def move_price(emu: EmulatorThread, symbol: str, dollars: float) -> None:
    """Move the simulated market's price of ``symbol`` (what the next execution meets)."""
    def shift(emulator: Any) -> None:
        sim = emulator.sim
        sim.market.shift(sim.spec(symbol), sim._tick_index(), dollars)

    emu.call(shift)


def test_trade_stream_fill_events_describe_one_execution():
    """Each ``fill``/``partial_fill`` event's ``qty`` and ``price`` are that execution's; the
    order inside it carries the cumulative ``filled_qty`` and ``filled_avg_price``.

    Sources: Alpaca-API#103 (Alpaca, 2020-02-13: "the (partial) fill trade update message now
    includes a `qty` field which equals to the quantity of shares filled in that update
    along with `price` which equals to the price it was filled at"); the trade_updates
    events of docs.alpaca.markets/docs/websocket-streaming (``position_qty``: the position
    after this fill); alpaca-py 0.44 trading/models.py ``TradeUpdate`` (``execution_id``,
    ``price``, ``qty``, ``position_qty`` optional floats beside ``order``).
    """
    updates: list[TradeUpdate] = []

    async def on_update(update: TradeUpdate) -> None:
        updates.append(update)

    # one execution per market tick, half a second apart: time to move the price between
    # the first execution and the next, so that their prices differ
    with EmulatorThread(key=KEY, secret=SECRET, tick_seconds=0.5) as emu:
        trading = TradingClient(KEY, SECRET, paper=True, url_override=emu.base_url)
        trading._retry = 0
        stream = TradingStream(KEY, SECRET, url_override=f"{emu.ws_url}/stream")
        stream.subscribe_trade_updates(on_update)
        # every execution fills only 10-90% of what is left (whole shares): an order of 10
        # shares fills in at least two executions, the last one a `fill`
        set_faults(emu, "partial_probability=1")
        before = emu.state.position_qty("AAPL")
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        time.sleep(0.5)
        # a taker's first execution is priced by the quote it arrived at; the rest by the
        # quotes they meet later, a dollar higher
        trading.submit_order(LimitOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY,
                                               time_in_force=TimeInForce.DAY, limit_price=300))
        move_price(emu, "AAPL", 1.0)
        deadline = time.monotonic() + 15
        while not any(u.event == "fill" for u in updates) and time.monotonic() < deadline:
            time.sleep(0.05)
        stream.stop()
        thread.join(8)
    fills = [u for u in updates if u.event in ("fill", "partial_fill")]
    # qty/price of each event are that execution's ("qty ... equals to the quantity of shares
    # filled in that update", Alpaca-API#103); the order carries the cumulative totals;
    # execution_id and position_qty as in streaming.md's fill example
    assert len(fills) >= 2, [u.event for u in updates]
    assert len({f.price for f in fills}) >= 2, [f.price for f in fills]  # else indistinct
    assert [f.event for f in fills] == ["partial_fill"] * (len(fills) - 1) + ["fill"]
    assert len({f.execution_id for f in fills}) == len(fills)  # one id per execution
    filled = Decimal(0)
    notional = Decimal(0)
    for f in fills:
        qty, price = Decimal(str(f.qty)), Decimal(str(f.price))
        filled += qty
        notional += qty * price
        # qty is this execution's, the order's filled_qty is the running total...
        assert Decimal(str(f.order.filled_qty)) == filled
        # ...and so is the price: the order's average is the running average of the prices
        average = notional / filled
        assert abs(Decimal(str(f.order.filled_avg_price)) - average) <= Decimal("0.0001")
        assert Decimal(str(f.position_qty)) == before + filled  # the position after it
    assert Decimal(str(fills[0].qty)) < Decimal(str(fills[-1].order.filled_qty))
    assert filled == Decimal(10) and before + filled == Decimal(70)
    assert updates[0].event == "new"  # streaming.md: "new: Sent when an order has been routed"
