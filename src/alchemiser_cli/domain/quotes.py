"""Quotes and the rules that decide whether a quote may price an order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from alchemiser_cli.domain.money import CENT, ZERO, bps, round_to_tick


class QuoteSource(StrEnum):
    STREAM = "stream"
    REST = "rest"
    NONE = "none"


class QuoteProblem(StrEnum):
    """Why a quote cannot price an order (empty when usable)."""

    BOTH_ZERO = "both_zero"
    STALE = "stale"
    CROSSED = "crossed"
    TOO_WIDE = "too_wide"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Quote:
    """A top-of-book quote exactly as the venue reported it (zero means no side)."""

    symbol: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class QuotePolicy:
    max_age_seconds: float = 10.0
    max_spread_bps: Decimal = Decimal("500")
    zero_side_estimate_bps: Decimal = Decimal("10")


@dataclass(frozen=True, slots=True)
class AssessedQuote:
    """A quote after the freshness, crossing and zero-side rules.

    When one side was zero it is estimated from the other and flagged; the raw
    quote is kept for the audit trail.
    """

    raw: Quote
    source: QuoteSource
    bid: Decimal
    ask: Decimal
    age_seconds: float
    zero_bid: bool
    zero_ask: bool
    problem: QuoteProblem | None

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def symbol(self) -> str:
        return self.raw.symbol

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid

    @property
    def spread_bps(self) -> Decimal:
        return bps(self.spread, self.mid)


def assess_quote(
    quote: Quote, source: QuoteSource, now: datetime, policy: QuotePolicy
) -> AssessedQuote:
    """Apply the quote rules. Pure: the caller supplies ``now``."""
    age = max((now - quote.timestamp).total_seconds(), 0.0)
    bid, ask = quote.bid, quote.ask
    zero_bid = bid <= ZERO
    zero_ask = ask <= ZERO
    problem: QuoteProblem | None = None
    if zero_bid and zero_ask:
        problem = QuoteProblem.BOTH_ZERO
    elif age > policy.max_age_seconds:
        problem = QuoteProblem.STALE
    elif not zero_bid and not zero_ask and bid > ask:
        problem = QuoteProblem.CROSSED
    if problem is None and zero_bid:
        gap = max(ask * policy.zero_side_estimate_bps / 10000, CENT)
        bid = round_to_tick(max(ask - gap, CENT))
    elif problem is None and zero_ask:
        gap = max(bid * policy.zero_side_estimate_bps / 10000, CENT)
        ask = round_to_tick(bid + gap)
    if problem is None and ask > bid and bps(ask - bid, (ask + bid) / 2) > policy.max_spread_bps:
        problem = QuoteProblem.TOO_WIDE
    if problem is not None:
        bid, ask = max(quote.bid, ZERO), max(quote.ask, ZERO)
    return AssessedQuote(
        raw=quote,
        source=source,
        bid=bid,
        ask=ask,
        age_seconds=round(age, 3),
        zero_bid=zero_bid,
        zero_ask=zero_ask,
        problem=problem,
    )
