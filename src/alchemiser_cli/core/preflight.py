"""Pre-trade checks shared by every command that places orders (fail closed)."""

from __future__ import annotations

from alchemiser_cli.brokers.port import Broker, BrokerError
from alchemiser_cli.domain.errors import BrokerUnavailableError, MarketClosedError, RefusedError
from alchemiser_cli.domain.orders import Account


async def require_tradable_session(broker: Broker) -> Account:
    """The account is active and not blocked, and the market is open."""
    try:
        account = await broker.get_account()
        clock = await broker.get_clock()
    except BrokerError as exc:
        raise BrokerUnavailableError(f"cannot reach the broker: {exc}") from exc
    if not account.active:
        raise RefusedError(
            f"account is not active or trading is blocked (status {account.status}); "
            "nothing placed")
    if not clock.is_open:
        raise MarketClosedError(
            f"the market is closed (next open {clock.next_open:%Y-%m-%d %H:%M %Z}); nothing placed")
    return account
