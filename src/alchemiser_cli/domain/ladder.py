"""The walk-the-book price ladder.

A buy is priced at ``bid + r * spread`` and a sell at ``ask - r * spread``; the
ratios climb toward the aggressive side (default 0.75, 0.85, 0.95) and the walk
ends with a market order. Prices are snapped to a valid tick *toward the passive
side*, so a limit never crosses the far touch before the market step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import TickRounding, round_to_tick


class LadderError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WalkProfile:
    """Ratios and waits of one urgency. An empty ladder means market at once."""

    ratios: tuple[Decimal, ...] = (Decimal("0.75"), Decimal("0.85"), Decimal("0.95"))
    step_wait_seconds: float = 30.0
    market_wait_seconds: float = 30.0

    def __post_init__(self) -> None:
        validate_ratios(self.ratios)
        if self.step_wait_seconds <= 0 or self.market_wait_seconds <= 0:
            raise LadderError("walk waits must be positive")


def validate_ratios(ratios: Sequence[Decimal]) -> None:
    previous = Decimal("-1")
    for ratio in ratios:
        if not Decimal("0") <= ratio <= Decimal("1"):
            raise LadderError(f"walk ratio {ratio} must be between 0 and 1")
        if ratio <= previous:
            raise LadderError("walk ratios must strictly increase toward the aggressive side")
        previous = ratio


def ladder_price(side: Side, bid: Decimal, ask: Decimal, ratio: Decimal) -> Decimal:
    """Limit price for one step; on a valid tick and never beyond the far touch."""
    if bid <= 0 or ask <= 0 or bid > ask:
        raise LadderError(f"cannot price from bid {bid} / ask {ask}")
    spread = ask - bid
    if side is Side.BUY:
        raw = bid + ratio * spread
        price = round_to_tick(raw, TickRounding.DOWN)
        return min(price, round_to_tick(ask, TickRounding.DOWN))
    raw = ask - ratio * spread
    price = round_to_tick(raw, TickRounding.UP)
    return max(price, round_to_tick(bid, TickRounding.UP))
