"""Quote service: streaming first (subscribed before waiting), REST fallback.

Every quote, whichever path it came from, is assessed by the same rules
(age, crossing, zero sides, width) and reported as a ``QuoteTaken`` event; the
journal records those, and ``alch metrics`` aggregates them across runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from alchemiser_cli.brokers.port import Broker, BrokerError
from alchemiser_cli.clock import Clock
from alchemiser_cli.domain.events import Notice, Observer, QuoteTaken
from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.quotes import (
    AssessedQuote,
    Quote,
    QuotePolicy,
    QuoteProblem,
    QuoteSource,
    assess_quote,
)


class QuoteService:
    def __init__(self, broker: Broker, clock: Clock, policy: QuotePolicy,
                 stream_timeout: float, emit: Observer) -> None:
        self._broker = broker
        self._clock = clock
        self._policy = policy
        self._timeout = stream_timeout
        self._emit = emit
        self._subscribed: set[str] = set()
        self._stream_ok = True

    async def subscribe(self, symbols: Iterable[str]) -> None:
        """Subscribe up front (a rebalance subscribes every symbol at once)."""
        new = sorted(set(symbols) - self._subscribed)
        if not new:
            return
        ok = await self._broker.subscribe_quotes(new)
        self._subscribed.update(new)
        if not ok and self._stream_ok:
            self._emit(Notice("warning", "quote stream unavailable; using REST quotes"))
        self._stream_ok = ok

    async def quote(self, symbol: str) -> AssessedQuote:
        await self.subscribe([symbol])
        fallback = False
        if self._stream_ok:
            streamed = await self._broker.stream_quote(symbol, self._timeout)
            if streamed is not None:
                assessed = self._assess(streamed, QuoteSource.STREAM, fallback=False)
                if assessed.usable:
                    return assessed
            fallback = True
        try:
            rest = await self._broker.latest_quote(symbol)
        except BrokerError as exc:
            self._emit(Notice("warning", f"REST quote failed: {exc}", symbol))
            rest = None
        if rest is None:
            return self._missing(symbol, fallback)
        return self._assess(rest, QuoteSource.REST, fallback=fallback)

    async def peek(self, symbol: str, timeout: float) -> AssessedQuote | None:
        """The next streamed quote within ``timeout`` if usable, else None: never REST (no
        request spent) and not journaled. For watching the book while an order rests;
        a quote that prices an order is journaled with :meth:`record`."""
        if not self._stream_ok or symbol not in self._subscribed:
            return None
        streamed = await self._broker.stream_quote(symbol, timeout)
        if streamed is None:
            return None
        assessed = assess_quote(streamed, QuoteSource.STREAM, self._clock.now(), self._policy)
        return assessed if assessed.usable else None

    def record(self, quote: AssessedQuote) -> None:
        """Journal a quote obtained with :meth:`peek` (it is about to price an order)."""
        self._emit(QuoteTaken(
            symbol=quote.symbol, source=quote.source.value, bid=quote.bid, ask=quote.ask,
            raw_bid=quote.raw.bid, raw_ask=quote.raw.ask, age_seconds=quote.age_seconds,
            zero_bid=quote.zero_bid, zero_ask=quote.zero_ask, problem=None, fallback=False,
            at=self._clock.now(),
        ))

    def _assess(self, quote: Quote, source: QuoteSource, *, fallback: bool) -> AssessedQuote:
        assessed = assess_quote(quote, source, self._clock.now(), self._policy)
        self._emit(QuoteTaken(
            symbol=quote.symbol, source=source.value, bid=assessed.bid, ask=assessed.ask,
            raw_bid=quote.bid, raw_ask=quote.ask, age_seconds=assessed.age_seconds,
            zero_bid=assessed.zero_bid, zero_ask=assessed.zero_ask,
            problem=None if assessed.problem is None else assessed.problem.value,
            fallback=fallback, at=self._clock.now(), feed=getattr(self._broker, "feed", None),
        ))
        return assessed

    def _missing(self, symbol: str, fallback: bool) -> AssessedQuote:
        now = self._clock.now()
        quote = Quote(symbol, ZERO, ZERO, ZERO, ZERO, now)
        self._emit(QuoteTaken(
            symbol=symbol, source=QuoteSource.NONE.value, bid=ZERO, ask=ZERO, raw_bid=ZERO,
            raw_ask=ZERO, age_seconds=0.0, zero_bid=True, zero_ask=True,
            problem=QuoteProblem.MISSING.value, fallback=fallback, at=now,
        ))
        return AssessedQuote(quote, QuoteSource.NONE, ZERO, ZERO, 0.0, True, True,
                             QuoteProblem.MISSING)
