"""The quote service: streaming first (subscribed before waiting), REST fallback, every
quote reported, and a quote that cannot be had is MISSING (never a made-up price)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from alchemiser_cli.brokers.port import BrokerError, TransientBrokerError
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.quote_service import QuoteService
from alchemiser_cli.domain.events import Event, Notice, QuoteTaken
from alchemiser_cli.domain.quotes import AssessedQuote, Quote, QuotePolicy, QuoteProblem, QuoteSource

START = datetime(2026, 11, 24, 15, tzinfo=UTC)


def quote(bid: str, ask: str, age: float = 0.0, symbol: str = "AAPL") -> Quote:
    return Quote(symbol, Decimal(bid), Decimal(ask), Decimal(1), Decimal(1),
                 START - timedelta(seconds=age))


class FakeQuotes:
    """A broker's quote side: a stream that may be down and a REST endpoint that may fail."""

    def __init__(self, *, stream_up: bool = True, streamed: Sequence[Quote | None] = (),
                 rest: Quote | BrokerError | None = None) -> None:
        self.stream_up = stream_up
        self.streamed = list(streamed)
        self.rest = rest
        self.subscriptions: list[list[str]] = []
        self.stream_waits: list[tuple[str, float]] = []
        self.rest_calls: list[str] = []

    async def subscribe_quotes(self, symbols: Sequence[str]) -> bool:
        self.subscriptions.append(list(symbols))
        return self.stream_up

    async def stream_quote(self, symbol: str, timeout: float) -> Quote | None:
        self.stream_waits.append((symbol, timeout))
        return self.streamed.pop(0) if self.streamed else None

    async def latest_quote(self, symbol: str) -> Quote | None:
        self.rest_calls.append(symbol)
        if isinstance(self.rest, BrokerError):
            raise self.rest
        return self.rest


def take(broker: FakeQuotes, *symbols: str, subscribe_first: Sequence[str] = ()
         ) -> tuple[list[AssessedQuote], list[Event]]:
    events: list[Event] = []

    async def main() -> list[AssessedQuote]:
        service = QuoteService(broker, LoopClock(START), QuotePolicy(), 2.5,  # type: ignore[arg-type]
                               events.append)
        if subscribe_first:
            await service.subscribe(subscribe_first)
        return [await service.quote(s) for s in symbols]

    return run(main, virtual=True), events


def taken(events: list[Event]) -> list[dict[str, Any]]:
    return [{"source": e.source, "fallback": e.fallback, "problem": e.problem, "bid": e.bid,
             "ask": e.ask} for e in events if isinstance(e, QuoteTaken)]


def test_a_usable_streamed_quote_is_used_and_rest_is_not_asked():
    broker = FakeQuotes(streamed=[quote("100", "100.10")], rest=quote("1", "2"))
    (q,), events = take(broker, "AAPL")
    assert q.source is QuoteSource.STREAM and (q.bid, q.ask) == (Decimal(100), Decimal("100.10"))
    assert broker.subscriptions == [["AAPL"]]  # subscribed before waiting
    assert broker.stream_waits == [("AAPL", 2.5)] and broker.rest_calls == []
    assert taken(events) == [{"source": "stream", "fallback": False, "problem": None,
                              "bid": Decimal(100), "ask": Decimal("100.10")}]


def test_no_streamed_quote_in_time_falls_back_to_rest_and_says_so():
    broker = FakeQuotes(streamed=[None], rest=quote("99", "99.10"))
    (q,), events = take(broker, "AAPL")
    assert q.source is QuoteSource.REST and q.usable and q.bid == Decimal(99)
    assert taken(events) == [{"source": "rest", "fallback": True, "problem": None,
                              "bid": Decimal(99), "ask": Decimal("99.10")}]


def test_an_unusable_streamed_quote_is_reported_then_rest_is_tried():
    broker = FakeQuotes(streamed=[quote("100", "100.1", age=30)], rest=quote("99", "99.10"))
    (q,), events = take(broker, "AAPL")
    assert q.source is QuoteSource.REST and q.usable
    assert [(t["source"], t["problem"], t["fallback"]) for t in taken(events)] == [
        ("stream", "stale", False), ("rest", None, True)]


def test_a_stale_rest_quote_is_refused_too():
    (q,), _ = take(FakeQuotes(streamed=[None], rest=quote("99", "99.10", age=60)), "AAPL")
    assert q.problem is QuoteProblem.STALE and not q.usable


def test_a_failed_rest_quote_is_missing_never_a_price():
    broker = FakeQuotes(streamed=[None], rest=TransientBrokerError("HTTP 503: unavailable"))
    (q,), events = take(broker, "AAPL")
    assert q.problem is QuoteProblem.MISSING and not q.usable
    assert (q.bid, q.ask, q.source) == (0, 0, QuoteSource.NONE)
    assert [e.message for e in events if isinstance(e, Notice)] == [
        "REST quote failed: HTTP 503: unavailable"]
    assert taken(events) == [{"source": "none", "fallback": True, "problem": "missing",
                              "bid": 0, "ask": 0}]


def test_no_quote_anywhere_is_missing_with_no_sides_and_no_age():
    (q,), events = take(FakeQuotes(streamed=[None], rest=None), "AAPL")
    assert q.problem is QuoteProblem.MISSING and q.symbol == "AAPL"
    assert (q.zero_bid, q.zero_ask, q.age_seconds) == (True, True, 0.0)
    (event,) = [e for e in events if isinstance(e, QuoteTaken)]
    assert (event.zero_bid, event.zero_ask, event.age_seconds, event.raw_bid, event.raw_ask) == (
        True, True, 0.0, 0, 0)


def test_a_stream_that_is_down_is_not_waited_on_and_is_reported_once():
    broker = FakeQuotes(stream_up=False, rest=quote("99", "99.10"))
    quotes, events = take(broker, "AAPL", "AAPL", "MSFT")
    assert all(q.source is QuoteSource.REST and q.usable for q in quotes)
    assert broker.stream_waits == []  # no 2.5 s wait per quote for a stream that is down
    assert broker.rest_calls == ["AAPL", "AAPL", "MSFT"]
    assert [e.message for e in events if isinstance(e, Notice)] == [
        "quote stream unavailable; using REST quotes"]
    assert {t["fallback"] for t in taken(events)} == {False}


def test_symbols_are_subscribed_once_up_front():
    broker = FakeQuotes(streamed=[quote("100", "100.1"), quote("50", "50.1", symbol="MSFT")])
    take(broker, "AAPL", "MSFT", subscribe_first=["MSFT", "AAPL", "AAPL"])
    assert broker.subscriptions == [["AAPL", "MSFT"]]


def test_a_new_symbol_is_subscribed_before_its_quote_is_awaited():
    broker = FakeQuotes(streamed=[quote("100", "100.1"), quote("50", "50.1", symbol="MSFT")])
    take(broker, "AAPL", "MSFT", subscribe_first=["AAPL"])
    assert broker.subscriptions == [["AAPL"], ["MSFT"]]
