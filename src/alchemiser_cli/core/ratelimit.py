"""One request budget shared by every REST call of a process.

A sliding window: no 60-second window ever holds more than the per-minute limit.
A 429 pauses the whole budget for the time the broker asked for.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from alchemiser_cli.brokers.port import (
    Broker,
    NotFoundError,
    RateLimitedError,
    TransientBrokerError,
)
from alchemiser_cli.clock import MIN_WAIT, Clock
from alchemiser_cli.domain.orders import (
    Account,
    Asset,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    TradeUpdate,
)
from alchemiser_cli.domain.quotes import Quote

T = TypeVar("T")


class RateLimiter:
    """At most ``per_minute`` requests in any trailing 60 seconds (a sliding window).

    Exact for Alpaca's per-account limit: bursts up to the limit are allowed, and the
    sustained rate is the limit itself. ``pause`` (after a 429 or an exhausted
    ``X-RateLimit-Remaining``) holds every caller until the broker's reset time.
    """

    WINDOW = 60.0

    def __init__(self, clock: Clock, per_minute: int) -> None:
        self._clock = clock
        self.capacity = per_minute
        self.rate = per_minute / self.WINDOW
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                if now < self._paused_until:
                    await self._clock.sleep(max(self._paused_until - now, MIN_WAIT))
                    continue
                while self._sent and self._sent[0] <= now - self.WINDOW:
                    self._sent.popleft()
                if len(self._sent) < self.capacity:
                    self._sent.append(now)
                    return
                await self._clock.sleep(max(self._sent[0] + self.WINDOW - now, MIN_WAIT))

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)


class GuardedBroker:
    """Wraps any Broker: every REST call takes a token; reads are retried, writes never blind.

    Reads (and cancels, which are idempotent) are retried on transient errors with
    backoff, honouring Retry-After on 429. Submissions are never retried here: the
    placement core resolves an unknown outcome by looking up the client_order_id.
    """

    def __init__(self, inner: Broker, limiter: RateLimiter, clock: Clock, *, attempts: int = 4,
                 backoff_seconds: float = 0.5) -> None:
        self.inner = inner
        self.name = inner.name
        self._limiter = limiter
        self._clock = clock
        self._attempts = attempts
        self._backoff = backoff_seconds
        self.requests: dict[str, int] = {}

    @property
    def feed(self) -> str | None:
        """The market-data feed the broker's quotes come from (None: not a feed broker)."""
        value = getattr(self.inner, "feed", None)
        return value if isinstance(value, str) else None

    async def _call(self, kind: str, fn: Callable[[], Awaitable[T]], *, retry: bool) -> T:
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire()
            self.requests[kind] = self.requests.get(kind, 0) + 1
            try:
                result = await fn()
                hint = getattr(self.inner, "rate_limit_pause", None)
                pause = hint() if callable(hint) else None
                if pause:  # the broker's X-RateLimit-* headers say the budget is spent
                    self._limiter.pause(float(pause))
                return result
            except RateLimitedError as exc:
                self._limiter.pause(exc.retry_after or self._backoff * 2**attempt)
                if not retry or attempt >= self._attempts:
                    raise
            except TransientBrokerError:
                if not retry or attempt >= self._attempts:
                    raise
                await self._clock.sleep(self._backoff * 2 ** (attempt - 1))

    async def get_account(self) -> Account:
        return await self._call("account", self.inner.get_account, retry=True)

    async def get_clock(self) -> MarketClock:
        return await self._call("clock", self.inner.get_clock, retry=True)

    async def get_asset(self, symbol: str) -> Asset:
        return await self._call("asset", lambda: self.inner.get_asset(symbol), retry=True)

    async def get_assets(self, symbols: Sequence[str]) -> dict[str, Asset]:
        """One bulk read; a symbol the list left out (Alpaca's list can omit one, e.g. a
        newly listed or an inactive asset) is looked up on its own, each within the budget."""
        found = dict(await self._call("assets", lambda: self.inner.get_assets(symbols),
                                      retry=True))
        for symbol in symbols:
            if symbol not in found:
                try:
                    found[symbol] = await self.get_asset(symbol)
                except NotFoundError:
                    continue
        return found

    async def get_positions(self) -> list[Position]:
        return await self._call("positions", self.inner.get_positions, retry=True)

    async def get_position(self, symbol: str) -> Position | None:
        return await self._call("position", lambda: self.inner.get_position(symbol), retry=True)

    async def latest_quote(self, symbol: str) -> Quote | None:
        return await self._call("quote", lambda: self.inner.latest_quote(symbol), retry=True)

    async def subscribe_quotes(self, symbols: Sequence[str]) -> bool:
        return await self.inner.subscribe_quotes(symbols)

    async def stream_quote(self, symbol: str, timeout: float) -> Quote | None:
        return await self.inner.stream_quote(symbol, timeout)

    async def submit_order(self, request: OrderRequest) -> Order:
        return await self._call("submit", lambda: self.inner.submit_order(request), retry=False)

    async def get_order(self, order_id: str) -> Order:
        return await self._call("order", lambda: self.inner.get_order(order_id), retry=True)

    async def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        async def lookup() -> Order | None:
            try:
                return await self.inner.get_order_by_client_id(client_order_id)
            except NotFoundError:
                return None

        return await self._call("order_by_client_id", lookup, retry=True)

    async def list_open_orders(self) -> list[Order]:
        return await self._call("open_orders", self.inner.list_open_orders, retry=True)

    async def cancel_order(self, order_id: str) -> None:
        await self._call("cancel", lambda: self.inner.cancel_order(order_id), retry=True)

    async def trade_stream_ok(self) -> bool:
        return await self.inner.trade_stream_ok()

    async def wait_order_update(self, order_id: str, timeout: float) -> TradeUpdate | None:
        return await self.inner.wait_order_update(order_id, timeout)

    async def close(self) -> None:
        await self.inner.close()
