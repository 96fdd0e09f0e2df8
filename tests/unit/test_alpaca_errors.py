"""Alpaca's HTTP answers to our error classes, which decide what is retried, what is a
rejection and what is looked up by client_order_id.

Wire facts (ALPACA_WIRE_AND_SEMANTICS.md §1 "Errors" and §3): every error is a JSON body
``{"code": int, "message": str}``; 404 ``{"code":40410000,"message":"order not found"}``
(alpaca-py tests/trading/trading_client/test_order_routes.py L361-392); a reused
client_order_id is 422 "client_order_id must be unique"; 429 "rate limit exceeded"
(alpaca-trade-api-csharp#416) with ``X-RateLimit-Reset`` in unix seconds (OpenAPI
``components.headers``); Retry-After is standard HTTP (RFC 9110 §10.2.3), honoured when sent.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from requests import Response
from requests.structures import CaseInsensitiveDict

from alchemiser_cli.brokers.alpaca.errors import auth_error, map_error, retry_after
from alchemiser_cli.brokers.port import (
    BrokerAuthError,
    BrokerError,
    DuplicateClientOrderIdError,
    NotCancelableError,
    NotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TransientBrokerError,
)


def response(**headers: str) -> Response:
    answer = Response()
    answer.headers = CaseInsensitiveDict(headers)
    return answer


def body(code: int | str | None, message: str) -> str:
    import json
    return json.dumps({"code": code, "message": message} if code is not None else
                      {"message": message})


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 599, 408])
def test_server_errors_timeouts_and_unknown_statuses_are_transient(status):
    error = map_error(status, body(50010000, "internal server error"), None, submitting=True)
    assert type(error) is TransientBrokerError
    assert error.status == status and str(error) == f"HTTP {status}: internal server error"
    assert error.code == 50010000


@pytest.mark.parametrize("status", [400, 409, 422, 499])
def test_client_errors_are_definite(status):
    error = map_error(status, body(42210000, "invalid qty"), None)
    assert type(error) is BrokerError and not isinstance(error, TransientBrokerError)
    assert str(error) == f"HTTP {status}: invalid qty" and error.code == 42210000


def test_a_refused_submission_is_a_rejection_with_the_brokers_reason():
    error = map_error(403, body(40310000, "insufficient buying power"), None, submitting=True)
    assert type(error) is OrderRejectedError
    assert str(error) == "insufficient buying power" and error.status == 403
    assert error.code == 40310000
    read = map_error(403, body(40310000, "insufficient buying power"), None)
    assert type(read) is BrokerError  # the same answer to a read is no rejection


def test_a_reused_client_order_id_is_a_duplicate_whatever_the_call():
    for submitting in (True, False):
        error = map_error(422, body(40010001, "client_order_id must be unique"), None,
                          submitting=submitting)
        assert type(error) is DuplicateClientOrderIdError
        assert isinstance(error, OrderRejectedError)


def test_not_found_is_its_own_class():
    error = map_error(404, body(40410000, "order not found"), None, submitting=True)
    assert type(error) is NotFoundError and str(error) == "order not found"
    assert error.status == 404 and error.code == 40410000


def test_only_a_422_to_a_cancel_is_not_cancelable():
    assert type(map_error(422, body(42210000, "order is not cancelable"), None,
                          cancelling=True)) is NotCancelableError
    assert type(map_error(400, body(40010001, "bad id"), None, cancelling=True)) is BrokerError
    assert type(map_error(422, body(42210000, "invalid"), None)) is BrokerError


def test_a_body_that_is_not_json_is_reported_as_it_came():
    error = map_error(502, "Bad Gateway", None)
    assert type(error) is TransientBrokerError
    assert str(error) == "HTTP 502: Bad Gateway" and error.code is None


def test_a_code_that_is_not_a_number_is_ignored():
    error = map_error(422, body("oops", "invalid"), None)
    assert error.code is None and str(error) == "HTTP 422: invalid"


def test_a_429_carries_how_long_to_wait():
    error = map_error(429, body(42910000, "rate limit exceeded"), response(**{"Retry-After": "7"}))
    assert type(error) is RateLimitedError and isinstance(error, TransientBrokerError)
    assert error.retry_after == 7.0 and str(error) == "rate limit exceeded: rate limit exceeded"
    assert map_error(429, body(None, "slow down"), None).retry_after is None  # type: ignore[union-attr]


def test_retry_after_wins_over_the_reset_time():
    later = str(int(time.time()) + 30)
    assert retry_after(response(**{"Retry-After": "2.5", "X-RateLimit-Reset": later})) == 2.5


def test_the_reset_time_is_seconds_from_now():
    wait = retry_after(response(**{"X-RateLimit-Reset": str(int(time.time()) + 30)}))
    assert wait is not None and 28 <= wait <= 30


def test_a_reset_time_in_the_past_means_no_wait():
    assert retry_after(response(**{"X-RateLimit-Reset": str(int(time.time()) - 30)})) == 0.0
    assert retry_after(response(**{"Retry-After": "-3"})) == 0.0


def test_unreadable_or_missing_hints_fall_back():
    later = str(int(time.time()) + 30)
    wait = retry_after(response(**{"Retry-After": "soon", "X-RateLimit-Reset": later}))
    assert wait is not None and 28 <= wait <= 30
    assert retry_after(response(**{"X-RateLimit-Reset": "never"})) is None
    assert retry_after(response()) is None
    assert retry_after(response(**{"Retry-After": ""})) is None


def test_a_refused_key_names_the_broker_message_never_a_secret():
    error = auth_error(403, body(None, "forbidden."))
    assert isinstance(error, BrokerAuthError)
    assert str(error).startswith("the broker refused the credentials (HTTP 403: forbidden.); check ")
    assert "(HTTP 403: an HTML page)" in str(auth_error(403, "<html>403</html>"))
    assert "(HTTP 401: no body)" in str(auth_error(401, ""))
    assert "(HTTP 401: plain words)" in str(auth_error(401, "plain words"))
    # a long body that is not JSON (a proxy's page) is cut to its first 60 characters
    long = "gateway says no " * 10
    assert f"(HTTP 401: {long[:60].strip()}); check " in str(auth_error(401, long))


# -- the adapter's own boundary (no network: the calls are local functions) --------------------
def adapter():  # type: ignore[no-untyped-def]
    from alchemiser_cli.brokers.alpaca.adapter import AlpacaBroker
    from alchemiser_cli.clock import LoopClock
    from alchemiser_cli.settings import load_settings

    settings = load_settings(api_key_id="PKUNIT", api_secret_key="unit-secret",
                             trading_url="http://127.0.0.1:9", data_url="http://127.0.0.1:9")
    return AlpacaBroker(settings, paper=True, clock=LoopClock())


def rest(fn, **flags):  # type: ignore[no-untyped-def]
    from alchemiser_cli.clock import run

    broker = adapter()

    async def main():  # type: ignore[no-untyped-def]
        try:
            return await broker._rest(fn, **flags)
        finally:
            broker._pool.shutdown(wait=False)

    return run(main, virtual=False)


def api_error(status: int, text: str):  # type: ignore[no-untyped-def]
    from requests import HTTPError

    from alchemiser_cli.brokers.alpaca import adapter as module  # alpaca-py's APIError, as caught

    answer = response(**{"Retry-After": "4"})
    answer.status_code = status
    return module.APIError(text, HTTPError(response=answer))


def raising(error: BaseException):  # type: ignore[no-untyped-def]
    def call() -> None:
        raise error
    return call


@pytest.mark.parametrize("error", ["ConnectionError", "ReadTimeout", "ChunkedEncodingError"])
def test_a_network_error_is_transient(error):
    import requests

    with pytest.raises(TransientBrokerError, match=f"^network error: {error}$") as caught:
        rest(raising(getattr(requests.exceptions, error)("boom")))
    assert type(caught.value) is TransientBrokerError


def test_an_api_error_is_mapped_with_what_the_call_was():
    refused = body(40310000, "insufficient buying power")
    with pytest.raises(OrderRejectedError):
        rest(raising(api_error(403, refused)), submitting=True)
    with pytest.raises(BrokerError) as read:
        rest(raising(api_error(403, refused)))
    assert type(read.value) is BrokerError
    with pytest.raises(NotCancelableError):
        rest(raising(api_error(422, body(42210000, "order is not cancelable"))), cancelling=True)
    with pytest.raises(RateLimitedError) as limited:
        rest(raising(api_error(429, body(42910000, "rate limit exceeded"))))
    assert limited.value.retry_after == 4.0  # from the response's headers


def test_an_unreadable_answer_is_a_definite_broker_error():
    from alchemiser_cli.brokers.alpaca import parse

    with pytest.raises(BrokerError, match=r"^unreadable broker response: bad field$") as caught:
        rest(raising(parse.ParseError("bad field")))
    assert type(caught.value) is BrokerError


def test_a_successful_call_returns_its_value():
    assert rest(lambda: {"ok": 1}) == {"ok": 1}


def test_an_exhausted_remaining_budget_asks_for_a_pause_until_the_reset():
    broker = adapter()
    try:
        assert broker.rate_limit_pause() is None
        broker._on_response(response(**{"X-RateLimit-Remaining": "5",
                                        "X-RateLimit-Reset": str(int(time.time()) + 30)}))
        assert broker.rate_limit_pause() is None  # budget left: no pause
        broker._on_response(response(**{"X-RateLimit-Remaining": " 0 ",
                                        "X-RateLimit-Reset": str(int(time.time()) + 30)}))
        pause = broker.rate_limit_pause()
        assert pause is not None and 28 <= pause <= 30
        broker._on_response(response(**{"X-RateLimit-Remaining": "0",
                                        "X-RateLimit-Reset": str(int(time.time()) + 5)}))
        later = broker.rate_limit_pause()
        assert later is not None and later >= 27  # a shorter reset never shortens the pause
        broker._on_response(response())  # no headers at all: nothing changes
        assert (broker.rate_limit_pause() or 0) >= 27
    finally:
        broker._pool.shutdown(wait=False)


def test_a_pause_ends_when_its_time_has_passed():
    broker = adapter()
    try:
        broker._on_response(response(**{"X-RateLimit-Remaining": "0",
                                        "X-RateLimit-Reset": str(int(time.time()) - 1)}))
        assert broker.rate_limit_pause() is None  # the reset is already behind us
        broker._pause_until = time.monotonic() - 0.001
        assert broker.rate_limit_pause() is None
    finally:
        broker._pool.shutdown(wait=False)


def test_alpaca_py_retries_are_switched_off_on_both_clients():
    broker = adapter()
    try:
        assert broker._trading._retry == 0 and broker._data._retry == 0
        assert broker._on_response in broker._trading._session.hooks["response"]
        assert broker._on_response in broker._data._session.hooks["response"]
    finally:
        broker._pool.shutdown(wait=False)


def test_a_422_to_a_read_is_a_plain_broker_error_not_a_cancel_refusal():
    with pytest.raises(BrokerError) as read:
        rest(raising(api_error(422, body(42210000, "invalid request"))))
    assert type(read.value) is BrokerError


def test_the_order_calls_say_what_they_were_when_refused():
    # a refused POST /v2/orders is a rejection (never resent); a 422 to DELETE /v2/orders/{id}
    # means the order is no longer cancelable (ALPACA_WIRE_AND_SEMANTICS.md §3)
    from alchemiser_cli.clock import run
    from alchemiser_cli.domain.intents import Side
    from alchemiser_cli.domain.orders import OrderRequest, OrderType

    broker = adapter()
    def refusing(error: BaseException):  # type: ignore[no-untyped-def]
        def call(*_: object) -> None:
            raise error
        return call

    broker._trading.submit_order = refusing(  # type: ignore[method-assign]
        api_error(403, body(40310000, "insufficient buying power")))
    broker._trading.cancel_order_by_id = refusing(  # type: ignore[method-assign]
        api_error(422, body(42210000, "order is not cancelable")))

    async def main() -> tuple[BaseException, BaseException]:
        try:
            with pytest.raises(OrderRejectedError) as submitted:
                await broker.submit_order(OrderRequest("c-1", "AAPL", Side.BUY, Decimal(1),
                                                       OrderType.LIMIT, Decimal("10.00")))
            with pytest.raises(NotCancelableError) as cancelled:
                await broker.cancel_order("o-1")
            return submitted.value, cancelled.value
        finally:
            broker._pool.shutdown(wait=False)

    submitted, cancelled = run(main, virtual=False)
    assert str(submitted) == "insufficient buying power"
    assert str(cancelled) == "order is not cancelable"


def test_a_pause_shorter_than_a_second_is_still_a_pause():
    broker = adapter()
    try:
        broker._on_response(response(**{"X-RateLimit-Remaining": "0", "Retry-After": "0.5"}))
        pause = broker.rate_limit_pause()
        assert pause is not None and 0 < pause <= 0.5
    finally:
        broker._pool.shutdown(wait=False)


def test_a_broker_that_never_answers_is_a_transient_error_after_the_http_timeout():
    # alpaca-py sets no timeout of its own (alpaca/common/rest.py, `_one_request`:
    # `self._session.request(method, url, **opts)`, and no timeout anywhere in that file):
    # ours turns a hung call into a transient error instead of a walk waiting forever
    import socket
    import threading

    from alchemiser_cli.brokers.alpaca.adapter import AlpacaBroker
    from alchemiser_cli.clock import LoopClock, run
    from alchemiser_cli.settings import load_settings

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    settings = load_settings(api_key_id="PKUNIT", api_secret_key="unit-secret",
                             trading_url=url, data_url=url)
    broker = AlpacaBroker(settings, paper=True, clock=LoopClock(), http_timeout=0.3)

    async def main() -> float:
        started = time.monotonic()
        try:
            with pytest.raises(TransientBrokerError, match=r"^network error: "):
                await asyncio.wait_for(broker.get_account(), 10)
            return time.monotonic() - started
        finally:
            broker._pool.shutdown(wait=False)

    try:
        assert run(main, virtual=False) < 5
    finally:
        for conn in held:
            conn.close()
        server.close()
