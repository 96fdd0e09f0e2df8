from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alchemiser_cli.domain.intents import CloseType, Side, Urgency
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.domain.sizing import (
    MARKET_BUY_HOLD,
    Action,
    MarketView,
    PlannedTrade,
    cash_for_buys,
    fit_buys,
    hold_factor,
    plan_trades,
)

D = Decimal


def view(price: str, fractionable: bool = True) -> MarketView:
    p = D(price)
    return MarketView(p, p - D("0.01"), p + D("0.01"), fractionable)


MARKET = {"AAA": view("100"), "BBB": view("50"), "CCC": view("20", fractionable=False),
          "OLD": view("10")}


def trades_by_symbol(plan, equity, positions):
    return {t.symbol: t for t in plan_trades(plan, D(equity), positions, MARKET)}


def test_sells_come_first_and_a_zero_weight_is_a_full_exit():
    plan = Plan(targets={"AAA": D("0.5"), "BBB": D("0"), "CCC": D("0.3")})
    trades = plan_trades(plan, D(10000), {"AAA": D(10), "BBB": D("7.25")}, MARKET)
    assert [(t.symbol, t.action) for t in trades] == [
        ("BBB", Action.CLOSE), ("AAA", Action.BUY), ("CCC", Action.BUY)]
    close = trades[0].intent()
    assert close.side is Side.SELL and close.close_type is CloseType.FULL
    assert close.quantity == D("7.25")


def test_whole_share_assets_round_down_and_fractionable_keep_fractions():
    plan = Plan(targets={"AAA": D("0.333"), "CCC": D("0.333")})
    t = trades_by_symbol(plan, "10000", {})
    assert t["CCC"].target_qty == D(166)  # 3330 / 20 = 166.5 -> 166
    assert t["AAA"].target_qty == D("33.3")


def test_drift_threshold_and_minimum_order_skip_small_trades():
    plan = Plan(targets={"AAA": D("0.5"), "BBB": D("0.001")}, drift_threshold=D("0.01"))
    t = trades_by_symbol(plan, "10000", {"AAA": D("49.5")})
    assert t["AAA"].action is Action.HOLD and t["AAA"].note == "within drift threshold"
    plan = Plan(targets={"BBB": D("0.0004")}, drift_threshold=D("0"), min_order_notional=D(5))
    t = trades_by_symbol(plan, "10000", {})
    assert t["BBB"].action is Action.HOLD and t["BBB"].note == "below minimum order"


def test_a_converged_portfolio_with_a_cash_buffer_is_not_seen_as_drifted():
    plan = Plan(targets={"AAA": D("0.5")}, cash_buffer=D("0.02"), drift_threshold=D("0.005"))
    t = trades_by_symbol(plan, "10000", {"AAA": D("49")})  # 4900 = 0.5 * 0.98 * 10000
    assert t["AAA"].action is Action.HOLD


def test_cash_buffer_is_kept_out_of_the_investable_equity():
    plan = Plan(targets={"AAA": D("0.9")}, cash_buffer=D("0.1"))
    t = trades_by_symbol(plan, "10000", {})
    assert t["AAA"].target_qty == D("81")  # 0.9 * 9000 / 100


def test_unlisted_holdings_are_left_alone_unless_asked():
    positions = {"OLD": D(3)}
    assert "OLD" not in trades_by_symbol(Plan(targets={"AAA": D("0.1")}), "10000", positions)
    t = trades_by_symbol(Plan(targets={"AAA": D("0.1")}, sell_unlisted=True), "10000", positions)
    assert t["OLD"].action is Action.CLOSE and t["OLD"].note == "not in plan"


def test_buys_are_scaled_down_to_the_cash_actually_there():
    plan = Plan(targets={"AAA": D("0.5"), "BBB": D("0.5")})
    buys = [t for t in plan_trades(plan, D(10000), {}, MARKET) if t.action is Action.BUY]
    fitted = fit_buys(buys, D(5000), MARKET, D("0.005"), D(5))
    cost = sum(t.qty * MARKET[t.symbol].ask * D("1.005") for t in fitted)
    assert cost <= D(5000)
    assert all(t.note.startswith("scaled to") for t in fitted)


def test_no_cash_means_no_buys():
    plan = Plan(targets={"AAA": D("0.5")})
    buys = [t for t in plan_trades(plan, D(10000), {}, MARKET) if t.action is Action.BUY]
    fitted = fit_buys(buys, D(-50), MARKET, D("0.005"), D(5))
    assert [t.action for t in fitted] == [Action.HOLD]


@given(
    weights=st.lists(st.decimals(min_value=D("0"), max_value=D("0.25"), places=3),
                     min_size=4, max_size=4),
    held=st.lists(st.decimals(min_value=D("0"), max_value=D("500"), places=2),
                  min_size=4, max_size=4),
    cash=st.decimals(min_value=D("0"), max_value=D("100000"), places=2),
)
def test_sizing_properties(weights, held, cash):
    symbols = ["AAA", "BBB", "CCC", "OLD"]
    plan = Plan(targets=dict(zip(symbols, weights, strict=True)), drift_threshold=D("0"))
    positions = dict(zip(symbols, held, strict=True))
    equity = cash + sum(positions[s] * MARKET[s].price for s in symbols)
    if equity <= 0:
        return
    trades = plan_trades(plan, equity, positions, MARKET)
    for t in trades:
        if t.side is Side.SELL:
            assert t.qty <= positions[t.symbol]  # never sells more than held (no shorts)
        if t.action is Action.CLOSE:
            assert t.qty == positions[t.symbol]
        if t.action is not Action.HOLD:
            assert t.qty > 0
            if not MARKET[t.symbol].fractionable and t.action is not Action.CLOSE:
                assert t.qty == t.qty.to_integral_value()
        # target value never exceeds the weight's share of equity
        assert t.target_qty * t.price <= t.target_weight * equity + D("0.000001")
    buys = [t for t in trades if t.action is Action.BUY]
    fitted = fit_buys(buys, cash, MARKET, D("0.005"), D(5))
    spend = sum(t.qty * MARKET[t.symbol].ask * D("1.005") for t in fitted
                if t.action is Action.BUY)
    assert spend <= max(cash, sum(t.qty * MARKET[t.symbol].ask * D("1.005") for t in buys))
    if spend > 0 and sum(t.qty * MARKET[t.symbol].ask * D("1.005") for t in buys) > cash:
        assert spend <= cash


# -- buys fitted to the cash -------------------------------------------------------------
def buy_of(symbol: str, qty: str) -> PlannedTrade:
    q = D(qty)
    return PlannedTrade(symbol, Action.BUY, D(0), D("0.1"), D(0), q, q, MARKET[symbol].price,
                        Urgency.MEDIUM)


RESERVE = D("0.005")


def cost_of(trades, reserve=RESERVE) -> Decimal:
    return sum((t.qty * MARKET[t.symbol].ask * (1 + reserve) for t in trades
                if t.action is Action.BUY), D(0))


def test_buys_the_cash_covers_exactly_are_left_as_planned():
    buys = [buy_of("AAA", "10"), buy_of("CCC", "7")]
    exact = cost_of(buys)  # 10 x 100.01 x 1.005 + 7 x 20.01 x 1.005
    assert fit_buys(buys, exact, MARKET, D("0.005"), D(5)) == buys
    short = fit_buys(buys, exact - D("0.01"), MARKET, D("0.005"), D(5))
    assert all(t.note.startswith("scaled to") for t in short) and cost_of(short) < exact


def test_scaled_buys_of_whole_share_assets_are_whole_shares_rounded_down():
    buys = [buy_of("CCC", "10")]  # 10 x 20.01 x 1.005 = 201.10
    fitted = fit_buys(buys, D("150"), MARKET, D("0.005"), D(5))  # 74.6%: 7.46 shares
    assert [(t.action, t.qty) for t in fitted] == [(Action.BUY, D(7))]
    assert fitted[0].note == "scaled to 74.6% for cash"
    half = cost_of([buy_of("AAA", "10")]) / 2
    fractional = fit_buys([buy_of("AAA", "10")], half, MARKET, D("0.005"), D(5))
    assert fractional[0].qty == D("5.000000000")  # fractionable: kept to 9 decimals
    fractional = fit_buys([buy_of("AAA", "10")], half * D("0.999"), MARKET, D("0.005"), D(5))
    assert fractional[0].qty == D("4.995000000")


def test_a_scaled_buy_below_the_minimum_notional_is_dropped_not_sent():
    buys = [buy_of("BBB", "1")]  # $50: 1 x 50.01 x 1.005 at the ask plus reserve
    half = cost_of(buys) / 2
    at_minimum = fit_buys(buys, half, MARKET, D("0.005"), D("25"))  # 0.5 x $50 = $25
    assert [(t.action, t.qty) for t in at_minimum] == [(Action.BUY, D("0.5000000000"))]
    below = fit_buys(buys, half - D("0.01"), MARKET, D("0.005"), D("25"))
    assert [(t.action, t.qty, t.note) for t in below] == [
        (Action.HOLD, D(0), "no cash left after sells")]


def test_a_whole_share_buy_scaled_below_one_share_is_dropped():
    fitted = fit_buys([buy_of("CCC", "1")], D("15"), MARKET, D("0.005"), D(0))
    assert [(t.action, t.qty) for t in fitted] == [(Action.HOLD, D(0))]


def test_no_buys_fit_nothing_whatever_the_cash():
    assert fit_buys([], D(-5), MARKET, D("0.005"), D(5)) == []
    assert fit_buys([], D(0), MARKET, D("0.005"), D(5)) == []


def test_buys_are_priced_at_the_ask_plus_the_reserve():
    buys = [buy_of("AAA", "10")]  # 10 x 100.01 = 1,000.10 at the ask
    assert fit_buys(buys, D("1010.101"), MARKET, D("0.01"), D(5)) == buys  # 1% reserve
    assert fit_buys(buys, D("1010.10"), MARKET, D("0.01"), D(5))[0].qty < D(10)


@given(
    qtys=st.lists(st.decimals(min_value=D("0.5"), max_value=D("300"), places=3),
                  min_size=3, max_size=3),
    cash=st.decimals(min_value=D("-100"), max_value=D("40000"), places=2),
    reserve=st.sampled_from([D(0), D("0.005"), D("0.04")]),
    minimum=st.sampled_from([D(0), D(5), D(100)]),
)
def test_fitted_buys_never_cost_more_than_the_cash_and_never_grow(qtys, cash, reserve, minimum):
    symbols = ["AAA", "BBB", "CCC"]
    buys = [buy_of(s, str(q if MARKET[s].fractionable else q.to_integral_value() or 1))
            for s, q in zip(symbols, qtys, strict=True)]
    fitted = fit_buys(buys, cash, MARKET, reserve, minimum)
    assert [t.symbol for t in fitted] == symbols
    if cost_of(buys, reserve) <= cash:
        assert fitted == buys
        return
    assert cost_of(fitted, reserve) <= max(cash, D(0))
    for planned, got in zip(buys, fitted, strict=True):
        assert got.qty <= planned.qty  # scaled down, never up
        if got.action is Action.BUY:
            assert got.qty * got.price >= minimum and got.qty > 0
            if not MARKET[got.symbol].fractionable:
                assert got.qty == got.qty.to_integral_value()
        else:
            assert got.action is Action.HOLD and got.qty == 0


# -- the cash buys may use -----------------------------------------------------------------
def test_cash_for_buys_is_the_lesser_of_cash_and_buying_power_less_the_buffer():
    # a cash account with $10,000 of which $4,000 are held by an open buy; equity 50,000
    assert cash_for_buys(D(10000), D(6000), D(50000), D("0.02"), D("0.04")) == D(5000)
    # a margin account: buying power above cash never lends to the buys
    assert cash_for_buys(D(10000), D(40000), D(50000), D("0.02"), D("0.04")) == D(9000)


def test_cash_for_buys_leaves_room_for_the_brokers_hold_on_market_buys():
    # no buffer: 10,000 of buying power covers market buys costing 10,000 x 1.005 / 1.04
    # at the ask plus reserve, whose 4% holds then take exactly the 10,000
    assert hold_factor(D("0.005")) == D("1.005") / D("1.04")
    usable = cash_for_buys(D(10000), D(10000), D(10000), D(0), D("0.005"))
    assert usable == D(10000) * D("1.005") / D("1.04")
    held = usable / D("1.005") * (1 + MARKET_BUY_HOLD)
    assert abs(held - D(10000)) < D("0.000001")
    # a reserve above the hold needs no more room; a buffer larger than the hold binds first
    assert hold_factor(D("0.05")) == 1
    assert cash_for_buys(D(10000), D(10000), D(10000), D("0.05"), D("0.005")) == D(9500)
    assert D("0.04") == MARKET_BUY_HOLD


def test_sizing_needs_positive_equity():
    for equity in (D(0), D(-10)):
        with pytest.raises(ValueError, match="account equity is not positive"):
            plan_trades(Plan(targets={"AAA": D("0.5")}), equity, {}, MARKET)


def test_a_position_of_zero_shares_is_not_a_holding_to_exit():
    plan = Plan(targets={"AAA": D("0.1")}, sell_unlisted=True)
    assert "OLD" not in trades_by_symbol(plan, "10000", {"OLD": D(0)})


def test_a_symbol_left_alone_never_hides_the_symbols_after_it():
    # every reason to hold, on a symbol sorted before one that trades
    market = {**MARKET, "ZZZ": view("10")}
    cases = [
        ({"AAA": D("0.1")}, {"AAA": D(10)}, "0.00005", "on target"),  # 10 x 100 = 10%
        ({"AAA": D("0.1")}, {"AAA": D("10.1")}, "0.002", "within drift threshold"),
        ({"AAA": D("0.1001")}, {"AAA": D(10)}, "0.00005", "below minimum order"),  # $1
        ({"CCC": D("0.05")}, {"CCC": D("24.75")}, "0.00005", "less than one whole share"),
    ]
    for targets, held, drift, note in cases:
        plan = Plan(targets={**targets, "ZZZ": D("0.1")}, drift_threshold=D(drift),
                    min_order_notional=D(5))
        trades = {t.symbol: t for t in plan_trades(plan, D(10000), held, market)}
        first = next(iter(targets))
        assert (trades[first].action, trades[first].note) == (Action.HOLD, note), note
        assert trades["ZZZ"].action is Action.BUY and trades["ZZZ"].qty == D(100), note


def test_a_sell_of_less_than_the_position_is_a_sell_and_of_all_of_it_a_close():
    t = trades_by_symbol(Plan(targets={"AAA": D("0.05")}), "10000", {"AAA": D(10)})
    assert (t["AAA"].action, t["AAA"].qty) == (Action.SELL, D(5))
    assert t["AAA"].intent().close_type is CloseType.PARTIAL
    t = trades_by_symbol(Plan(targets={"AAA": D(0)}), "10000", {"AAA": D(10)})
    assert (t["AAA"].action, t["AAA"].qty, t["AAA"].note) == (Action.CLOSE, D(10), "full exit")


def test_each_holdings_current_weight_is_its_share_of_equity():
    plan = Plan(targets={"AAA": D("0.5"), "BBB": D("0.2")})
    t = trades_by_symbol(plan, "10000", {"AAA": D(30), "BBB": D("12.5")})
    assert t["AAA"].current_weight == D("0.3000")  # 30 x $100 of $10,000
    assert t["BBB"].current_weight == D("0.0625")  # 12.5 x $50
    assert t["AAA"].target_weight == D("0.5")


@pytest.mark.parametrize(("action", "qty"), [(Action.HOLD, "5"), (Action.BUY, "0"),
                                             (Action.SELL, "0")])
def test_a_hold_or_a_trade_of_no_shares_never_becomes_an_order(action: Action, qty: str):
    trade = PlannedTrade("AAA", action, D(10), D("0.5"), D("0.1"), D(15), D(qty), D(100),
                         Urgency.MEDIUM)
    with pytest.raises(AssertionError):
        trade.intent()


def test_drift_is_measured_against_the_weight_left_after_the_cash_buffer():
    # 50% of the 90% invested is 45 shares of AAA ($100); holding 44.8 is 0.2% off: within a
    # 1% drift threshold (measured against 50% it would be 5.2% off and trade)
    plan = Plan(targets={"AAA": D("0.5")}, cash_buffer=D("0.1"), drift_threshold=D("0.01"))
    t = trades_by_symbol(plan, "10000", {"AAA": D("44.8")})
    assert t["AAA"].action is Action.HOLD and t["AAA"].note == "within drift threshold"


def test_a_drift_of_exactly_the_threshold_trades():
    plan = Plan(targets={"AAA": D("0.45")}, drift_threshold=D("0.01"))
    t = trades_by_symbol(plan, "10000", {"AAA": D(44)})  # 44% held, 45% wanted
    assert t["AAA"].action is Action.BUY and t["AAA"].qty == D(1)


def test_buys_come_before_the_symbols_left_alone_whatever_their_names():
    plan = Plan(targets={"AAA": D("0.3"), "BBB": D("0.2")})
    trades = plan_trades(plan, D(10000), {"AAA": D(30)}, MARKET)  # AAA on target
    assert [(t.symbol, t.action) for t in trades] == [("BBB", Action.BUY), ("AAA", Action.HOLD)]
