"""Pre-trade guard rails, the same for every path that sends orders.

A rebalance checks every planned trade and the run's turnover before anything is
placed; ``alch place`` checks its one order the same way (at the arrival quote);
and the placement service re-checks each order just before it walks, so no path
can send an order the guards would refuse. A refusal names the limit and places
nothing (exit 7).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from alchemiser_cli.domain.money import CENT
from alchemiser_cli.settings import GuardSettings


def order_refusal(symbol: str, notional: Decimal, guards: GuardSettings) -> str | None:
    """Why one order of ``notional`` dollars may not be sent (None: it may)."""
    if notional > guards.max_order_notional:
        return (f"{symbol}: order of ${notional.quantize(CENT)} exceeds guards.max_order_notional "
                f"${guards.max_order_notional}; nothing placed")
    return None


def turnover_refusal(notionals: Iterable[Decimal], equity: Decimal,
                     guards: GuardSettings) -> str | None:
    """Why trading ``notionals`` in total against ``equity`` may not go ahead."""
    total = sum(notionals, Decimal(0))
    if total > guards.max_turnover_fraction * equity:
        return (f"turnover ${total.quantize(CENT)} exceeds guards.max_turnover_fraction "
                f"{guards.max_turnover_fraction} of equity ${equity.quantize(CENT)}; nothing placed")
    return None
