"""The guarded broker: one shared request budget, retries for reads and cancels only.

Wire facts relied on:
- 200 requests per minute per account, paper and live (alpaca.markets/support/
  usage-limit-api-calls); beyond it a 429 "rate limit exceeded" (alpaca-trade-api-csharp#416).
- Every response carries X-RateLimit-Limit / -Remaining / -Reset, Reset in unix seconds
  (OpenAPI trading-api.json ``components.headers``; forum.alpaca.markets t/12029): the adapter turns
  Remaining 0 into the ``rate_limit_pause`` hint read here.
- Retry-After is the standard HTTP hint (RFC 9110 section 10.2.3); Alpaca does not
  document sending it, so it is honoured when present and backoff applies otherwise.
- alpaca-py retries 429 and 504 three times on any request, order POSTs included
  (alpaca/common/constants.py L11-13, alpaca/common/rest.py): a resent POST could place
  a second order, so the adapter disables that and a submission is never retried here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from alchemiser_cli.brokers.port import (
    BrokerError,
    NotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TransientBrokerError,
)
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import (
    Account,
    Asset,
    MarketClock,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
)
from alchemiser_cli.domain.quotes import Quote

T = TypeVar("T")
START = datetime(2026, 11, 24, 15, tzinfo=UTC)


def order(cid: str = "alch-r-AAPL-1") -> Order:
    return Order(id="o-1", client_order_id=cid, symbol="AAPL", side=Side.BUY, type=OrderType.LIMIT,
                 qty=Decimal(1), filled_qty=Decimal(0), filled_avg_price=None,
                 limit_price=Decimal("10.00"), status=OrderStatus.NEW, created_at=START,
                 updated_at=START)


class FlakyBroker:
    """Every method fails with the queued errors first, then answers. Records calls."""

    name = "flaky"

    def __init__(self, clock: LoopClock) -> None:
        self.clock = clock
        self.errors: dict[str, list[BrokerError]] = {}
        self.calls: list[tuple[str, float]] = []
        self.pause_hints: list[float | None] = []

    def fail(self, method: str, *errors: BrokerError) -> None:
        self.errors.setdefault(method, []).extend(errors)

    async def _answer(self, method: str, value: T) -> T:
        self.calls.append((method, self.clock.monotonic()))
        queued = self.errors.get(method)
        if queued:
            raise queued.pop(0)
        return value

    def rate_limit_pause(self) -> float | None:
        return self.pause_hints.pop(0) if self.pause_hints else None

    def times(self, method: str) -> list[float]:
        return [t for m, t in self.calls if m == method]

    async def get_account(self) -> Account:
        return await self._answer("get_account", Account(
            "acct", "ACTIVE", Decimal(1000), Decimal(1000), Decimal(1000), False, False))

    async def get_clock(self) -> MarketClock:
        return await self._answer("get_clock", MarketClock(START, True, START, START))

    async def get_asset(self, symbol: str) -> Asset:
        return await self._answer("get_asset", Asset(symbol, True, True))

    async def get_positions(self) -> list[Position]:
        return await self._answer("get_positions", [Position("AAPL", Decimal(3), Decimal(10))])

    async def latest_quote(self, symbol: str) -> Quote | None:
        return await self._answer("latest_quote", Quote(symbol, Decimal("9.99"), Decimal("10.01"),
                                                         Decimal(1), Decimal(1), START))

    async def close(self) -> None:
        self.calls.append(("close", self.clock.monotonic()))

    async def get_position(self, symbol: str) -> Position | None:
        return await self._answer("get_position", Position(symbol, Decimal(3), Decimal(10)))

    async def get_order(self, order_id: str) -> Order:
        return await self._answer("get_order", order())

    async def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        return await self._answer("get_order_by_client_id", order(client_order_id))

    async def list_open_orders(self) -> list[Order]:
        return await self._answer("list_open_orders", [order()])

    async def cancel_order(self, order_id: str) -> None:
        await self._answer("cancel_order", None)

    async def submit_order(self, request: OrderRequest) -> Order:
        return await self._answer("submit_order", order(request.client_order_id))


def guarded(body: Callable[[GuardedBroker, FlakyBroker, LoopClock], Awaitable[T]], *,
            per_minute: int = 200) -> T:
    async def main() -> T:
        clock = LoopClock(START)
        inner = FlakyBroker(clock)
        broker = GuardedBroker(inner, RateLimiter(clock, per_minute), clock)  # type: ignore[arg-type]
        return await body(broker, inner, clock)

    return run(main, virtual=True)


REQUEST = OrderRequest("alch-r-AAPL-1", "AAPL", Side.BUY, Decimal(1), OrderType.LIMIT, Decimal("10.00"))
UNAVAILABLE = TransientBrokerError("HTTP 503: unavailable", status=503)


def test_reads_are_retried_with_exponential_backoff_until_they_succeed():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_position", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE)
        position = await broker.get_position("AAPL")
        return position, inner.times("get_position")

    position, times = guarded(body)
    assert position is not None and position.qty == 3
    assert times == [0.0, 0.5, 1.5, 3.5]  # waits of 0.5, 1 and 2 s


def test_a_read_that_keeps_failing_gives_up_after_four_attempts():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_account", *[UNAVAILABLE] * 10)
        with pytest.raises(TransientBrokerError, match="503"):
            await broker.get_account()
        return inner.times("get_account")

    assert len(guarded(body)) == 4


@pytest.mark.parametrize("method", ["get_order", "list_open_orders", "get_order_by_client_id",
                                    "get_clock", "get_asset", "get_positions", "latest_quote"])
def test_every_read_is_retried(method):
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail(method, UNAVAILABLE)
        call = {"get_order": lambda: broker.get_order("o-1"),
                "list_open_orders": broker.list_open_orders,
                "get_order_by_client_id": lambda: broker.get_order_by_client_id("alch-r-AAPL-1"),
                "get_clock": broker.get_clock, "get_asset": lambda: broker.get_asset("AAPL"),
                "get_positions": broker.get_positions, "latest_quote": lambda: broker.latest_quote("AAPL")}
        await call[method]()
        return len(inner.times(method))

    assert guarded(body) == 2


def test_a_cancel_is_retried_because_it_is_idempotent():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("cancel_order", UNAVAILABLE, UNAVAILABLE)
        await broker.cancel_order("o-1")
        return inner.times("cancel_order")

    assert guarded(body) == [0.0, 0.5, 1.5]


@pytest.mark.parametrize("error", [
    UNAVAILABLE,
    TransientBrokerError("timed out"),
    RateLimitedError("HTTP 429: too many requests", retry_after=1.0),
])
def test_a_submission_is_never_retried(error):
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("submit_order", error)
        with pytest.raises(TransientBrokerError):
            await broker.submit_order(REQUEST)
        return len(inner.times("submit_order"))

    assert guarded(body) == 1  # its outcome is unknown: the caller looks the id up instead


def test_a_definite_error_on_a_read_is_not_retried():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_order", OrderRejectedError("HTTP 403: forbidden", status=403))
        with pytest.raises(OrderRejectedError):
            await broker.get_order("o-1")
        return len(inner.times("get_order"))

    assert guarded(body) == 1


def test_an_unknown_client_order_id_is_none_not_an_error():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_order_by_client_id", NotFoundError("HTTP 404: order not found", status=404))
        return await broker.get_order_by_client_id("alch-r-AAPL-9"), len(inner.calls)

    assert guarded(body) == (None, 1)


def test_a_429_pauses_the_shared_budget_for_every_caller_for_retry_after():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_position", RateLimitedError("HTTP 429", retry_after=7.0))

        async def other_caller() -> None:
            await clock.sleep(0.1)  # arrives while the budget is paused
            await broker.get_account()

        await asyncio.gather(broker.get_position("AAPL"), other_caller())
        return inner.times("get_position"), inner.times("get_account")

    positions, accounts = guarded(body)
    assert positions == [0.0, 7.0]  # the read is retried once the pause is over
    assert accounts[0] >= 7.0  # and nobody else sent a request during the pause


def test_a_429_without_retry_after_still_pauses_with_backoff():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_position", *[RateLimitedError("HTTP 429")] * 3)
        await broker.get_position("AAPL")
        return inner.times("get_position")

    assert guarded(body) == [0.0, 1.0, 3.0, 7.0]  # paused 0.5 * 2**attempt: 1, 2, then 4 s


def test_a_read_that_stays_rate_limited_gives_up_after_four_attempts():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_order", *[RateLimitedError("HTTP 429", retry_after=1.0)] * 10)
        with pytest.raises(RateLimitedError):
            await broker.get_order("o-1")
        return inner.times("get_order")

    assert guarded(body) == [0.0, 1.0, 2.0, 3.0]


def test_the_guarded_broker_carries_the_name_of_the_broker_it_wraps():
    assert guarded(lambda broker, inner, clock: _name(broker)) == "flaky"


async def _name(broker: GuardedBroker) -> str:
    return broker.name


def test_closing_the_guarded_broker_closes_the_broker_it_wraps():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        await broker.close()
        return inner.calls

    assert guarded(body) == [("close", 0.0)]


def test_a_429_on_a_submission_pauses_the_budget_for_the_next_request():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("submit_order", RateLimitedError("HTTP 429", retry_after=4.0))
        with pytest.raises(RateLimitedError):
            await broker.submit_order(REQUEST)
        await broker.get_order_by_client_id(REQUEST.client_order_id)
        return inner.times("get_order_by_client_id")

    assert guarded(body) == [4.0]


def test_an_exhausted_rate_limit_remaining_pauses_until_the_reset():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.pause_hints = [12.0]  # X-RateLimit-Remaining: 0, reset in 12 s
        await broker.get_account()
        await broker.get_position("AAPL")
        return [t for _, t in inner.calls]

    assert guarded(body) == [0.0, 12.0]


def test_no_pause_while_the_broker_reports_budget_left():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.pause_hints = [None, 0.0]
        for _ in range(3):
            await broker.get_account()
        return [t for _, t in inner.calls]

    assert guarded(body) == [0.0, 0.0, 0.0]


def test_every_request_takes_from_the_budget_retries_included():
    async def body(broker: GuardedBroker, inner: FlakyBroker, clock: LoopClock) -> Any:
        inner.fail("get_position", UNAVAILABLE)
        await broker.get_position("AAPL")
        await broker.submit_order(REQUEST)
        for _ in range(3):
            await broker.get_order("o-1")
        return dict(broker.requests), [t for _, t in inner.calls]

    requests, times = guarded(body, per_minute=3)
    assert requests == {"position": 2, "submit": 1, "order": 3}
    assert times == [0.0, 0.5, 0.5, 60.0, 60.5, 60.5]  # never more than 3 in any 60 s
