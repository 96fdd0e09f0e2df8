from decimal import Decimal

from alchemiser_cli.core.metrics import compute, prometheus


def quote(source, problem=None, zero_bid=False):
    return {"event": "quote", "source": source, "problem": problem, "zero_bid": zero_bid,
            "zero_ask": False}


def execution(status, qty, avg, slip, seconds):
    return {"event": "execution", "status": status, "filled_qty": qty, "avg_price": avg,
            "slippage_bps": slip, "seconds": seconds}


EVENTS = [
    quote("stream"), quote("stream"), quote("stream", zero_bid=True),
    quote("stream", problem="stale"), quote("rest"),  # one request: stale stream, then REST
    quote("rest", problem="crossed"),  # one request, unusable
    {"event": "step", "filled_qty": "10", "order_type": "limit", "step": 1},
    {"event": "step", "filled_qty": "0", "order_type": "limit", "step": 1},
    {"event": "step", "filled_qty": "5", "order_type": "market", "step": 4},
    execution("filled", "10", "100", "1.00", 4.0),
    execution("filled", "10", "300", "3.00", 10.0),
    execution("partial", "5", "100", "-2.00", 40.0),
    execution("not_placed", "0", None, None, 0.0),
    {"event": "validation", "passed": True}, {"event": "validation", "passed": False},
]


def test_metrics_arithmetic():
    m = compute(EVENTS, runs=2)
    assert (m.quote_requests, m.streamed, m.rest_fallback, m.unusable) == (5, 3, 1, 1)
    assert m.streaming_success_rate == 0.6 and m.rest_fallback_rate == 0.2
    assert m.problems == {"crossed": 1, "stale": 1, "zero_bid": 1}
    assert m.fills_by_step == {"1": 1, "2": 0, "3": 0, "market": 1}
    assert (m.orders, m.orders_filled) == (3, 2)  # not_placed is not an order
    assert m.median_seconds_to_fill == 7.0  # of the two complete fills
    assert m.slippage_bps_mean == Decimal("0.67")
    assert m.slippage_bps_median == Decimal("1.00")
    # notional-weighted: (1*1000 + 3*3000 - 2*500) / 4500
    assert m.slippage_bps_weighted == Decimal("2.00")
    assert m.validation_pass_rate == 0.5


def test_prometheus_omits_metrics_without_data():
    text = prometheus(compute([], runs=0))
    assert "alch_runs 0" in text and "slippage" not in text and "quote_source_ratio" not in text
