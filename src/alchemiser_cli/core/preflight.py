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
        raise RefusedError(f"{blocked_reason(account)}; nothing placed")
    if not clock.is_open:
        raise MarketClosedError(
            f"the market is closed (next open {clock.next_open:%Y-%m-%d %H:%M %Z}); nothing placed")
    return account


def blocked_reason(account: Account) -> str:
    """Why an account may not trade, in the account's own terms."""
    reasons = []
    if account.status.upper() != "ACTIVE":
        reasons.append(f"the account's status is {account.status}, not ACTIVE")
    if account.account_blocked:
        reasons.append("the account is blocked")
    if account.trading_blocked:
        reasons.append("trading is blocked on the account")
    return "; ".join(reasons) or "the account cannot trade"
