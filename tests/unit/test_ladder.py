"""The price ladders, checked against an oracle that enumerates the tick grid.

The oracle never rounds: it lists every valid price between the bid and the ask and
picks from that list, so a ladder that rounds the wrong way (or off the grid) fails.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.ladder import (
    PROFILES,
    LadderError,
    LadderKind,
    WalkProfile,
    build_ladder,
    ladder_price,
    marketable_limit_price,
    named_profile,
    spread_ticks,
    tick_price,
)
from alchemiser_cli.domain.money import is_valid_tick

SEED_RATIOS = (Decimal("0.75"), Decimal("0.85"), Decimal("0.95"))
TICKS_RATIOS = PROFILES["ticks"].ratios
ONE = Decimal(1)


def grid(bid: Decimal, ticks: int) -> list[Decimal]:
    """bid, then each next valid price, ``ticks`` times: $0.0001 steps below $1, $0.01 above."""
    prices = [bid]
    for _ in range(ticks):
        p = prices[-1]
        prices.append(p + (Decimal("0.01") if p >= ONE else Decimal("0.0001")))
    return prices


@st.composite
def touches(draw):
    """A bid below or above $1 (some spreads straddle it) and a spread of 1 to 500 ticks."""
    if draw(st.booleans()):
        bid = Decimal(draw(st.integers(1, 9999))) / 10000  # below $1
    else:
        bid = Decimal(draw(st.integers(100, 500000))) / 100  # $1 to $5,000
    ticks = draw(st.integers(1, 500))
    prices = grid(bid, ticks)
    return bid, prices[-1], prices


def test_buy_ladder_on_a_ten_cent_spread():
    prices = [ladder_price(Side.BUY, Decimal("100.00"), Decimal("100.10"), r) for r in SEED_RATIOS]
    assert prices == [Decimal("100.07"), Decimal("100.08"), Decimal("100.09")]


def test_sell_ladder_on_a_ten_cent_spread():
    prices = [ladder_price(Side.SELL, Decimal("100.00"), Decimal("100.10"), r) for r in SEED_RATIOS]
    assert prices == [Decimal("100.03"), Decimal("100.02"), Decimal("100.01")]


def test_sub_dollar_prices_use_the_fine_tick():
    assert ladder_price(Side.BUY, Decimal("0.8395"), Decimal("0.8447"), Decimal("0.75")) == \
        Decimal("0.8434")


def test_on_a_one_cent_spread_the_seed_ladder_collapses_onto_the_near_touch():
    # 75%, 85% and 95% of one cent all round toward the passive side: the bid (buy), the ask
    # (sell). This is what the seed profile does on most large caps.
    bid, ask = Decimal("228.51"), Decimal("228.52")
    steps = build_ladder(LadderKind.SEED, Side.BUY, bid, ask, SEED_RATIOS)
    assert [s.price for s in steps] == [bid, bid, bid]
    assert [s.merged_with for s in steps] == [None, 1, 1]
    assert "1 tick" in (steps[1].reason or "")
    assert [s.price for s in build_ladder(LadderKind.SEED, Side.SELL, bid, ask, SEED_RATIOS)] \
        == [ask, ask, ask]


def test_the_ticks_ladder_on_one_two_and_five_cent_spreads():
    bid = Decimal("50.00")
    one = build_ladder(LadderKind.TICKS, Side.BUY, bid, Decimal("50.01"), TICKS_RATIOS)
    assert [s.price for s in one] == [bid] * 3
    assert one[1].reason == "the spread is 1 tick: the near touch is the only passive price"
    two = build_ladder(LadderKind.TICKS, Side.BUY, bid, Decimal("50.02"), TICKS_RATIOS)
    assert [(s.price, s.merged_with) for s in two] == [
        (bid, None), (Decimal("50.01"), None), (Decimal("50.01"), 2)]
    five = build_ladder(LadderKind.TICKS, Side.SELL, bid, Decimal("50.05"), TICKS_RATIOS)
    # sell: ask, ask - 0.35 * 5 = 50.0325 -> 50.03, ask - 0.5 * 5 = 50.025 -> tie, passive 50.03
    assert [(s.price, s.merged_with) for s in five] == [
        (Decimal("50.05"), None), (Decimal("50.03"), None), (Decimal("50.03"), 2)]


def oracle_seed(side: Side, bid: Decimal, ask: Decimal, prices: list[Decimal],
                ratio: Decimal) -> Decimal:
    if side is Side.BUY:
        target = bid + ratio * (ask - bid)
        return max(p for p in prices if p <= target)
    target = ask - ratio * (ask - bid)
    return min(p for p in prices if p >= target)


def oracle_ticks(side: Side, bid: Decimal, ask: Decimal, prices: list[Decimal],
                 ratio: Decimal) -> Decimal:
    """Nearest allowed price (near touch .. one tick inside the far touch), ties passive."""
    allowed = prices[:-1] if side is Side.BUY else prices[1:]
    target = bid + ratio * (ask - bid) if side is Side.BUY else ask - ratio * (ask - bid)
    passive = (lambda p: p) if side is Side.BUY else (lambda p: -p)
    return min(allowed, key=lambda p: (abs(p - target), passive(p)))


@settings(max_examples=300, deadline=None)
@given(touches(), st.sampled_from(list(Side)))
def test_seed_ladder_snaps_to_the_passive_tick_and_never_passes_the_far_touch(touch, side):
    bid, ask, prices = touch
    for ratio in SEED_RATIOS:
        price = ladder_price(side, bid, ask, ratio)
        assert is_valid_tick(price)
        assert price == oracle_seed(side, bid, ask, prices, ratio)
        assert bid <= price <= ask


@settings(max_examples=300, deadline=None)
@given(touches(), st.sampled_from(list(Side)),
       st.lists(st.decimals(min_value=0, max_value=1, places=3), min_size=1, max_size=6,
                unique=True).map(sorted))
def test_ticks_ladder_steps_are_distinct_valid_passive_ticks_or_say_why_they_merge(
        touch, side, ratios):
    bid, ask, prices = touch
    assert spread_ticks(bid, ask) == len(prices) - 1
    steps = build_ladder(LadderKind.TICKS, side, bid, ask, ratios)
    seen: dict[Decimal, int] = {}
    previous: Decimal | None = None
    for step in steps:
        assert is_valid_tick(step.price)
        assert step.price == oracle_ticks(side, bid, ask, prices, step.ratio)
        # strictly passive: never at or through the far touch before the final step
        assert (bid <= step.price < ask) if side is Side.BUY else (bid < step.price <= ask)
        if step.price in seen:
            assert step.merged_with == seen[step.price] and step.reason
        else:
            assert step.merged_with is None and step.reason is None
            if previous is not None:  # distinct steps climb toward the aggressive side
                assert step.price > previous if side is Side.BUY else step.price < previous
            seen[step.price] = step.step
            previous = step.price
    # with enough room every step gets its own tick
    if len(prices) - 1 >= 4 * len(ratios) + 4 and min(
            b - a for a, b in zip([Decimal(-1), *ratios], ratios, strict=False)) >= Decimal("0.25"):
        assert all(s.merged_with is None for s in steps)


def test_a_locked_quote_prices_one_tick_on_the_passive_side():
    assert tick_price(Side.BUY, Decimal("10.00"), Decimal("10.00"), Decimal("0.5")) == \
        Decimal("9.99")
    assert tick_price(Side.SELL, Decimal("0.5000"), Decimal("0.5000"), Decimal("0")) == \
        Decimal("0.5001")


def test_the_marketable_limit_stays_inside_its_collar():
    assert marketable_limit_price(Side.BUY, Decimal("99.99"), Decimal("100.00"),
                                  Decimal("50")) == Decimal("100.50")
    assert marketable_limit_price(Side.SELL, Decimal("100.00"), Decimal("100.01"),
                                  Decimal("25")) == Decimal("99.75")
    # 10 bps of $0.50 is $0.0005: sub-dollar prices keep their fine tick
    assert marketable_limit_price(Side.BUY, Decimal("0.4999"), Decimal("0.5000"),
                                  Decimal("10")) == Decimal("0.5005")


def test_bad_quotes_and_profiles_are_refused():
    with pytest.raises(LadderError):
        ladder_price(Side.BUY, Decimal("10"), Decimal("9"), Decimal("0.5"))
    with pytest.raises(LadderError):
        tick_price(Side.BUY, Decimal("10"), Decimal("9"), Decimal("0.5"))
    with pytest.raises(LadderError):
        WalkProfile(ratios=(Decimal("0.9"), Decimal("0.8")))
    with pytest.raises(LadderError):
        WalkProfile(ratios=(Decimal("1.2"),))
    with pytest.raises(LadderError, match="unknown walk profile"):
        named_profile("fastest")
    with pytest.raises(LadderError, match="min_spread_ticks"):
        WalkProfile(min_spread_ticks=0)


def test_the_seed_profile_is_the_original_walk():
    seed = PROFILES["seed"]
    assert seed.ratios == SEED_RATIOS and seed.ladder is LadderKind.SEED
    assert (seed.step_wait_seconds, seed.market_wait_seconds) == (30.0, 30.0)
    assert not seed.reprice and seed.min_spread_ticks == 1 and not seed.keeps_orders
