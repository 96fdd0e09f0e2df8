"""The simulator's market model: liquidity classes, the tick grid, an efficient price
and the public quotes around it.

Each symbol has an *efficient price* (a geometric random walk whose volatility depends
on its liquidity class) and a public quote that sits on the tick grid around it: the
spread, in ticks, is drawn per spread regime from the class's distribution, and the
quote only moves when the efficient price leaves the band of prices that quote
covers. How orders interact with this market (contra flow, queues, adverse selection,
price improvement) is in :mod:`alchemiser_cli.brokers.sim.matching`.

Every random number is a pure function of (seed, purpose, key, tick index), drawn
with :class:`Draws`, so a path does not depend on when, or how often, it is looked
at: every strategy in the benchmark sees the same market until its own fills move it.
The default parameters and their sources are in ``bench/README.md`` ("The market
model"); every one of them can be set under ``[sim.market.<class>]`` in the config.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from alchemiser_cli.domain.money import CENT, ONE_DOLLAR, SUB_PENNY, TickRounding, round_to_tick

#: Tick indexes count from here, so they are positive whatever the clock says.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_TWO_PI = 2 * math.pi
_U53 = 1.0 / (1 << 53)


class LiquidityClass(StrEnum):
    MEGA = "mega"  # mega caps and the big ETFs: a one-tick spread most of the time
    MID = "mid"  # mid caps: a few ticks
    SMALL = "small"  # small caps and sub-dollar stocks: tens of basis points


@dataclass(frozen=True, slots=True)
class ClassParams:
    """Everything the model needs for one liquidity class (sources: bench/README.md)."""

    #: Volatility of the efficient price, in basis points per square root of a second.
    volatility_bps_per_sqrt_second: float
    #: Spread distribution in ticks: ((ticks, weight), ...). Ignored when spread_bps is set.
    spread_ticks: tuple[tuple[int, float], ...] = ((1, 1.0),)
    #: Spread as a uniform range of basis points (small caps), converted to whole ticks.
    spread_bps: tuple[float, float] | None = None
    #: How long one draw of the spread lasts.
    spread_regime_seconds: float = 10.0
    #: Marketable orders arriving on each side of the book, per second (Poisson).
    contra_rate_per_second: float = 1.0
    #: Mean size of one such order in shares (exponentially distributed, at least 1).
    contra_size_mean: float = 100.0
    #: Share of the efficient price's variance that comes from that order flow (buys push
    #: it up, sells down); the rest is news unrelated to trades.
    flow_variance_share: float = 0.5
    #: Shares already resting at the touch when an order joins it (uniform range).
    queue_depth: tuple[float, float] = (500.0, 3000.0)
    #: Rate at which orders ahead in the queue cancel (per second, per share).
    queue_cancel_rate_per_second: float = 0.05
    #: How far the efficient price moves against a passive fill, in half-spreads.
    adverse_selection_half_spreads: float = 0.75
    #: Effective over quoted spread of a market order of at least one share (1 = the far
    #: touch, 0 = the mid). Orders under one share always get 1.
    market_eq: float = 0.4
    #: Rate at which someone improves on an order that is alone inside the spread.
    penny_jump_rate_per_second: float = 0.2

    def __post_init__(self) -> None:
        if self.volatility_bps_per_sqrt_second < 0 or self.contra_rate_per_second < 0:
            raise ValueError("volatility and contra rate must not be negative")
        if not 0 <= self.market_eq <= 1 or not 0 <= self.flow_variance_share <= 1:
            raise ValueError("market_eq and flow_variance_share must be between 0 and 1")
        if self.spread_bps is None and (
                not self.spread_ticks or any(t < 1 or w < 0 for t, w in self.spread_ticks)):
            raise ValueError("spread_ticks needs (ticks >= 1, weight >= 0) pairs")
        if self.spread_bps is not None and not 0 < self.spread_bps[0] <= self.spread_bps[1]:
            raise ValueError("spread_bps must be a range (low, high) with 0 < low <= high")
        if self.queue_depth[0] < 0 or self.queue_depth[0] > self.queue_depth[1]:
            raise ValueError("queue_depth must be a range (low, high) with 0 <= low <= high")
        if self.spread_regime_seconds <= 0 or self.contra_size_mean <= 0:
            raise ValueError("spread_regime_seconds and contra_size_mean must be positive")


DEFAULT_CLASSES: Mapping[LiquidityClass, ClassParams] = {
    LiquidityClass.MEGA: ClassParams(
        volatility_bps_per_sqrt_second=0.8, spread_ticks=((1, 0.9), (2, 0.1)),
        contra_rate_per_second=5.0, queue_depth=(500.0, 3000.0), market_eq=0.4,
        flow_variance_share=0.4, penny_jump_rate_per_second=0.5),
    LiquidityClass.MID: ClassParams(
        volatility_bps_per_sqrt_second=1.5, spread_ticks=((2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0)),
        contra_rate_per_second=0.5, queue_depth=(100.0, 800.0), market_eq=0.4,
        flow_variance_share=0.5, penny_jump_rate_per_second=0.1),
    LiquidityClass.SMALL: ClassParams(
        volatility_bps_per_sqrt_second=3.0, spread_bps=(20.0, 100.0),
        contra_rate_per_second=0.05, queue_depth=(100.0, 500.0), market_eq=0.5,
        flow_variance_share=0.6, penny_jump_rate_per_second=0.02),
}


@dataclass(frozen=True, slots=True)
class MarketModel:
    """The parameters of every liquidity class."""

    classes: Mapping[LiquidityClass, ClassParams] = field(
        default_factory=lambda: dict(DEFAULT_CLASSES))

    def params(self, liquidity: LiquidityClass) -> ClassParams:
        return self.classes[liquidity]

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Mapping[str, object]]) -> MarketModel:
        """The default model with some parameters of some classes replaced (the config's
        ``[sim.market.<class>]`` tables)."""
        classes = dict(DEFAULT_CLASSES)
        for name, values in overrides.items():
            liquidity = LiquidityClass(name)
            classes[liquidity] = replace(classes[liquidity], **values)  # type: ignore[arg-type]
        return cls(classes)

    def with_market_eq(self, eq: float) -> MarketModel:
        """The same market with every class's market-order E/Q set to ``eq``."""
        return MarketModel({c: replace(p, market_eq=eq) for c, p in self.classes.items()})


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    price: Decimal  # where the efficient price starts
    liquidity: LiquidityClass = LiquidityClass.MEGA
    fractionable: bool = True
    tradable: bool = True


_MEGA, _MID, _SMALL = LiquidityClass.MEGA, LiquidityClass.MID, LiquidityClass.SMALL

DEFAULT_UNIVERSE: tuple[SymbolSpec, ...] = (
    SymbolSpec("AAPL", Decimal("228.50")),
    SymbolSpec("MSFT", Decimal("415.20")),
    SymbolSpec("SPY", Decimal("590.10")),
    SymbolSpec("QQQ", Decimal("505.30")),
    SymbolSpec("GOOGL", Decimal("172.40")),
    SymbolSpec("AMZN", Decimal("201.70")),
    SymbolSpec("NVDA", Decimal("140.30")),
    SymbolSpec("TSLA", Decimal("338.80")),
    SymbolSpec("VTI", Decimal("296.40")),
    SymbolSpec("BND", Decimal("72.35")),
    SymbolSpec("GLD", Decimal("245.60")),
    SymbolSpec("TLT", Decimal("92.10")),
    SymbolSpec("IWM", Decimal("232.80")),
    SymbolSpec("XLE", Decimal("89.70"), fractionable=False),
    # synthetic mid and small caps, so every liquidity class can be traded
    SymbolSpec("MIDA", Decimal("42.15"), _MID),
    SymbolSpec("MIDB", Decimal("118.60"), _MID),
    SymbolSpec("MIDC", Decimal("67.30"), _MID, fractionable=False),
    SymbolSpec("SMLA", Decimal("6.40"), _SMALL),
    SymbolSpec("SMLB", Decimal("17.85"), _SMALL, fractionable=False),
    SymbolSpec("SNDL", Decimal("0.8421"), _SMALL, fractionable=False),
    SymbolSpec("DELIST", Decimal("3.10"), _SMALL, tradable=False),
)


def symbols_of(liquidity: LiquidityClass) -> tuple[str, ...]:
    """The tradable symbols of the default universe in one liquidity class."""
    return tuple(s.symbol for s in DEFAULT_UNIVERSE if s.liquidity is liquidity and s.tradable)


def generated_symbol(index: int) -> str:
    """Names of the synthetic symbols used for large benchmarks: S0001, S0002, ..."""
    return f"S{index:04d}"


def spec_for_generated(symbol: str) -> SymbolSpec | None:
    if len(symbol) == 5 and symbol[0] == "S" and symbol[1:].isdigit() and symbol != "S0000":
        n = int(symbol[1:])
        price = Decimal(20 + (n * 37) % 480) + Decimal(n % 100) / 100
        liquidity = (_MEGA, _MEGA, _MID, _SMALL)[n % 4]
        return SymbolSpec(symbol, price, liquidity)
    return None


class Draws:
    """Deterministic random numbers for one key: blake2b in counter mode.

    Stable across processes (unlike ``hash()``) and about ten times cheaper than
    seeding a ``random.Random`` per key, which matters at one key per symbol and tick.
    """

    __slots__ = ("_block", "_key", "_pool")

    def __init__(self, *parts: object) -> None:
        self._key = ":".join(map(str, parts)).encode()
        self._block = 0
        self._pool: list[int] = []

    def random(self) -> float:
        """Uniform on [0, 1)."""
        if not self._pool:
            digest = hashlib.blake2b(self._key + b"#%d" % self._block, digest_size=64).digest()
            self._block += 1
            self._pool = list(struct.unpack(">8Q", digest))
        return (self._pool.pop() >> 11) * _U53

    def gauss(self) -> float:
        """Standard normal (Box-Muller)."""
        u1 = 1.0 - self.random()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * self.random())

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.random())

    def poisson(self, lam: float) -> int:
        """Poisson by inversion of its distribution function: one uniform per draw."""
        if lam <= 0:
            return 0
        if lam > 30:  # normal approximation; only reached after long gaps between ticks
            return max(0, round(lam + math.sqrt(lam) * self.gauss()))
        u = self.random()
        k, p = 0, math.exp(-lam)
        cdf = p
        while u > cdf and p > 0:
            k += 1
            p *= lam / k
            cdf += p
        return k

    def volume(self, count: int, mean: float) -> float:
        """Total size of ``count`` orders of exponential size with this mean."""
        if count <= 0:
            return 0.0
        if count > 30:
            return max(0.0, count * mean + math.sqrt(count) * mean * self.gauss())
        return sum(max(1.0, math.ceil(self.exponential(mean))) for _ in range(count))


def tick_index(now: datetime, tick_seconds: float) -> int:
    return int((now - EPOCH).total_seconds() / tick_seconds)


@dataclass(frozen=True, slots=True)
class Touch:
    """The public best bid and offer (without our own orders), on the tick grid."""

    bid: Decimal
    ask: Decimal
    bid_size: float  # shares displayed at the touch
    ask_size: float
    ticks: int  # spread in ticks

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid

    def far(self, buy: bool) -> Decimal:
        return self.ask if buy else self.bid

    def near(self, buy: bool) -> Decimal:
        return self.bid if buy else self.ask


@dataclass(slots=True)
class SymbolMarket:
    """The mutable state of one symbol: its efficient price as of tick ``tick``, where it
    was one tick before (for fills between two ticks) and the marketable volume that
    arrived on each side since (it fills resting orders on the other side)."""

    price: float
    tick: int
    previous: float
    buy_flow: float = 0.0
    sell_flow: float = 0.0

    def to_json(self) -> list[object]:
        return [repr(self.price), self.tick, repr(self.previous)]

    @classmethod
    def from_json(cls, raw: list[object]) -> SymbolMarket:
        price = float(str(raw[0]))
        return cls(price, int(str(raw[1])), float(str(raw[2])) if len(raw) > 2 else price)


#: A symbol not looked at for longer than this many ticks (30 s of 0.5 s ticks: it has
#: no open order) is advanced in one step of the same variance, so that reading idle
#: symbols (positions, the account) costs O(1) instead of O(time idle).
MAX_CATCHUP_TICKS = 60
_MIN_PRICE = 0.01


class Market:
    """The efficient price and public quotes of every symbol in use, advanced lazily.

    A symbol starts at its spec price the first time it is looked at and then moves one
    random step per tick; looking at it more or less often does not change its path.
    """

    def __init__(self, model: MarketModel, seed: int, tick_seconds: float,
                 states: dict[str, SymbolMarket]) -> None:
        self.model = model
        self.seed = seed
        self.tick_seconds = tick_seconds
        self.states = states  # persisted with the simulator state at close
        self._touch_cache: dict[str, tuple[int, Touch]] = {}

    def state(self, spec: SymbolSpec, tick: int) -> SymbolMarket:
        """The symbol's state advanced to ``tick``."""
        st = self.states.get(spec.symbol)
        if st is None:
            st = self.states[spec.symbol] = SymbolMarket(float(spec.price), tick,
                                                         float(spec.price))
            return st
        gap = tick - st.tick
        if gap <= 0:
            return st
        params = self.model.params(spec.liquidity)
        sigma = params.volatility_bps_per_sqrt_second * 1e-4
        dt = self.tick_seconds
        if gap > MAX_CATCHUP_TICKS:  # idle: one step, and no flow to match against
            shock = Draws(self.seed, "v", spec.symbol, tick).gauss()
            st.previous = st.price
            st.price *= math.exp(sigma * math.sqrt(dt * gap) * shock)
            st.buy_flow = st.sell_flow = 0.0
        else:
            rate, size = params.contra_rate_per_second * dt, params.contra_size_mean
            share = params.flow_variance_share if rate > 0 else 0.0
            news = sigma * math.sqrt(dt * (1 - share))
            # impact per share of net flow, so that flow contributes `share` of the variance
            # (Var(buys - sells) per tick = 4 * rate * size^2 for exponential sizes)
            impact = sigma * math.sqrt(share * dt / (4 * rate)) / size if share else 0.0
            price, previous, symbol, seed = st.price, st.price, spec.symbol, self.seed
            bought = sold = 0.0
            for t in range(st.tick + 1, tick + 1):
                d = Draws(seed, "v", symbol, t)
                buys = d.volume(d.poisson(rate), size) if rate > 0 else 0.0
                sells = d.volume(d.poisson(rate), size) if rate > 0 else 0.0
                previous = price
                price = max(price * math.exp(news * d.gauss() + impact * (buys - sells)),
                            _MIN_PRICE)
                bought += buys
                sold += sells
            st.price, st.previous, st.buy_flow, st.sell_flow = price, previous, bought, sold
        st.price = max(st.price, _MIN_PRICE)
        st.tick = tick
        return st

    def touch(self, spec: SymbolSpec, tick: int) -> Touch:
        """The public quote at ``tick`` (cached per tick)."""
        cached = self._touch_cache.get(spec.symbol)
        st = self.state(spec, tick)
        if cached is not None and cached[0] == tick:
            return cached[1]
        result = self._band(spec, st.price, tick)
        self._touch_cache[spec.symbol] = (tick, result)
        return result

    def shift(self, spec: SymbolSpec, tick: int, amount: float) -> None:
        """Move the efficient price (adverse selection after a passive fill)."""
        st = self.state(spec, tick)
        st.price = max(st.price + amount, _MIN_PRICE)
        self._touch_cache.pop(spec.symbol, None)

    def spread_ticks(self, spec: SymbolSpec, price: float, tick: int) -> int:
        params = self.model.params(spec.liquidity)
        regime = int(tick * self.tick_seconds / params.spread_regime_seconds)
        u = Draws(self.seed, "spread", spec.symbol, regime).random()
        if params.spread_bps is not None:
            low, high = params.spread_bps
            width = price * (low + (high - low) * u) * 1e-4
            return max(1, round(width / _tick_of(price)))
        total = sum(w for _, w in params.spread_ticks)
        acc = 0.0
        for ticks, weight in params.spread_ticks:
            acc += weight / total
            if u < acc:
                return ticks
        return params.spread_ticks[-1][0]

    def _band(self, spec: SymbolSpec, price: float, tick: int) -> Touch:
        """Bid and ask ``n`` ticks apart with the efficient price within half a tick of mid."""
        n = self.spread_ticks(spec, price, tick)
        step = _tick_of(price)
        low = math.floor(price / step - n / 2 + 0.5)
        tick_dec = CENT if step == 0.01 else SUB_PENNY
        bid = Decimal(low) * tick_dec
        ask = Decimal(low + n) * tick_dec
        if bid <= 0:
            bid, ask = tick_dec, tick_dec * (n + 1)
        if ask >= ONE_DOLLAR and tick_dec == SUB_PENNY:
            ask = ask.quantize(CENT, rounding=ROUND_CEILING)  # the cent grid from $1 up
        if bid >= ONE_DOLLAR:
            bid = bid.quantize(CENT, rounding=ROUND_FLOOR)
        params = self.model.params(spec.liquidity)
        d = Draws(self.seed, "depth", spec.symbol, tick)
        low_d, high_d = params.queue_depth
        return Touch(bid, ask, low_d + (high_d - low_d) * d.random(),
                     low_d + (high_d - low_d) * d.random(), n)


def _tick_of(price: float) -> float:
    return 0.01 if price >= 1.0 else 0.0001


def wide_touch(mid: Decimal, spread_bps: Decimal) -> tuple[Decimal, Decimal]:
    """A deliberately wide quote around ``mid`` (the ``wide`` quote fault)."""
    half = mid * spread_bps / Decimal(20000)
    return round_to_tick(mid - half, TickRounding.DOWN), round_to_tick(mid + half, TickRounding.UP)
