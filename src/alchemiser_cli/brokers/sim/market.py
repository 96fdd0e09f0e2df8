"""The simulator's market model: a seeded per-symbol random walk and a fill model.

Everything is a pure function of (seed, symbol, tick index) so a run is
reproducible across processes, which the crash-and-rerun tests rely on.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import SUB_PENNY, TickRounding, round_to_tick, tick_for


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    mid: Decimal
    spread_bps: Decimal
    fractionable: bool = True
    tradable: bool = True


DEFAULT_UNIVERSE: tuple[SymbolSpec, ...] = (
    SymbolSpec("AAPL", Decimal("228.50"), Decimal("3")),
    SymbolSpec("MSFT", Decimal("415.20"), Decimal("3")),
    SymbolSpec("SPY", Decimal("590.10"), Decimal("2")),
    SymbolSpec("QQQ", Decimal("505.30"), Decimal("2")),
    SymbolSpec("GOOGL", Decimal("172.40"), Decimal("4")),
    SymbolSpec("AMZN", Decimal("201.70"), Decimal("4")),
    SymbolSpec("NVDA", Decimal("140.30"), Decimal("4")),
    SymbolSpec("TSLA", Decimal("338.80"), Decimal("5")),
    SymbolSpec("VTI", Decimal("296.40"), Decimal("3")),
    SymbolSpec("BND", Decimal("72.35"), Decimal("4")),
    SymbolSpec("GLD", Decimal("245.60"), Decimal("4")),
    SymbolSpec("TLT", Decimal("92.10"), Decimal("4")),
    SymbolSpec("IWM", Decimal("232.80"), Decimal("3")),
    SymbolSpec("XLE", Decimal("89.70"), Decimal("5"), fractionable=False),
    SymbolSpec("SNDL", Decimal("0.8421"), Decimal("60"), fractionable=False),
    SymbolSpec("DELIST", Decimal("3.10"), Decimal("50"), tradable=False),
)


def generated_symbol(index: int) -> str:
    """Names of the synthetic symbols used for large benchmarks: S0001, S0002, ..."""
    return f"S{index:04d}"


def spec_for_generated(symbol: str) -> SymbolSpec | None:
    if len(symbol) == 5 and symbol[0] == "S" and symbol[1:].isdigit() and symbol != "S0000":
        n = int(symbol[1:])
        mid = Decimal(20 + (n * 37) % 480) + Decimal(n % 100) / 100
        return SymbolSpec(symbol, mid, Decimal(2 + n % 5))
    return None


def unit_random(*parts: object) -> random.Random:
    """A Random seeded from the parts (stable across processes, unlike hash())."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


@dataclass(frozen=True, slots=True)
class FillModel:
    """Intensity of fills for a resting limit: ``base * exp(-decay * distance)``.

    ``distance`` is how far the limit sits from the far touch, in spreads (0 at
    the far touch, 1 at the near touch). ``partial_probability`` of a fill event
    fills only part of the remainder, as Alpaca paper does.
    """

    base_rate_per_second: float = 0.06
    decay: float = 3.0
    partial_probability: float = 0.1
    volatility_per_sqrt_second: float = 0.0001


def step_mid(mid: Decimal, seed: int, symbol: str, tick: int, model: FillModel, dt: float) -> Decimal:
    shock = unit_random(seed, "mid", symbol, tick).gauss(0.0, 1.0)
    factor = math.exp(model.volatility_per_sqrt_second * math.sqrt(dt) * shock)
    return max(mid * Decimal(str(round(factor, 10))), SUB_PENNY)


def touch(mid: Decimal, spread_bps: Decimal) -> tuple[Decimal, Decimal]:
    """Bid and ask on valid ticks, at least one tick apart."""
    half = mid * spread_bps / Decimal(20000)
    bid = round_to_tick(mid - half, TickRounding.DOWN)
    ask = round_to_tick(mid + half, TickRounding.UP)
    if ask <= bid:
        ask = round_to_tick(bid + tick_for(bid), TickRounding.UP)
    return bid, ask


def limit_fill_probability(
    side: Side, limit: Decimal, bid: Decimal, ask: Decimal, model: FillModel, dt: float
) -> float:
    """Probability that a resting limit gets (some) fill within ``dt`` seconds."""
    spread = ask - bid
    if side is Side.BUY:
        if limit >= ask:
            return 1.0
        if limit < bid:
            return 0.0
        distance = float((ask - limit) / spread) if spread > 0 else 0.0
    else:
        if limit <= bid:
            return 1.0
        if limit > ask:
            return 0.0
        distance = float((limit - bid) / spread) if spread > 0 else 0.0
    rate = model.base_rate_per_second * math.exp(-model.decay * distance)
    return 1.0 - math.exp(-rate * dt)
