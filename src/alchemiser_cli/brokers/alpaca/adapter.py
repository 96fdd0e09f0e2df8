"""The Broker port on alpaca-py: TradingClient, StockHistoricalDataClient, and both streams.

Choices that differ from alpaca-py's defaults, and why:
- ``raw_data=True`` everywhere: we parse JSON into Decimal ourselves (``parse``).
- alpaca-py retries 429/504 on every method, order POSTs included; that is switched
  off (``_retry = 0``). Reads are retried by :class:`GuardedBroker`; a submission
  whose outcome is unknown is resolved by client_order_id, never resent blind.
- alpaca-py sets no HTTP timeout; we set one, so a hung call becomes a transient error.
- Refused credentials (401/403 in every form Alpaca uses) raise :class:`BrokerAuthError`
  on every call, never an order rejection.
- Each stream runs ``run()`` in its own thread with its own loop. That avoids the
  deadlock of subscribing from the stream's own loop and the busy-spin before the
  first subscription; events cross into our loop with ``call_soon_threadsafe``. Their
  health is tracked (``streams``), so a stream that cannot connect is reported at once
  instead of every quote waiting out the stream timeout; their log records go through
  one handler of ours (``stream_logs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.stock import StockDataStream
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetAssetsRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
)
from alpaca.trading.stream import TradingStream
from requests import RequestException, Response

from alchemiser_cli.brokers.alpaca import feeds, parse, stream_logs
from alchemiser_cli.brokers.alpaca.errors import map_error, retry_after
from alchemiser_cli.brokers.alpaca.streams import StreamHealth, StreamStatus, instrument
from alchemiser_cli.brokers.port import (
    BrokerAuthError,
    BrokerError,
    NotFoundError,
    TransientBrokerError,
)
from alchemiser_cli.clock import Clock, wait_for
from alchemiser_cli.credentials import credentials_source
from alchemiser_cli.domain.orders import (
    Account,
    Asset,
    MarketClock,
    Order,
    OrderRequest,
    OrderType,
    Position,
    TradeUpdate,
)
from alchemiser_cli.domain.quotes import Quote
from alchemiser_cli.logs import protect_secrets, redact
from alchemiser_cli.settings import Settings

T = TypeVar("T")


def _raw(value: object) -> dict[str, Any]:
    """With raw_data=True alpaca-py returns decoded JSON; anything else is unreadable."""
    if not isinstance(value, dict):
        raise parse.ParseError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _raw_list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise parse.ParseError(f"expected a JSON list, got {type(value).__name__}")
    return value


class AlpacaBroker:
    """Alpaca paper or live account behind the Broker port."""

    name = "alpaca"

    def __init__(self, settings: Settings, *, paper: bool, clock: Clock,
                 http_timeout: float = 10.0) -> None:
        assert settings.api_key_id is not None and settings.api_secret_key is not None
        self._key = settings.api_key_id.get_secret_value()
        self._secret = settings.api_secret_key.get_secret_value()
        protect_secrets([self._key, self._secret])
        self._logs = stream_logs.install()
        self._settings = settings
        #: where the keys come from (an account's variables or file), named when refused
        self._credentials = credentials_source(settings, os.environ)
        self._paper = paper
        self._clock = clock
        self._trading = TradingClient(self._key, self._secret, paper=paper, raw_data=True,
                                      url_override=settings.trading_url)
        self._data = StockHistoricalDataClient(self._key, self._secret, raw_data=True,
                                               url_override=settings.data_url)
        for client in (self._trading, self._data):
            client._retry = 0  # never let alpaca-py resend anything (order POSTs included)
            session = client._session
            session.request = functools.partial(  # type: ignore[method-assign]
                session.request, timeout=http_timeout)
            session.hooks["response"].append(self._on_response)
        #: The market-data feed quotes come from ("iex" or "sip"); None until known.
        self.feed: str | None = settings.feed if settings.feed in feeds.FEEDS else None
        self._feed_lock = asyncio.Lock()
        self._stream_wait = settings.quotes.stream_timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="alpaca-rest")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pause_until = 0.0
        self._quotes: dict[str, Quote] = {}
        self._quote_events: dict[str, asyncio.Event] = {}
        self._updates: dict[str, asyncio.Queue[TradeUpdate]] = {}
        self._data_stream: StockDataStream | None = None
        self._trade_stream: TradingStream | None = None
        self.data_health = StreamHealth("market-data stream")
        self.trade_health = StreamHealth("trade stream")
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        stream = TradingStream(self._key, self._secret, paper=self._paper, raw_data=True,
                               url_override=self._settings.trading_stream_url)  # type: ignore[arg-type]
        instrument(stream, self.trade_health)
        stream.subscribe_trade_updates(self._on_trade_update)
        self._trade_stream = stream
        self._start_thread(stream.run, "alpaca-trade-stream")

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    async def close(self) -> None:
        self._logs.quiet += 1  # the closing handshake is not a problem worth a line
        try:
            for stream in (self._data_stream, self._trade_stream):
                loop = getattr(stream, "_loop", None)
                if stream is None or loop is None or not loop.is_running():
                    continue
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(stream.stop)
                    # stop() only takes effect after the stream's 5 s recv timeout; closing the
                    # socket from its own loop ends the wait now. The coroutine is created in
                    # that loop, so nothing is left un-awaited if the loop has just finished.
                    loop.call_soon_threadsafe(lambda s=stream, lp=loop: lp.create_task(s.close()))
            for thread in self._threads:
                await asyncio.to_thread(thread.join, 6.0)
        finally:
            self._logs.quiet -= 1
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _on_response(self, response: Response, *args: Any, **kwargs: Any) -> None:
        """Honour X-RateLimit-*: when the budget is spent, pause until it resets."""
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.strip() == "0":
            wait = retry_after(response)
            if wait:
                self._pause_until = max(self._pause_until, time.monotonic() + wait)

    def rate_limit_pause(self) -> float | None:
        """Seconds the shared budget should pause, from the last response headers."""
        left = self._pause_until - time.monotonic()
        return left if left > 0 else None

    async def _rest(self, fn: Callable[[], T], *, submitting: bool = False,
                    cancelling: bool = False) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn)
        except APIError as exc:
            raise map_error(exc.status_code, str(exc), exc.response, submitting=submitting,
                            cancelling=cancelling, credentials=self._credentials) from None
        except RequestException as exc:
            raise TransientBrokerError(f"network error: {type(exc).__name__}") from exc
        except parse.ParseError as exc:
            raise BrokerError(f"unreadable broker response: {exc}") from exc

    # -- reads -----------------------------------------------------------------------------
    async def get_account(self) -> Account:
        return await self._rest(lambda: parse.account(_raw(self._trading.get_account())))

    async def get_clock(self) -> MarketClock:
        return await self._rest(lambda: parse.clock(_raw(self._trading.get_clock())))

    async def get_asset(self, symbol: str) -> Asset:
        return await self._rest(lambda: parse.asset(_raw(self._trading.get_asset(symbol))))

    async def get_assets(self, symbols: Sequence[str]) -> dict[str, Asset]:
        """One ``GET /v2/assets?asset_class=us_equity`` (Alpaca's "Get assets" reference,
        docs.alpaca.markets/reference/get-v2-assets: filters ``status``, ``asset_class``,
        ``exchange``, ``attributes``; there is no symbol filter), filtered here. No
        ``status`` filter, so inactive assets are found and reported as not tradable."""
        wanted = set(symbols)
        request = GetAssetsRequest(asset_class=AssetClass.US_EQUITY)

        def call() -> dict[str, Asset]:
            rows = _raw_list(self._trading.get_all_assets(request))
            found = (parse.asset(_raw(r)) for r in rows
                     if isinstance(r, dict) and r.get("symbol") in wanted)
            return {a.symbol: a for a in found}

        return await self._rest(call)

    async def get_positions(self) -> list[Position]:
        return await self._rest(
            lambda: [parse.position(_raw(p)) for p in _raw_list(self._trading.get_all_positions())])

    async def get_position(self, symbol: str) -> Position | None:
        try:
            return await self._rest(
                lambda: parse.position(_raw(self._trading.get_open_position(symbol))))
        except NotFoundError:
            return None

    async def _latest(self, symbol: str, feed: str) -> Quote | None:
        def call() -> Quote | None:
            request = StockLatestQuoteRequest(symbol_or_symbols=[symbol], feed=DataFeed(feed))
            raw: Any = self._data.get_stock_latest_quote(request)
            entry = raw.get(symbol) if isinstance(raw, dict) else None
            return parse.quote(symbol, entry) if entry else None

        return await self._rest(call)

    async def latest_quote(self, symbol: str) -> Quote | None:
        return await self._latest(symbol, await self._resolve_feed(symbol))

    async def _resolve_feed(self, probe: str = "SPY") -> str:
        """The configured feed, or for ``auto``: SIP if the account may use it, else IEX."""
        if self.feed is not None:
            return self.feed
        async with self._feed_lock:
            if self.feed is None:
                access = await self.feed_access("sip", probe)
                self.feed = "sip" if access.usable else "iex"
                if access.refused:
                    stream_logs.warn_once(feeds.IEX_WARNING)
                elif not access.usable:
                    stream_logs.warn_once(f"could not check SIP access ({access.detail}); "
                                          "quotes come from IEX's book only")
        return self.feed

    async def feed_access(self, feed: str, probe: str = "SPY") -> feeds.FeedAccess:
        """Can this account read ``feed``? One latest-quote request says."""
        try:
            await self._latest(probe, feed)
        except BrokerError as exc:
            if feeds.refused_sip(exc.status, str(exc)):
                return feeds.FeedAccess(feed, False, "no subscription for it", refused=True)
            return feeds.FeedAccess(feed, False, f"could not check: {exc}")
        return feeds.FeedAccess(feed, True, "available")

    async def get_order(self, order_id: str) -> Order:
        return await self._rest(lambda: parse.order(_raw(self._trading.get_order_by_id(order_id))))

    async def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        try:
            return await self._rest(
                lambda: parse.order(_raw(self._trading.get_order_by_client_id(client_order_id))))
        except NotFoundError:
            return None

    async def list_open_orders(self) -> list[Order]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        return await self._rest(
            lambda: [parse.order(_raw(o)) for o in _raw_list(self._trading.get_orders(request))])

    # -- writes ----------------------------------------------------------------------------
    async def submit_order(self, request: OrderRequest) -> Order:
        side = OrderSide.BUY if request.side.value == "buy" else OrderSide.SELL
        common: dict[str, Any] = {
            "symbol": request.symbol, "qty": float(request.qty), "side": side,
            "time_in_force": TimeInForce.DAY, "client_order_id": request.client_order_id,
        }
        if request.type is OrderType.LIMIT:
            assert request.limit_price is not None
            alpaca_request: Any = LimitOrderRequest(**common, limit_price=float(request.limit_price))
        else:
            alpaca_request = MarketOrderRequest(**common)
        return await self._rest(
            lambda: parse.order(_raw(self._trading.submit_order(alpaca_request))), submitting=True)

    async def cancel_order(self, order_id: str) -> None:
        await self._rest(lambda: self._trading.cancel_order_by_id(order_id), cancelling=True)

    # -- streams ---------------------------------------------------------------------------
    def _refused(self, health: StreamHealth) -> None:
        if health.status is StreamStatus.AUTH_FAILED:
            raise BrokerAuthError(redact(
                f"the {health.name} refused the credentials ({health.reason}); check "
                f"{self._credentials}"))

    async def subscribe_quotes(self, symbols: Sequence[str]) -> bool:
        """Subscribe, and say honestly whether the stream is connected (False: use REST)."""
        self._refused(self.data_health)
        new = [s for s in symbols if s not in self._quote_events]
        for symbol in new:
            self._quote_events[symbol] = asyncio.Event()
        if new and self._data_stream is None:
            feed = await self._resolve_feed(new[0])
            stream = StockDataStream(
                self._key, self._secret, raw_data=True, feed=DataFeed(feed),
                url_override=feeds.stream_url(self._settings.data_stream_url, feed))
            instrument(stream, self.data_health)
            stream.subscribe_quotes(self._on_quote, *new)  # before run(): no busy-spin
            self._data_stream = stream
            self._start_thread(stream.run, "alpaca-data-stream")
        elif new and self._data_stream is not None:
            # from a worker thread: subscribing from the stream's own loop would deadlock
            await asyncio.to_thread(self._data_stream.subscribe_quotes, self._on_quote, *new)
        status = await self.data_health.settled(self._stream_wait)
        self._refused(self.data_health)
        return status is StreamStatus.UP

    async def stream_quote(self, symbol: str, timeout: float) -> Quote | None:
        event = self._quote_events.get(symbol)
        if event is None or not self.data_health.up:
            return None  # known to be down: REST at once, no wait
        if await wait_for(event.wait(), timeout) is None:
            return None
        event.clear()
        return self._quotes.get(symbol)

    async def trade_stream_ok(self) -> bool:
        if self._trade_stream is None:
            return False
        if not self.trade_health.settled_once:  # the first connection is still being made
            await self.trade_health.settled(self._stream_wait)
        self._refused(self.trade_health)
        return self.trade_health.up

    async def wait_order_update(self, order_id: str, timeout: float) -> TradeUpdate | None:
        queue = self._updates.setdefault(order_id, asyncio.Queue())
        return await wait_for(queue.get(), timeout)

    # handlers run on the streams' own threads: hand everything to our loop
    async def _on_quote(self, msg: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._store_quote, msg)

    def _store_quote(self, msg: dict[str, Any]) -> None:
        symbol = str(msg.get("S", ""))
        try:
            self._quotes[symbol] = parse.quote(symbol, msg)
        except parse.ParseError:
            return
        event = self._quote_events.get(symbol)
        if event is not None:
            event.set()

    async def _on_trade_update(self, msg: dict[str, Any]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._store_update, msg)

    def _store_update(self, msg: dict[str, Any]) -> None:
        try:
            update = parse.trade_update(msg)
        except (parse.ParseError, KeyError, TypeError):
            return
        self._updates.setdefault(update.order.id, asyncio.Queue()).put_nowait(update)
