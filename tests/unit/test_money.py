from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from alchemiser_cli.domain.money import (
    TickRounding,
    is_valid_tick,
    parse_decimal,
    quantize_qty,
    round_to_tick,
    tick_for,
)

prices = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("100000"), places=6)


def test_tick_is_a_cent_at_or_above_one_dollar_and_sub_penny_below():
    assert tick_for(Decimal("1")) == Decimal("0.01")
    assert tick_for(Decimal("0.9999")) == Decimal("0.0001")


def test_round_to_tick_examples():
    assert round_to_tick(Decimal("290.123"), TickRounding.DOWN) == Decimal("290.12")
    assert round_to_tick(Decimal("290.121"), TickRounding.UP) == Decimal("290.13")
    assert round_to_tick(Decimal("0.84213"), TickRounding.DOWN) == Decimal("0.8421")
    assert round_to_tick(Decimal("0.99996"), TickRounding.UP) == Decimal("1.00")
    assert round_to_tick(Decimal("-3")) == Decimal("0.0001")


@given(prices, st.sampled_from(list(TickRounding)))
def test_rounded_prices_are_always_valid_ticks(price, rounding):
    assert is_valid_tick(round_to_tick(price, rounding))


@given(prices)
def test_down_never_rises_and_up_never_falls(price):
    assert round_to_tick(price, TickRounding.DOWN) <= max(price, Decimal("0.0001"))
    assert round_to_tick(price, TickRounding.UP) >= price


@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("1e6"), places=12), st.booleans())
def test_quantize_qty_rounds_down_to_the_allowed_step(qty, fractionable):
    q = quantize_qty(qty, fractionable)
    assert Decimal(0) <= q <= qty
    if not fractionable:
        assert q == q.to_integral_value()


def test_parse_decimal_rejects_non_numbers_and_keeps_float_text():
    assert parse_decimal(0.1, "x") == Decimal("0.1")
    for bad in ("abc", "nan", "inf", True, None):
        try:
            parse_decimal(bad, "x")
        except ValueError as exc:
            assert str(exc).startswith("x:")
        else:
            raise AssertionError(f"{bad!r} accepted")
