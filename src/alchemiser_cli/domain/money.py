"""Decimal money helpers and Alpaca's price-increment rules.

Prices at or above $1.00 trade in $0.01 increments; below $1.00 in $0.0001.
Everything here is pure and works on ``Decimal`` only.
"""

from __future__ import annotations

import re
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Decimal,
    InvalidOperation,
)
from enum import StrEnum

ONE_DOLLAR = Decimal("1")
CENT = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")
ZERO = Decimal("0")
#: Alpaca accepts up to 9 decimals for fractional quantities.
FRACTIONAL_STEP = Decimal("0.000000001")
WHOLE_SHARE = Decimal("1")


class TickRounding(StrEnum):
    """Which way a price snaps to the tick grid."""

    DOWN = "down"  # toward lower prices (passive for a buy)
    UP = "up"  # toward higher prices (passive for a sell)
    NEAREST = "nearest"


def tick_for(price: Decimal) -> Decimal:
    """The valid price increment for ``price``."""
    return CENT if price >= ONE_DOLLAR else SUB_PENNY


def _snap(price: Decimal, tick: Decimal, rounding: TickRounding) -> Decimal:
    mode = {
        TickRounding.DOWN: ROUND_FLOOR,
        TickRounding.UP: ROUND_CEILING,
        TickRounding.NEAREST: ROUND_HALF_EVEN,
    }[rounding]
    return ((price / tick).to_integral_value(rounding=mode) * tick).quantize(tick)


def round_to_tick(price: Decimal, rounding: TickRounding = TickRounding.NEAREST) -> Decimal:
    """Snap ``price`` to a valid tick; never returns less than the smallest tick.

    At or above $1 every result stays at or above $1 ($1.00 is on the cent grid).
    Below $1 the sub-penny grid applies; a result that reaches $1 is written $1.00.
    """
    if price <= ZERO:
        return SUB_PENNY
    if price >= ONE_DOLLAR:
        return _snap(price, CENT, rounding)
    snapped = _snap(price, SUB_PENNY, rounding)
    if snapped >= ONE_DOLLAR:
        return snapped.quantize(CENT)
    return max(snapped, SUB_PENNY)


def is_valid_tick(price: Decimal) -> bool:
    """True when ``price`` is positive and on Alpaca's increment grid."""
    if price <= ZERO:
        return False
    return price % tick_for(price) == ZERO


def quantize_qty(qty: Decimal, fractionable: bool) -> Decimal:
    """Round a share quantity down to what the asset allows (never up)."""
    step = FRACTIONAL_STEP if fractionable else WHOLE_SHARE
    if qty <= ZERO:
        return ZERO
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros for display without switching to exponent notation."""
    if value == value.to_integral_value():
        return value.quantize(Decimal("1"))
    return value.normalize()


def parse_decimal(raw: object, field: str) -> Decimal:
    """Parse a user- or broker-supplied number into a finite Decimal.

    Floats are converted through ``str`` so 0.1 stays 0.1.
    """
    if isinstance(raw, bool):
        raise ValueError(f"{field}: expected a number, got {raw!r}")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int | float | str):
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError(f"{field}: {raw!r} is not a number") from None
    else:
        raise ValueError(f"{field}: expected a number, got {type(raw).__name__}")
    if not value.is_finite():
        raise ValueError(f"{field}: {raw!r} is not a finite number")
    return value


PLAIN_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
#: Largest share quantity and dollar amount alch accepts from an operator.
MAX_QUANTITY = Decimal("1000000000")
MAX_NOTIONAL = Decimal("1000000000000")


def parse_amount(raw: str, field: str, maximum: Decimal) -> Decimal:
    """A positive amount typed by an operator: plain ASCII decimal notation, at most
    9 decimals, at most ``maximum``. No exponents, no other scripts' digits, no ``inf``."""
    text = raw.strip()
    if not PLAIN_NUMBER.match(text):
        raise ValueError(f"{field}: {raw!r} is not a plain decimal number like 10 or 2.5")
    value = Decimal(text)
    if value <= ZERO:
        raise ValueError(f"{field}: must be more than 0")
    if value > maximum:
        raise ValueError(f"{field}: {text} is more than the maximum of {maximum:,}")
    if value != quantize_qty(value, fractionable=True):
        raise ValueError(f"{field}: {text} has more than 9 decimals")
    return value


def bps(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator in basis points, rounded to 0.01 bp."""
    if denominator == ZERO:
        return ZERO
    return (numerator / denominator * Decimal(10000)).quantize(CENT)
