from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from alchemiser_cli.domain.money import (
    TickRounding,
    bps,
    is_valid_tick,
    normalize,
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


def test_a_price_reaching_one_dollar_is_written_on_the_cent_grid():
    # the wire text matters: "1.0000" is a sub-penny price string for a $1 stock
    assert str(round_to_tick(Decimal("0.99996"), TickRounding.UP)) == "1.00"
    assert str(round_to_tick(Decimal("0.99995"))) == "1.00"
    assert str(round_to_tick(Decimal("1"), TickRounding.DOWN)) == "1.00"
    assert str(round_to_tick(Decimal("0.99994"))) == "0.9999"


def test_round_to_tick_nearest_and_the_smallest_tick():
    assert round_to_tick(Decimal("290.125")) == Decimal("290.12")  # half to even
    assert round_to_tick(Decimal("290.135")) == Decimal("290.14")
    assert round_to_tick(Decimal("0")) == Decimal("0.0001")
    assert round_to_tick(Decimal("0.00001"), TickRounding.DOWN) == Decimal("0.0001")


def test_only_positive_prices_on_the_grid_are_valid_ticks():
    assert is_valid_tick(Decimal("0")) is False
    assert is_valid_tick(Decimal("-1.00")) is False
    assert is_valid_tick(Decimal("1.00")) and is_valid_tick(Decimal("0.9999"))
    assert not is_valid_tick(Decimal("1.001")) and not is_valid_tick(Decimal("0.99995"))


def test_quantities_round_down_to_whole_or_nine_decimal_shares():
    assert str(quantize_qty(Decimal("0"), True)) == "0"
    assert quantize_qty(Decimal("-2"), False) == 0
    assert quantize_qty(Decimal("2.9999999999"), True) == Decimal("2.999999999")
    assert quantize_qty(Decimal("2.99"), False) == Decimal("2")
    assert quantize_qty(Decimal("3.5"), False) == Decimal("3")
    assert quantize_qty(Decimal("0.0000000001"), True) == 0


def test_normalize_drops_trailing_zeros_without_exponents():
    assert str(normalize(Decimal("1.500"))) == "1.5"
    assert str(normalize(Decimal("100"))) == "100"
    assert str(normalize(Decimal("2.000"))) == "2"
    assert str(normalize(Decimal("0E-9"))) == "0"


def test_parse_decimal_messages_name_the_field_and_the_problem():
    assert parse_decimal("  12.50 ", "x") == Decimal("12.50")
    assert parse_decimal(Decimal("3"), "x") == 3 and parse_decimal(7, "x") == 7
    for bad, message in [(True, "x: expected a number, got True"),
                         ("abc", "x: 'abc' is not a number"),
                         ("inf", "x: 'inf' is not a finite number"),
                         (None, "x: expected a number, got NoneType"),
                         (Decimal("NaN"), "x: Decimal('NaN') is not a finite number")]:
        try:
            parse_decimal(bad, "x")
        except ValueError as exc:
            assert str(exc) == message
        else:
            raise AssertionError(f"{bad!r} accepted")


def test_basis_points():
    assert bps(Decimal("1"), Decimal("100")) == Decimal("100.00")
    assert bps(Decimal("0.05"), Decimal("228.5")) == Decimal("2.19")
    assert bps(Decimal("1"), Decimal("0")) == 0
