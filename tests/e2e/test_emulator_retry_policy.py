"""The retry policy end to end: our Alpaca adapter (real alpaca-py clients) behind the guarded
broker, against the emulator, counting the requests the emulator received.

Wire facts relied on:
- alpaca-py retries a 429 or 504 answer on any request, order POSTs included, three times
  with 3 s sleeps (alpaca/common/rest.py ``_request``/``_one_request``, defaults in
  alpaca/common/constants.py L11-13; ALPACA_WIRE_AND_SEMANTICS.md §1 "Errors"): the adapter
  sets ``_retry = 0`` so only our policy decides.
- Alpaca's per-account limit is 200 requests a minute; every answer carries
  ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (unix seconds) and a request over the
  limit gets 429 (alpaca.markets/support/usage-limit-api-calls; OpenAPI
  ``components.headers``; alpaca-trade-api-csharp#416).
- alpaca-py sets no HTTP timeout (alpaca-py#415): the adapter sets one, so a hung request
  is a network error, which is transient.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from alchemiser_cli.brokers.alpaca.adapter import AlpacaBroker
from alchemiser_cli.brokers.port import RateLimitedError, TransientBrokerError
from alchemiser_cli.brokers.sim.emulator import EmulatorThread
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import OrderRequest, OrderType
from alchemiser_cli.settings import load_settings
from tests.e2e.emulator import admin, faults

T = TypeVar("T")
D = Decimal


class RecordingLimiter(RateLimiter):
    """The shared budget, remembering every pause it was asked for."""

    def __init__(self, clock: LoopClock, per_minute: int) -> None:
        super().__init__(clock, per_minute)
        self.pauses: list[float] = []

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        super().pause(seconds)


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(key="PKRETRY", secret="retry-secret", tick_seconds=0.05) as emulator:
        yield emulator


def on_emulator(emu: EmulatorThread, body: Callable[[GuardedBroker, AlpacaBroker, RecordingLimiter],
                                                     Awaitable[T]],
                *, http_timeout: float = 10.0) -> T:
    settings = load_settings(
        api_key_id="PKRETRY", api_secret_key="retry-secret",
        trading_url=emu.base_url, data_url=emu.base_url,
        data_stream_url=f"{emu.ws_url}/v2/iex", trading_stream_url=f"{emu.ws_url}/stream")

    async def main() -> T:
        clock = LoopClock()
        adapter = AlpacaBroker(settings, paper=True, clock=clock, http_timeout=http_timeout)
        await adapter.start()
        try:
            limiter = RecordingLimiter(clock, 200)
            return await body(GuardedBroker(adapter, limiter, clock), adapter, limiter)
        finally:
            await adapter.close()

    return run(main, virtual=False)


def counts(emu: EmulatorThread) -> dict[str, int]:
    return dict(admin(emu, "/_sim/requests")["counts"])


def statuses(emu: EmulatorThread, route: str) -> list[int]:
    rows = admin(emu, "/_sim/log?limit=500")
    method, path = route.split(" ", 1)
    return [r["status"] for r in rows if r["method"] == method and r["path"].split("?")[0] == path]


def statuses_all(emu: EmulatorThread) -> list[tuple[str, int]]:
    return [(r["method"], r["status"]) for r in admin(emu, "/_sim/log?limit=500")]


def resting(cid: str) -> OrderRequest:
    return OrderRequest(cid, "AAPL", Side.BUY, D(1), OrderType.LIMIT, D("200.00"))


# -- order POSTs are sent once ---------------------------------------------------------------
def test_alpaca_py_does_not_resend_an_order_post_answered_429(emu):
    async def body(_: GuardedBroker, adapter: AlpacaBroker, __: RecordingLimiter) -> None:
        faults(emu, "http_429=1")
        with pytest.raises(RateLimitedError):
            await adapter.submit_order(resting("retry-429"))

    on_emulator(emu, body)
    assert counts(emu).get("POST /v2/orders") == 1
    assert emu.state.orders == {}  # the 429 created nothing, and nothing was resent


def test_the_guarded_broker_does_not_resend_an_order_post_answered_500(emu):
    async def body(broker: GuardedBroker, _: AlpacaBroker, __: RecordingLimiter) -> None:
        faults(emu, "http_5xx=1")
        with pytest.raises(TransientBrokerError):
            await broker.submit_order(resting("retry-500"))

    on_emulator(emu, body)
    assert counts(emu).get("POST /v2/orders") == 1
    assert emu.state.orders == {}


def test_an_order_created_then_answered_500_is_not_resent_by_the_adapter(emu):
    async def body(broker: GuardedBroker, _: AlpacaBroker, __: RecordingLimiter) -> None:
        faults(emu, "submit_then_5xx=1")
        with pytest.raises(TransientBrokerError):
            await broker.submit_order(resting("retry-created"))
        found = await broker.get_order_by_client_id("retry-created")
        assert found is not None
        await broker.cancel_order(found.id)

    on_emulator(emu, body)
    assert counts(emu).get("POST /v2/orders") == 1
    assert [o.client_order_id for o in emu.state.orders.values()] == ["retry-created"]


# -- reads and cancels are retried -------------------------------------------------------------
def test_reads_are_retried_through_the_adapter_after_5xx(emu):
    async def body(broker: GuardedBroker, _: AlpacaBroker, __: RecordingLimiter) -> Any:
        faults(emu, "http_5xx=2")
        return await broker.get_positions()

    positions = on_emulator(emu, body)
    assert {p.symbol: p.qty for p in positions}["AAPL"] == 60
    assert counts(emu).get("GET /v2/positions") == 3
    assert statuses(emu, "GET /v2/positions") == [500, 500, 200]


def test_a_cancel_is_retried_through_the_adapter_after_a_5xx(emu):
    async def body(broker: GuardedBroker, _: AlpacaBroker, __: RecordingLimiter) -> str:
        order = await broker.submit_order(resting("retry-cancel"))
        faults(emu, "http_5xx=1")
        await broker.cancel_order(order.id)
        for _ in range(100):
            if (await broker.get_order(order.id)).status.terminal:
                break
            time.sleep(0.02)
        return (await broker.get_order(order.id)).status.value

    assert on_emulator(emu, body) == "canceled"
    assert counts(emu).get("DELETE /v2/orders/{order_id}") == 2
    assert [s for s in statuses_all(emu) if s[0] == "DELETE"] == [("DELETE", 500), ("DELETE", 204)]


def test_a_hung_request_is_a_network_error_and_a_read_is_retried(emu):
    async def body(broker: GuardedBroker, _: AlpacaBroker, __: RecordingLimiter) -> str:
        faults(emu, "slow_seconds=1")
        try:
            with pytest.raises(TransientBrokerError, match="network error"):
                await broker.get_account()
        finally:
            faults(emu, "slow_seconds=0")
        return "ok"

    on_emulator(emu, body, http_timeout=0.3)
    assert counts(emu).get("GET /v2/account") == 4  # GuardedBroker's four attempts


# -- the shared request budget ---------------------------------------------------------------
def test_a_429_on_a_read_pauses_the_shared_budget_until_the_reset_then_retries(emu):
    async def body(broker: GuardedBroker, _: AlpacaBroker,
                   limiter: RecordingLimiter) -> tuple[str, list[float]]:
        faults(emu, "http_429=1")  # X-RateLimit-Reset: now + 1 s (the emulator's burst)
        account = await broker.get_account()
        return account.status, limiter.pauses

    status, pauses = on_emulator(emu, body)
    assert status == "ACTIVE"
    assert statuses(emu, "GET /v2/account") == [429, 200]
    assert len(pauses) == 1 and 0 < pauses[0] <= 1.0


def test_an_exhausted_rate_limit_remaining_pauses_before_any_429(emu):
    # a budget of 3 a minute: the third answer says Remaining 0 and Reset in about 60 s;
    # the budget pauses for everybody until then, before a fourth request could get a 429
    async def body(broker: GuardedBroker, _: AlpacaBroker, limiter: RecordingLimiter) -> list[float]:
        faults(emu, "rate_limit=3")
        for _ in range(3):
            await broker.get_clock()
        return limiter.pauses

    pauses = on_emulator(emu, body)
    assert len(pauses) == 1 and 55 <= pauses[0] <= 61
    assert statuses(emu, "GET /v2/clock") == [200, 200, 200]
