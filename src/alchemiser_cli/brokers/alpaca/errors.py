"""Alpaca's HTTP errors to our classes (which decide retry, rejection and exit code)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from requests import Response

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
from alchemiser_cli.logs import redact

#: Where the credentials come from unless the adapter says otherwise (an account's own).
DEFAULT_CREDENTIALS = "APCA_API_KEY_ID and APCA_API_SECRET_KEY"


def credentials_hint(source: str = DEFAULT_CREDENTIALS) -> str:
    return f"check {source} (a reset paper account needs new keys)"


def _body(text: str) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError, TypeError):
        body = json.loads(text)
        if isinstance(body, dict):
            return body
    return None


def is_auth_refusal(status: int | None, text: str) -> bool:
    """Bad or revoked keys, in every form they have been seen.

    401 in any form (``{"code":40110000,...}``, Alpaca-API#186; ``{"message":"unauthorized"}``,
    alpaca.markets/learn/how-to-fix-common-trading-api-errors-at-alpaca);
    403 ``{"message":"forbidden."}`` without a code (Alpaca-API#228, alpaca-py#347); and a 403
    whose body is not JSON (an HTML page from the proxy, alpaca-trade-api-csharp#244). A 403
    *with* a code (40310000: buying power, wash trade) is an order rejection, not auth.
    """
    if status == 401:
        return True
    if status != 403:
        return False
    body = _body(text)
    if body is None:
        return True
    message = str(body.get("message", "")).strip().lower().rstrip(".")
    return body.get("code") is None and message in ("forbidden", "unauthorized",
                                                    "request is not authorized")


def auth_error(status: int | None, text: str,
               credentials: str = DEFAULT_CREDENTIALS) -> BrokerAuthError:
    """``credentials``: where the refused keys come from (variables or a file), to name."""
    body = _body(text)
    summary = str(body.get("message")) if body and body.get("message") else (
        "an HTML page" if text.lstrip().startswith("<") else text.strip()[:60] or "no body")
    return BrokerAuthError(redact(f"the broker refused the credentials (HTTP {status}: {summary}); "
                                  f"{credentials_hint(credentials)}"))


def map_error(status: int | None, text: str, response: Response | None, *, submitting: bool = False,
              cancelling: bool = False,
              credentials: str = DEFAULT_CREDENTIALS) -> BrokerError | BrokerAuthError:
    if is_auth_refusal(status, text):
        return auth_error(status, text, credentials)
    code: int | None = None
    message = text
    body = _body(text)
    if body is not None:
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        message = str(body.get("message", message))
    message = redact(message)
    if status == 429:
        return RateLimitedError(f"rate limit exceeded: {message}",
                                retry_after=None if response is None else retry_after(response))
    if status is None or status >= 500 or status == 408:
        return TransientBrokerError(f"HTTP {status}: {message}", status=status, code=code)
    if status == 404:
        return NotFoundError(message, status=status, code=code)
    if "client_order_id must be unique" in message:
        return DuplicateClientOrderIdError(message, status=status, code=code)
    if cancelling and status == 422:
        return NotCancelableError(message, status=status, code=code)
    if submitting:
        return OrderRejectedError(message, status=status, code=code)
    return BrokerError(f"HTTP {status}: {message}", status=status, code=code)


def retry_after(response: Response) -> float | None:
    """Seconds to wait: ``Retry-After``, else ``X-RateLimit-Reset`` (epoch seconds)."""
    header = response.headers.get("Retry-After")
    if header:
        with contextlib.suppress(ValueError):
            return max(float(header), 0.0)
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        with contextlib.suppress(ValueError):
            return max(float(reset) - time.time(), 0.0)
    return None
