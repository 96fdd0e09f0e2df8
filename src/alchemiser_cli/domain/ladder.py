"""The walk-the-book price ladder and the walk profiles.

A step at ratio ``r`` aims at ``bid + r * spread`` (buy) or ``ask - r * spread`` (sell).
Two ladders turn that into a price on Alpaca's tick grid ($0.01 at or above $1,
$0.0001 below):

- ``seed``: the original ladder: snapped toward the passive side and never beyond the
  far touch. On narrow spreads its steps collapse: on a 1-tick spread 75%, 85% and 95%
  all round down to the bid.
- ``ticks``: to the *nearest* tick (ties toward the passive side) and strictly passive,
  at most one tick inside the far touch, so no limit step ever takes liquidity. Steps
  that land on the same tick are *merged*, and the ladder says why; the walk then keeps
  the resting order (and its place in the queue) instead of cancelling it and sending
  the same price again.

After the limit steps a walk ends with a market order or, as an option, a marketable
limit capped by a price collar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import (
    CENT,
    ONE_DOLLAR,
    SUB_PENNY,
    TickRounding,
    round_to_tick,
    tick_for,
)


class LadderError(ValueError):
    pass


class LadderKind(StrEnum):
    SEED = "seed"  # ratio of the spread, snapped toward the passive side (the original)
    TICKS = "ticks"  # ratio of the spread to the nearest tick, strictly passive, merged


class FinalStep(StrEnum):
    MARKET = "market"
    MARKETABLE_LIMIT = "marketable_limit"  # a limit at the far touch plus a collar


@dataclass(frozen=True, slots=True)
class WalkProfile:
    """How one urgency walks. An empty ladder goes to the final step at once.

    ``reprice``: while a step lasts, follow the quote: when the step's price moves
    (at least ``min_dwell_seconds`` after the order was placed, at most
    ``max_reprices`` times per order), cancel, confirm and place the remainder at the
    new price. Only the ``ticks`` ladder keeps an order across steps whose price does
    not change; the ``seed`` ladder replaces its order at every step, as it always did.
    ``min_spread_ticks``: a step whose quote is narrower than this ends the limit steps
    and goes to the final step (limits inside a one-tick spread do not pay).
    """

    ratios: tuple[Decimal, ...] = (Decimal("0.75"), Decimal("0.85"), Decimal("0.95"))
    step_wait_seconds: float = 30.0
    market_wait_seconds: float = 30.0
    ladder: LadderKind = LadderKind.SEED
    reprice: bool = False
    min_dwell_seconds: float = 5.0
    max_reprices: int = 10
    final: FinalStep = FinalStep.MARKET
    collar_bps: Decimal = Decimal("50")
    min_spread_ticks: int = 1
    name: str = "custom"

    def __post_init__(self) -> None:
        validate_ratios(self.ratios)
        if self.step_wait_seconds <= 0 or self.market_wait_seconds <= 0:
            raise LadderError("walk waits must be positive")
        if self.min_dwell_seconds <= 0 or self.max_reprices < 0:
            raise LadderError("min_dwell_seconds must be positive and max_reprices >= 0")
        if not Decimal(0) < self.collar_bps <= Decimal(1000):
            raise LadderError("collar_bps must be above 0 and at most 1000")
        if self.min_spread_ticks < 1:
            raise LadderError("min_spread_ticks must be at least 1")

    @property
    def keeps_orders(self) -> bool:
        """Whether an order stays in place when the next step has the same price."""
        return self.ladder is LadderKind.TICKS

    def describe(self) -> str:
        ladder = "/".join(str(r) for r in self.ratios)
        final = "market" if self.final is FinalStep.MARKET else f"limit+{self.collar_bps}bps"
        if not ladder:
            return f"{self.name}: {final} at once"
        peg = f", repriced (dwell {self.min_dwell_seconds:g}s, max {self.max_reprices})" \
            if self.reprice else ""
        narrow = f", {final} at once below {self.min_spread_ticks} ticks" \
            if self.min_spread_ticks > 1 else ""
        return (f"{self.name}: {self.ladder} {ladder} @{self.step_wait_seconds:g}s{peg}{narrow}, "
                f"then {final}")


def validate_ratios(ratios: Sequence[Decimal]) -> None:
    previous = Decimal("-1")
    for ratio in ratios:
        if not Decimal("0") <= ratio <= Decimal("1"):
            raise LadderError(f"walk ratio {ratio} must be between 0 and 1")
        if ratio <= previous:
            raise LadderError("walk ratios must strictly increase toward the aggressive side")
        previous = ratio


_R = Decimal


_TICKS = (_R("0"), _R("0.35"), _R("0.5"))

#: Named profiles; an urgency picks one with ``profile = "..."`` and may override any key.
#: Why the defaults are what they are: bench/README.md ("Execution cost").
PROFILES: Mapping[str, WalkProfile] = {
    # the original walk: 75% -> 85% -> 95% of the spread, 30 s each, then market
    "seed": WalkProfile(name="seed"),
    # join the near touch, one step toward the mid, the mid; never at the far touch; on a
    # one-tick spread, market at once
    "ticks": WalkProfile(_TICKS, 20.0, 30.0, LadderKind.TICKS, min_spread_ticks=2,
                         name="ticks"),
    # the same ladder, three times slower
    "patient": WalkProfile(_TICKS, 60.0, 30.0, LadderKind.TICKS, min_spread_ticks=2,
                           name="patient"),
    # the ticks ladder, following the quote while each step lasts
    "pegged": WalkProfile(_TICKS, 20.0, 30.0, LadderKind.TICKS, reprice=True,
                          min_spread_ticks=2, name="pegged"),
    # rest at the midpoint (pegged), then market
    "midpoint": WalkProfile((_R("0.5"),), 30.0, 30.0, LadderKind.TICKS, reprice=True,
                            min_spread_ticks=2, name="midpoint"),
    "market": WalkProfile((), name="market"),
    "marketable": WalkProfile((), final=FinalStep.MARKETABLE_LIMIT, name="marketable"),
}


def named_profile(name: str, **overrides: object) -> WalkProfile:
    try:
        base = PROFILES[name]
    except KeyError:
        raise LadderError(f"unknown walk profile {name!r}; known: {', '.join(PROFILES)}") from None
    return replace(base, **overrides) if overrides else base  # type: ignore[arg-type]


def _check_touch(bid: Decimal, ask: Decimal) -> None:
    if bid <= 0 or ask <= 0 or bid > ask:
        raise LadderError(f"cannot price from bid {bid} / ask {ask}")


def ladder_price(side: Side, bid: Decimal, ask: Decimal, ratio: Decimal) -> Decimal:
    """The seed ladder's price for one step: on a valid tick, snapped toward the passive
    side, never beyond the far touch."""
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


def next_tick(price: Decimal) -> Decimal:
    """The smallest valid price above ``price`` (a valid tick)."""
    return price + tick_for(price)


def previous_tick(price: Decimal) -> Decimal:
    """The largest valid price below ``price`` (a valid tick above the smallest one)."""
    return price - tick_for(price - SUB_PENNY)


def spread_ticks(bid: Decimal, ask: Decimal) -> int:
    """How many ticks apart ``bid`` and ``ask`` are (the grid changes at $1)."""
    if ask <= ONE_DOLLAR or bid >= ONE_DOLLAR:
        return int((ask - bid) / tick_for(bid))
    return int((ONE_DOLLAR - bid) / SUB_PENNY) + int((ask - ONE_DOLLAR) / CENT)


def nearest_tick(price: Decimal, side: Side) -> Decimal:
    """``price`` to the nearest valid tick, ties toward the passive side of ``side``."""
    mode = ROUND_HALF_DOWN if side is Side.BUY else ROUND_HALF_UP
    if price >= ONE_DOLLAR:
        return price.quantize(CENT, rounding=mode)
    snapped = price.quantize(SUB_PENNY, rounding=mode)
    return snapped.quantize(CENT) if snapped >= ONE_DOLLAR else max(snapped, SUB_PENNY)


def tick_price(side: Side, bid: Decimal, ask: Decimal, ratio: Decimal) -> Decimal:
    """The ticks ladder's price for one step: the nearest tick to the target, kept between
    the near touch and one tick inside the far touch."""
    _check_touch(bid, ask)
    if side is Side.BUY:  # (on a locked quote, one tick below it)
        price = nearest_tick(bid + ratio * (ask - bid), side)
        return min(max(price, bid), previous_tick(ask))
    price = nearest_tick(ask - ratio * (ask - bid), side)
    return max(min(price, ask), next_tick(bid))


@dataclass(frozen=True, slots=True)
class LadderStep:
    step: int
    ratio: Decimal
    price: Decimal
    merged_with: int | None = None  # the earlier step this one shares its price with
    reason: str | None = None


def step_price(kind: LadderKind, side: Side, bid: Decimal, ask: Decimal,
               ratio: Decimal) -> Decimal:
    if kind is LadderKind.SEED:
        return ladder_price(side, bid, ask, ratio)
    return tick_price(side, bid, ask, ratio)


def build_ladder(kind: LadderKind, side: Side, bid: Decimal, ask: Decimal,
                 ratios: Sequence[Decimal]) -> tuple[LadderStep, ...]:
    """Every step's price for one quote; a step whose price equals the previous step's is
    marked merged, with the reason."""
    _check_touch(bid, ask)
    ticks = spread_ticks(bid, ask)
    steps: list[LadderStep] = []
    first_at: dict[Decimal, int] = {}
    for index, ratio in enumerate(ratios, start=1):
        price = step_price(kind, side, bid, ask, ratio)
        if price in first_at:
            if kind is LadderKind.TICKS and ticks <= 1:
                why = "the spread is 1 tick: the near touch is the only passive price"
            elif kind is LadderKind.TICKS:
                why = (f"the spread is {ticks} ticks: {ratio} of it rounds to the same tick "
                       f"as step {first_at[price]}")
            else:
                why = (f"the spread is {ticks} tick{'s' if ticks > 1 else ''}: {ratio} of it "
                       f"snaps to the same tick as step {first_at[price]}")
            steps.append(LadderStep(index, ratio, price, first_at[price], why))
        else:
            first_at[price] = index
            steps.append(LadderStep(index, ratio, price))
    return tuple(steps)


def marketable_limit_price(side: Side, bid: Decimal, ask: Decimal, collar_bps: Decimal) -> Decimal:
    """A limit through the far touch by at most ``collar_bps`` of it (snapped inside the
    collar), so it trades at once like a market order but never beyond the collar."""
    _check_touch(bid, ask)
    if side is Side.BUY:
        return max(ask, round_to_tick(ask * (1 + collar_bps / 10000), TickRounding.DOWN))
    return min(bid, round_to_tick(bid * (1 - collar_bps / 10000), TickRounding.UP))
