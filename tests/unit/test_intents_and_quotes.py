from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alchemiser_cli.domain.intents import CloseType, IntentError, OrderIntent, Side, Urgency
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


DEFAULT_POLICY = QuotePolicy()


def assess(bid, ask, age=0.0, policy=DEFAULT_POLICY):
    return assess_quote(q(bid, ask, age), QuoteSource.STREAM, NOW, policy)


def test_a_quote_exactly_at_the_age_limit_is_usable_and_older_is_stale():
    assert assess("100", "100.1", age=10).usable
    assert assess("100", "100.1", age=10.001).problem is QuoteProblem.STALE
    assert assess("100", "100.1", age=1.23456).age_seconds == 1.235


def test_a_quote_stamped_in_the_future_has_age_zero():
    assessed = assess("100", "100.1", age=-5)
    assert assessed.usable and assessed.age_seconds == 0.0


def test_a_spread_exactly_at_the_limit_is_usable_and_wider_is_refused():
    assert assess("97.50", "102.50").usable  # 5 / 100 = 500 bps
    assert assess("97.49", "102.50").problem is QuoteProblem.TOO_WIDE
    assert assess("97.4975", "102.5025").problem is QuoteProblem.TOO_WIDE  # 500.50 bps
    narrow = QuotePolicy(max_spread_bps=Decimal("5"))
    assert assess("100", "100.05", policy=narrow).usable
    assert assess("100", "100.06", policy=narrow).problem is QuoteProblem.TOO_WIDE


def test_zero_side_estimates_are_at_least_a_cent_and_on_the_grid():
    low = assess("0", "1.00")  # 10 bps of $1 is 0.1 cent: the gap is one cent
    assert (low.bid, low.ask) == (Decimal("0.99"), Decimal("1.00"))
    floor = assess("0", "0.01")
    assert floor.usable and floor.bid == Decimal("0.01")
    high = assess("2.00", "0")
    assert (high.bid, high.ask) == (Decimal("2.00"), Decimal("2.01")) and high.zero_ask
    wide = assess("0", "100.00", policy=QuotePolicy(zero_side_estimate_bps=Decimal("20")))
    assert wide.bid == Decimal("99.80")
    # 10 bps of $15 is 1.5 cents exactly: half-even rounding lands on 14.98 and 15.02
    assert assess("0", "15.00").bid == Decimal("14.98")
    assert assess("15.00", "0").ask == Decimal("15.02")


def test_a_refused_quote_reports_the_raw_sides_never_an_estimate():
    stale = assess("0", "100.00", age=30)
    assert stale.problem is QuoteProblem.STALE and (stale.bid, stale.ask) == (0, Decimal("100.00"))
    crossed = assess("100.20", "100.10")
    assert (crossed.bid, crossed.ask) == (Decimal("100.20"), Decimal("100.10"))
    negative = assess("-1", "-2")
    assert negative.problem is QuoteProblem.BOTH_ZERO and (negative.bid, negative.ask) == (0, 0)


def test_mid_spread_and_spread_bps():
    assessed = assess("100.00", "100.20")
    assert assessed.mid == Decimal("100.10") and assessed.spread == Decimal("0.20")
    assert assessed.spread_bps == Decimal("19.98")
    assert assessed.symbol == "AAPL" and assessed.source is QuoteSource.STREAM


@pytest.mark.parametrize(("intent", "text"), [
    (OrderIntent("AAPL", Side.BUY, quantity=Decimal(10)), "BUY 10 AAPL (medium urgency)"),
    (OrderIntent("msft", Side.SELL, notional=Decimal(500), urgency=Urgency.HIGH),
     "SELL $500 MSFT (high urgency)"),
    (OrderIntent("AAPL", Side.SELL, quantity=Decimal(3), close_type=CloseType.PARTIAL),
     "REDUCE 3 AAPL (medium urgency)"),
    (OrderIntent("AAPL", Side.SELL, quantity=Decimal(3), close_type=CloseType.FULL),
     "CLOSE 3 AAPL (medium urgency)"),
])
def test_intents_describe_themselves_for_the_confirmation_prompt(intent, text):
    assert intent.describe() == text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"symbol": "AAPL", "side": Side.BUY, "quantity": Decimal(0)}, "quantity must be positive, got 0"),
    ({"symbol": "AAPL", "side": Side.BUY, "notional": Decimal(0)}, "notional must be positive, got 0"),
    ({"symbol": "AAPL", "side": Side.BUY, "quantity": Decimal(1), "close_type": CloseType.PARTIAL},
     "close type partial needs side sell"),
    ({"symbol": "TOOLONGSYMB", "side": Side.BUY, "quantity": Decimal(1)}, "is not a valid ticker"),
    ({"symbol": "1AB", "side": Side.BUY, "quantity": Decimal(1)}, "is not a valid ticker"),
    ({"symbol": "", "side": Side.BUY, "quantity": Decimal(1)}, "symbol cannot be empty"),
    # whitespace and lookalike letters are refused, never cleaned into a real ticker
    ({"symbol": "   ", "side": Side.BUY, "quantity": Decimal(1)}, "no spaces"),
    ({"symbol": " brk.b ", "side": Side.BUY, "quantity": Decimal(1)}, "no spaces"),
    ({"symbol": "ſpy", "side": Side.BUY, "quantity": Decimal(1)}, "is not a valid ticker"),
    # a full close sizes itself from the position: as a buy it would buy the position again
    ({"symbol": "AAPL", "side": Side.BUY, "close_type": CloseType.FULL}, "close type full needs side sell"),
])
def test_more_invalid_intents(kwargs, message):
    with pytest.raises(IntentError, match=message):
        OrderIntent(**kwargs)


def test_symbols_are_normalised_and_sides_have_a_sign():
    assert OrderIntent("brk.b", Side.BUY, quantity=Decimal(1)).symbol == "BRK.B"
    assert OrderIntent("ABCDEFGHIJ", Side.BUY, quantity=Decimal(1)).symbol == "ABCDEFGHIJ"
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    intent = OrderIntent("AAPL", Side.SELL, notional=Decimal("0.01"))
    assert intent.close_type is CloseType.NONE and intent.urgency is Urgency.MEDIUM
