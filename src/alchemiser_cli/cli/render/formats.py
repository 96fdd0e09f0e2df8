"""How numbers read on a screen: prices on their tick, money in cents, weights as
percentages, quantities to four decimals. Plain strings, no Rich: the JSON output keeps
full precision and never goes through here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from alchemiser_cli.domain.money import normalize

QTY_PLACES = Decimal("0.0001")


def fmt(value: Decimal | None, places: int | None = None) -> str:
    """A decimal without meaningless trailing zeros (or to ``places``); ``-`` for none."""
    if value is None:
        return "-"
    if places is not None:
        return f"{value:.{places}f}"
    return str(normalize(value))


def price(value: Decimal | None) -> str:
    """A price as Alpaca ticks it: cents at or above $1, four decimals below."""
    if value is None:
        return "-"
    return f"{value:.4f}" if value < 1 else f"{value:.2f}"


def qty(value: Decimal | None) -> str:
    """Shares: whole numbers as such, fractions to at most four decimals."""
    if value is None:
        return "-"
    return str(normalize(value.quantize(QTY_PLACES, rounding=ROUND_HALF_EVEN)))


def money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def pct(weight: Decimal | None) -> str:
    """A weight (a fraction of equity) as a percentage with two decimals: ``12.50%``."""
    return "-" if weight is None else f"{weight * 100:.2f}%"


def ratio(value: float | None) -> str:
    """A rate (0..1) as a percentage with one decimal."""
    return "-" if value is None else f"{value:.1%}"


def duration(seconds: float | None) -> str:
    """``45s``, ``2m05s``, ``1h02m``: short enough for a table cell."""
    if seconds is None:
        return "-"
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


#: Order states as a narrow table shows them (Alpaca's names where they are short).
STATUS_WORDS = {"partially_filled": "partial", "pending_new": "pending",
                "pending_cancel": "cancelling", "pending_replace": "replacing",
                "not_placed": "not placed", "submit rejected": "rejected",
                "submit unknown": "unknown", "done_for_day": "done"}


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)
