from decimal import Decimal

from alchemiser_cli.core.exposition import exposition
from alchemiser_cli.core.metrics import compute

SIM = 'account="default",broker="sim"'


def prometheus(m):
    return exposition({("default", "sim"): m}, [])


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
    assert f"alch_runs{{{SIM}}} 0" in text and "slippage" not in text and "quote_source_ratio" not in text


def submitting(cid, side, order_type, step, ratio, bid, ask):
    return {"event": "order_submitting", "client_order_id": cid, "side": side,
            "order_type": order_type, "step": step, "ratio": ratio, "bid": bid, "ask": ask}


def step(cid, order_type, number, ratio, qty, avg):
    return {"event": "step", "client_order_id": cid, "order_type": order_type, "step": number,
            "ratio": ratio, "filled_qty": qty, "avg_price": avg}


def markout(cid, order_type, number, ratio, bps, horizon=5.0):
    return {"event": "markout", "client_order_id": cid, "order_type": order_type,
            "step": number, "ratio": ratio, "markout_bps": bps, "horizon_seconds": horizon}


FILLS = [
    # a buy limit at the bid of 10.00/10.04: E/Q -1; a sell limit at 10.03 of 10.00/10.04: -0.5
    submitting("a-1", "buy", "limit", 1, "0", "10.00", "10.04"),
    step("a-1", "limit", 1, "0", "5", "10.00"),
    submitting("b-1", "sell", "limit", 1, "0.25", "10.00", "10.04"),
    step("b-1", "limit", 1, "0.25", "5", "10.03"),
    # a market buy at 20.013 of 20.00/20.02: E/Q 0.3; a market sell at 20.00 of the same: 1
    submitting("a-m", "buy", "market", 2, None, "20.00", "20.02"),
    step("a-m", "market", 2, None, "1", "20.013"),
    submitting("b-m", "sell", "market", 4, None, "20.00", "20.02"),
    step("b-m", "market", 4, None, "1", "20.00"),
    # the collared final limit: its own label; an unfilled step counts nowhere
    submitting("c-c", "buy", "limit", 1, None, "5.00", "5.02"),
    step("c-c", "limit", 1, None, "2", "5.02"),
    submitting("d-2", "buy", "limit", 2, "0.35", "5.00", "5.02"),
    step("d-2", "limit", 2, "0.35", "0", None),
    markout("a-1", "limit", 1, "0", "-3.00"), markout("b-1", "limit", 1, "0.25", "-1.00"),
    markout("a-m", "market", 2, None, "0.50"),
]


def test_eq_and_mark_outs_per_step_and_for_market_orders():
    m = compute(FILLS, runs=1)
    assert m.eq_by_step == {"1": Decimal("-0.750"), "market": Decimal("0.650"),
                            "marketable": Decimal("1.000")}
    assert m.eq_fills_by_step == {"1": 2, "market": 2, "marketable": 1}
    assert m.markout_bps_by_step == {"1": Decimal("-2.00"), "market": Decimal("0.50")}
    assert m.markout_seconds == (5.0,)
    assert m.fills_by_step["marketable"] == 1 and m.fills_by_step["2"] == 0
    text = prometheus(m)
    assert f'alch_eq{{{SIM},step="1"}} -0.75\n' in text
    assert f'alch_eq{{{SIM},step="market"}} 0.65\n' in text
    assert f'alch_markout_bps{{{SIM},step="1"}} -2\n' in text
    assert m.to_dict()["eq_by_step"] == {"1": "-0.750", "market": "0.650", "marketable": "1.000"}


def test_exposition_escapes_label_values_and_keeps_timestamps_whole():
    from datetime import UTC, datetime

    from alchemiser_cli.core.exposition import LastRun

    started = datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC)
    run = LastRun('a"b\\c', "paper", "rebalance", started, None, None, "running")
    text = exposition({}, [run])
    # a run still going has no duration nor exit code yet
    assert text == ("# HELP alch_last_run_timestamp_seconds Unix time the last run of a command "
                    "started.\n# TYPE alch_last_run_timestamp_seconds gauge\n"
                    'alch_last_run_timestamp_seconds{account="a\\"b\\\\c",broker="paper",'
                    'command="rebalance"} 1795597200.123456\n'
                    "# HELP alch_last_run_running 1 while the last run of a command is still "
                    "marked running.\n# TYPE alch_last_run_running gauge\n"
                    'alch_last_run_running{account="a\\"b\\\\c",broker="paper",'
                    'command="rebalance"} 1\n')


def submitting(cid):
    return {"event": "order_submitting", "client_order_id": cid, "side": "buy",
            "order_type": "limit", "bid": "10", "ask": "10.02", "limit_price": "10.01"}


def test_an_intent_of_a_killed_run_counts_as_placed_and_failed():
    # run R1 finished its SPY order; run R2 was killed mid-walk after two AAPL steps and
    # never recorded an outcome: the exposition must still show an order placed, not filled
    events = [submitting("alch-261125100000abc001-SPY-1"),
              execution("filled", "10", "100", "1.00", 4.0),
              submitting("alch-261125110000abc002-AAPL-1"),
              submitting("alch-261125110000abc002-AAPL-2r1"),
              submitting("alch-261125110000abc002-AAPL-2")]
    m = compute(events, runs=2)
    assert (m.orders, m.orders_filled) == (2, 1)
    text = prometheus(m)
    assert f'alch_orders{{{SIM},outcome="placed"}} 2\n' in text
    assert f'alch_orders{{{SIM},outcome="failed"}} 1\n' in text
