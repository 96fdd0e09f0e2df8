from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.ladder import LadderError, WalkProfile, ladder_price
from alchemiser_cli.domain.money import TickRounding, is_valid_tick, round_to_tick

RATIOS = (Decimal("0.75"), Decimal("0.85"), Decimal("0.95"))


@st.composite
def touches(draw):
    bid = round_to_tick(draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"),
                                         places=4)), TickRounding.DOWN)
    width = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("0.05"), places=4))
    ask = round_to_tick(bid * (1 + width), TickRounding.UP)
    assume(ask >= bid)
    return bid, ask


def test_buy_ladder_on_a_ten_cent_spread():
    prices = [ladder_price(Side.BUY, Decimal("100.00"), Decimal("100.10"), r) for r in RATIOS]
    assert prices == [Decimal("100.07"), Decimal("100.08"), Decimal("100.09")]


def test_sell_ladder_on_a_ten_cent_spread():
    prices = [ladder_price(Side.SELL, Decimal("100.00"), Decimal("100.10"), r) for r in RATIOS]
    assert prices == [Decimal("100.03"), Decimal("100.02"), Decimal("100.01")]


def test_sub_dollar_prices_use_the_fine_tick():
    assert ladder_price(Side.BUY, Decimal("0.8395"), Decimal("0.8447"), Decimal("0.75")) == \
        Decimal("0.8434")


@given(touches(), st.sampled_from(list(Side)))
def test_prices_are_valid_ticks_inside_the_touch_and_monotone(touch, side):
    bid, ask = touch
    prices = [ladder_price(side, bid, ask, r) for r in RATIOS]
    for p in prices:
        assert is_valid_tick(p)
        assert bid <= p <= ask  # never beyond the far touch before the market step
    ordered = prices if side is Side.BUY else list(reversed(prices))
    assert ordered == sorted(ordered)  # monotone toward the aggressive side


def test_bad_quotes_and_profiles_are_refused():
    with pytest.raises(LadderError):
        ladder_price(Side.BUY, Decimal("10"), Decimal("9"), Decimal("0.5"))
    with pytest.raises(LadderError):
        WalkProfile(ratios=(Decimal("0.9"), Decimal("0.8")))
    with pytest.raises(LadderError):
        WalkProfile(ratios=(Decimal("1.2"),))
