from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alchemiser_cli.domain.intents import CloseType, IntentError, OrderIntent, Side
from alchemiser_cli.domain.quotes import Quote, QuotePolicy, QuoteProblem, QuoteSource, assess_quote

NOW = datetime(2026, 11, 24, 15, tzinfo=UTC)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"symbol": "AAPL", "side": Side.BUY}, "exactly one of quantity or notional"),
    ({"symbol": "AAPL", "side": Side.BUY, "quantity": Decimal(-1)}, "quantity must be positive"),
    ({"symbol": "", "side": Side.BUY, "quantity": Decimal(1)}, "symbol cannot be empty"),
    ({"symbol": "AAPL", "side": Side.BUY, "quantity": Decimal(1), "close_type": CloseType.FULL},
     "needs side sell"),
    ({"symbol": "AAPL", "side": Side.SELL, "notional": Decimal(5), "close_type": CloseType.FULL},
     "do not give a notional"),
    ({"symbol": "AAPL", "side": Side.BUY, "quantity": Decimal(1), "notional": Decimal(5)},
     "exactly one"),
])
def test_invalid_intents_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(IntentError, match=message):
        OrderIntent(**kwargs)


def test_full_close_may_omit_the_quantity():
    intent = OrderIntent("tsla", Side.SELL, close_type=CloseType.FULL)
    assert intent.symbol == "TSLA"
    assert intent.describe() == "CLOSE all TSLA (medium urgency)"


def q(bid, ask, age=0):
    return Quote("AAPL", Decimal(bid), Decimal(ask), Decimal(1), Decimal(1),
                 NOW - timedelta(seconds=age))


@pytest.mark.parametrize(("quote", "problem"), [
    (q("0", "0"), QuoteProblem.BOTH_ZERO),
    (q("100", "100.1", age=11), QuoteProblem.STALE),
    (q("100.2", "100.1"), QuoteProblem.CROSSED),
    (q("90", "110"), QuoteProblem.TOO_WIDE),
    (q("100", "100.1"), None),
    (q("100", "100"), None),
])
def test_quote_rules(quote, problem):
    assessed = assess_quote(quote, QuoteSource.REST, NOW, QuotePolicy())
    assert assessed.problem == problem


def test_rest_quotes_are_age_checked_like_streamed_ones():
    assessed = assess_quote(q("100", "100.1", age=30), QuoteSource.REST, NOW, QuotePolicy())
    assert assessed.problem is QuoteProblem.STALE


def test_one_zero_side_is_estimated_and_flagged():
    assessed = assess_quote(q("0", "100.00"), QuoteSource.STREAM, NOW, QuotePolicy())
    assert assessed.usable and assessed.zero_bid and not assessed.zero_ask
    assert assessed.bid == Decimal("99.90")
    assessed = assess_quote(q("50.00", "0"), QuoteSource.STREAM, NOW, QuotePolicy())
    assert assessed.usable and assessed.zero_ask and assessed.ask == Decimal("50.05")
