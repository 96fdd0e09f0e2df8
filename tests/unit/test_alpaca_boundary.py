"""The Alpaca adapter's boundary: error mapping, status parsing, trade updates, feeds, logs."""

from __future__ import annotations

import contextlib
import io
import logging
from decimal import Decimal

import pytest

from alchemiser_cli.brokers.alpaca import feeds, parse
from alchemiser_cli.brokers.alpaca.errors import is_auth_refusal, map_error
from alchemiser_cli.brokers.alpaca.stream_logs import OneLineHandler
from alchemiser_cli.brokers.alpaca.streams import StreamHealth, StreamStatus, classify, instrument
from alchemiser_cli.brokers.port import (
    BrokerAuthError,
    BrokerError,
    NotCancelableError,
    OrderRejectedError,
)
from alchemiser_cli.clock import run
from alchemiser_cli.domain.errors import ConfigError, ExitCode
from alchemiser_cli.domain.orders import OrderStatus
from alchemiser_cli.logs import protect_secrets

HTML = "<html><head><title>403 Forbidden</title></head><body>403</body></html>"


@pytest.mark.parametrize(("status", "body"), [
    (403, '{"message": "forbidden."}'),  # Alpaca-API#228, alpaca-py#347
    (401, '{"code": 40110000, "message": "access key verification failed"}'),  # Alpaca-API#186
    # alpaca.markets/learn/how-to-fix-common-trading-api-errors-at-alpaca
    (401, '{"message": "unauthorized"}'),
    (403, HTML),  # alpaca-trade-api-csharp#244
])
def test_every_form_of_a_refused_key_is_a_credentials_error(status, body):
    assert is_auth_refusal(status, body)
    error = map_error(status, body, None, submitting=True)
    assert isinstance(error, BrokerAuthError) and isinstance(error, ConfigError)
    assert not isinstance(error, BrokerError)  # no `except BrokerError` can swallow it
    assert error.exit_code is ExitCode.CONFIG
    assert str(error).startswith("the broker refused the credentials (HTTP ")


@pytest.mark.parametrize("body", [
    '{"code": 40310000, "message": "insufficient buying power"}',  # alpaca-py#225
    '{"code": 40310000, "message": "potential wash trade detected. use complex orders"}',  # t/13817
    '{"message": "subscription does not permit querying recent SIP data"}',  # market-data FAQ
])
def test_a_403_with_a_reason_is_not_an_auth_problem(body):
    assert not is_auth_refusal(403, body)
    assert isinstance(map_error(403, body, None, submitting=True), OrderRejectedError)


def test_cancel_of_a_terminal_order_is_not_cancelable():  # bennycode/trading-signals#1079
    body = '{"code": 42210000, "message": "order is already in \\"filled\\" state"}'
    assert isinstance(map_error(422, body, None, cancelling=True), NotCancelableError)


ORDER = {"id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "c", "symbol": "AAPL",
         "side": "buy", "type": "limit", "qty": "10", "filled_qty": "4",
         "filled_avg_price": "100.5", "limit_price": "101", "created_at": "2021-03-16T18:38:01.942282Z",
         "updated_at": "2021-03-16T18:38:01.942282Z"}
ALPACA_STATUSES = ["new", "partially_filled", "filled", "done_for_day", "canceled", "expired",
                   "replaced", "pending_cancel", "pending_replace", "accepted", "pending_new",
                   "accepted_for_bidding", "stopped", "rejected", "suspended", "calculated",
                   "held"]  # the 17 values of OrderStatus in Alpaca's trading-api.json


@pytest.mark.parametrize("status", ALPACA_STATUSES)
def test_every_alpaca_order_status_is_understood(status):
    order = parse.order({**ORDER, "status": status})
    assert order.status is not OrderStatus.UNKNOWN and order.status.value == status


def test_only_final_statuses_are_terminal():
    terminal = {s for s in ALPACA_STATUSES if OrderStatus(s).terminal}
    assert terminal == {"filled", "canceled", "expired", "replaced", "rejected", "done_for_day"}


def test_a_fill_event_carries_that_execution():
    update = parse.trade_update({"stream": "trade_updates", "data": {
        "event": "partial_fill", "order": {**ORDER, "status": "partially_filled"},
        "timestamp": "2021-03-16T18:38:01.942282123Z", "price": "100.25", "qty": "1.5",
        "position_qty": "61.5", "execution_id": "e-1"}})
    assert (update.qty, update.price, update.position_qty, update.execution_id) == (
        Decimal("1.5"), Decimal("100.25"), Decimal("61.5"), "e-1")
    assert update.order.filled_qty == Decimal(4)  # the order keeps the cumulative total
    plain = parse.trade_update({"event": "new", "order": {**ORDER, "status": "new"},
                                "timestamp": "2021-03-16T18:38:01Z"})
    assert (plain.qty, plain.price, plain.position_qty, plain.execution_id) == (None,) * 4


def test_an_overridden_stream_url_follows_the_feed():
    assert feeds.stream_url("ws://127.0.0.1:8765/v2/iex", "sip") == "ws://127.0.0.1:8765/v2/sip"
    assert feeds.stream_url("wss://example.test/v2/test", "sip") == "wss://example.test/v2/test"
    assert feeds.stream_url(None, "iex") is None


def record(name: str, message: str, exc: BaseException | None = None,
           level: int = logging.ERROR) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(name, level, "x.py", 1, message, (), info)


def test_library_problems_become_one_short_line_each():
    protect_secrets(["sekrit-value"])
    out = io.StringIO()
    handler = OneLineHandler(out)
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    for _ in range(8):  # alpaca-py logs every retry with a traceback
        handler.handle(record("alpaca.data.live.websocket",
                              "error during websocket communication: [Errno 111] Connect call "
                              "failed ('127.0.0.1', 9)", refused))
    handler.handle(record("alpaca.trading.stream", "trading stream websocket error, restarting "
                          "connection: sent 1000 (OK); then received 1000 (OK)", level=logging.WARNING))
    handler.handle(record("alpaca.trading.stream", "error during websocket communication: "
                          "failed to authenticate", ValueError("failed to authenticate")))
    handler.handle(record("websockets.client", "oops sekrit-value leaked", level=logging.WARNING))
    assert out.getvalue().splitlines() == [
        "warning: market-data stream: [Errno 111] Connect call failed ('127.0.0.1', 9)",
        "warning: websocket: oops *** leaked",
    ]
    handler.quiet = 1
    handler.handle(record("alpaca.trading.stream", "trading stream websocket error: boom"))
    assert len(out.getvalue().splitlines()) == 2  # a shutdown in progress is not a problem


class FakeStream:
    """Just the methods the health tracker wraps, and the flag it may clear."""

    def __init__(self, failure: BaseException | None) -> None:
        self.failure = failure
        self._should_run = True
        self.seen: list[StreamStatus] = []
        self.health: StreamHealth | None = None

    async def _connect(self) -> None:
        pass

    async def _start_ws(self) -> None:
        await self._connect()
        assert self.health is not None
        self.seen.append(self.health.status)  # connected, not yet authenticated
        if self.failure is not None:
            raise self.failure

    async def _consume(self) -> bool:
        raise ConnectionError("dropped")


@pytest.mark.parametrize(("failure", "status", "stops"), [
    (None, StreamStatus.UP, False),
    (ValueError("auth failed"), StreamStatus.AUTH_FAILED, True),
    (ValueError("failed to authenticate"), StreamStatus.AUTH_FAILED, True),
    (ValueError("insufficient subscription"), StreamStatus.FEED_REFUSED, True),
    (ConnectionRefusedError(111, "refused"), StreamStatus.DOWN, False),
    (ValueError("connection limit exceeded"), StreamStatus.DOWN, False),
])
def test_stream_health_follows_the_connection(failure, status, stops):
    assert classify(failure) is status if failure is not None else True
    stream = FakeStream(failure)
    health = StreamHealth("test stream")
    stream.health = health
    instrument(stream, health)

    async def main() -> StreamStatus:
        waiting = health.settled(5.0)
        with contextlib.suppress(Exception):  # the stream's own loop logs and retries
            await stream._start_ws()
        return await waiting

    assert run(main, virtual=False) is status
    assert stream.seen == [StreamStatus.CONNECTED]
    assert stream._should_run is (not stops)
    if failure is None:
        with pytest.raises(ConnectionError):
            run(stream._consume, virtual=False)
        assert health.status is StreamStatus.DOWN  # a lost connection is noticed


def test_the_account_number_is_read_for_the_live_confirmation():
    # TradeAccount requires id, account_number and status; money fields are strings
    # (alpaca-py 0.44 trading/models.py TradeAccount, L477-561).
    account = parse.account({"id": "904837e3-3b76-47ec-b432-046db621571b",
                             "account_number": "PA3K7Q9Z1234", "status": "ACTIVE",
                             "cash": "5000.12", "equity": "100000", "buying_power": "10000.24",
                             "trading_blocked": False, "account_blocked": False})
    assert account.number == "PA3K7Q9Z1234" and account.cash == Decimal("5000.12")
    assert account.active
