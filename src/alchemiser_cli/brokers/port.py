"""The one Broker port. Every adapter (simulator, Alpaca) implements it.

All methods are coroutines. REST-like calls may raise :class:`BrokerError`
subclasses; the stream-like calls (``stream_quote``, ``wait_order_update``)
return ``None`` when the stream has nothing within the timeout or is down, and
the caller falls back to REST.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from alchemiser_cli.domain.errors import ConfigError
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


class BrokerAuthError(ConfigError):
    """The broker refused our credentials (bad or revoked keys): a configuration problem.

    Deliberately *not* a :class:`BrokerError`: no ``except BrokerError`` in the core may
    turn it into a rejection, a retry or an unreachable broker. It exits 3.
    """


class BrokerError(Exception):
    """A broker call failed. ``retryable`` is true only for reads that may be repeated."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class TransientBrokerError(BrokerError):
    """429, 5xx, timeouts: a read may be retried; a submission's outcome is unknown."""

    retryable = True


class RateLimitedError(TransientBrokerError):
    def __init__(self, message: str, *, retry_after: float | None = None, status: int = 429):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class NotFoundError(BrokerError):
    pass


class OrderRejectedError(BrokerError):
    """The broker refused a submission (4xx). Nothing was placed."""


class DuplicateClientOrderIdError(OrderRejectedError):
    """The client_order_id was used before: the earlier submission exists."""


class NotCancelableError(BrokerError):
    """The order is already terminal (e.g. filled) or cannot be cancelled now."""


class Broker(Protocol):
    """What the placement core needs from a brokerage."""

    name: str

    async def get_account(self) -> Account: ...
    async def get_clock(self) -> MarketClock: ...
    async def get_asset(self, symbol: str) -> Asset: ...

    async def get_assets(self, symbols: Sequence[str]) -> dict[str, Asset]:
        """Several assets in one read; symbols the broker does not know are simply absent."""
        ...

    async def get_positions(self) -> list[Position]: ...
    async def get_position(self, symbol: str) -> Position | None: ...
    async def latest_quote(self, symbol: str) -> Quote | None: ...

    async def subscribe_quotes(self, symbols: Sequence[str]) -> bool:
        """Start streaming quotes for ``symbols``; False when the stream is unavailable."""
        ...

    async def stream_quote(self, symbol: str, timeout: float) -> Quote | None:
        """The next streamed quote for ``symbol`` newer than the last one returned."""
        ...

    async def submit_order(self, request: OrderRequest) -> Order: ...
    async def get_order(self, order_id: str) -> Order: ...
    async def get_order_by_client_id(self, client_order_id: str) -> Order | None: ...
    async def list_open_orders(self) -> list[Order]: ...
    async def cancel_order(self, order_id: str) -> None: ...

    async def trade_stream_ok(self) -> bool:
        """True while the trade-updates stream is connected and authorised."""
        ...

    async def wait_order_update(self, order_id: str, timeout: float) -> TradeUpdate | None:
        """Wait for the next trade update of ``order_id`` (None on timeout or stream loss)."""
        ...

    async def close(self) -> None: ...
