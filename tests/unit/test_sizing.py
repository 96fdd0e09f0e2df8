from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from alchemiser_cli.domain.intents import CloseType, Side
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.domain.sizing import Action, MarketView, fit_buys, plan_trades

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
