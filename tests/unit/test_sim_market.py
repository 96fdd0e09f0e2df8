"""The simulated market: spreads per liquidity class, determinism, queues, contra flow,
adverse selection, price improvement, and the faults that steer it."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.market import (
    DEFAULT_CLASSES,
    DEFAULT_UNIVERSE,
    ClassParams,
    LiquidityClass,
    Market,
    MarketModel,
    symbols_of,
)
from alchemiser_cli.brokers.sim.matching import Where
from alchemiser_cli.brokers.sim.state import DEFAULT_START, SimPosition, SimState
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import CENT, is_valid_tick
from alchemiser_cli.domain.orders import Order, OrderRequest, OrderType
from alchemiser_cli.settings import MarketClassSettings, load_settings

SPEC = {s.symbol: s for s in DEFAULT_UNIVERSE}
START = 10**9  # a tick index


def quotes(symbol: str, ticks: int, seed: int = 7, every: int = 1) -> list[tuple[Decimal, Decimal]]:
    market = Market(MarketModel(), seed, 0.5, {})
    return [(t.bid, t.ask) for t in (market.touch(SPEC[symbol], START + i)
                                     for i in range(0, ticks, every))]


@pytest.mark.parametrize("symbol", ["AAPL", "SPY", "MSFT", "BND", "XLE"])
def test_large_cap_quotes_are_one_or_two_cents_wide_and_mostly_one(symbol):
    widths = Counter(ask - bid for bid, ask in quotes(symbol, 2000))
    assert set(widths) <= {CENT, 2 * CENT}
    assert widths[CENT] / sum(widths.values()) >= 0.8


def test_mid_caps_quote_a_few_ticks_and_small_caps_tens_of_basis_points():
    for symbol in symbols_of(LiquidityClass.MID):
        assert {ask - bid for bid, ask in quotes(symbol, 1000)} <= {
            Decimal("0.02"), Decimal("0.03"), Decimal("0.04"), Decimal("0.05")}
    for symbol in symbols_of(LiquidityClass.SMALL):
        for bid, ask in quotes(symbol, 1000, every=10):
            assert is_valid_tick(bid) and is_valid_tick(ask)
            width = (ask - bid) / ((ask + bid) / 2) * 10000
            assert 15 <= width <= 110, (symbol, bid, ask)  # 20-100 bps, give or take a tick


def test_sub_dollar_quotes_use_the_fine_tick():
    for bid, ask in quotes("SNDL", 500):
        assert bid < 1 and bid.as_tuple().exponent == -4 and is_valid_tick(ask)


def test_the_path_depends_on_the_seed_not_on_how_often_it_is_looked_at():
    every_tick = quotes("AAPL", 400)
    assert quotes("AAPL", 400, every=40) == every_tick[::40]
    assert quotes("AAPL", 400, seed=8) != every_tick


def test_volatility_per_class_is_what_the_parameters_say():
    market = Market(MarketModel(), 3, 0.5, {})
    for liquidity, symbol in ((LiquidityClass.MEGA, "AAPL"), (LiquidityClass.SMALL, "SMLA")):
        prices = [market.state(SPEC[symbol], START + i).price for i in range(0, 20000, 20)]
        returns = [(b / a - 1) * 1e4 for a, b in itertools.pairwise(prices)]
        per_sqrt_second = (sum(r * r for r in returns) / len(returns)) ** 0.5 / 10**0.5
        expected = DEFAULT_CLASSES[liquidity].volatility_bps_per_sqrt_second
        assert 0.8 * expected < per_sqrt_second < 1.2 * expected, liquidity


def sim_run(body, *, state: SimState | None = None, model: MarketModel | None = None):
    st = state or SimState(cash="10000000", positions={"AAPL": SimPosition("100", "0")})

    async def main():
        async with SimBroker(st, LoopClock(st.now_dt), model=model) as sim:
            return await body(sim)

    return run(main, virtual=True)


def buy(symbol: str, qty: str, price: Decimal | None = None, cid: str = "c1") -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, Decimal(qty),
                        OrderType.LIMIT if price is not None else OrderType.MARKET, price)


async def settle(sim: SimBroker, order: Order, seconds: float = 1.0) -> Order:
    await sim._clock.sleep(seconds)
    return await sim.get_order(order.id)


def test_market_orders_get_price_improvement_except_under_one_share():
    async def body(sim: SimBroker):
        out = []
        for qty, cid in (("10", "m1"), ("0.5", "m2")):
            order = await sim.submit_order(buy("AAPL", qty, cid=cid))
            touch_before = sim.public_touch("AAPL")
            await sim._clock.sleep(0.6)  # filled on the next tick, at that tick's quote
            touch = sim.public_touch("AAPL")
            out.append((await sim.get_order(order.id), touch, touch_before))
        return out

    # priced by the quote the order arrived at (reported on the next tick)
    (whole, _, touch), (fraction, _, touch2) = sim_run(body)
    eq = DEFAULT_CLASSES[LiquidityClass.MEGA].market_eq
    assert whole.filled_avg_price == (touch.mid + (touch.ask - touch.bid) / 2 * Decimal(str(eq))
                                      ).quantize(Decimal("0.0001"))
    assert touch.mid < whole.filled_avg_price < touch.ask
    assert fraction.filled_avg_price == touch2.ask  # under one share: at the NBBO


def test_a_limit_inside_the_spread_becomes_the_touch_with_nobody_ahead():
    model = MarketModel({**DEFAULT_CLASSES, LiquidityClass.MID: replace(
        DEFAULT_CLASSES[LiquidityClass.MID], volatility_bps_per_sqrt_second=0.0,
        spread_ticks=((4, 1.0),), contra_rate_per_second=0.0)})

    async def body(sim: SimBroker):
        touch = sim.public_touch("MIDA")
        inside = touch.bid + CENT
        joined = await sim.submit_order(buy("MIDA", "10", inside, "in"))
        quote = await sim.latest_quote("MIDA")
        return touch, inside, quote, sim.state.queues[joined.id]

    touch, inside, quote, queue = sim_run(body, model=model)
    assert quote.bid == inside and quote.ask == touch.ask
    assert queue.where is Where.INSIDE and queue.ahead == 0


def test_joining_the_touch_waits_behind_the_displayed_queue_and_contra_flow_eats_it():
    model = MarketModel({**DEFAULT_CLASSES, LiquidityClass.MEGA: replace(
        DEFAULT_CLASSES[LiquidityClass.MEGA], volatility_bps_per_sqrt_second=0.0,
        spread_ticks=((1, 1.0),), flow_variance_share=0.0, queue_depth=(1000.0, 1000.0),
        queue_cancel_rate_per_second=0.0, adverse_selection_half_spreads=0.0)})

    async def body(sim: SimBroker):
        touch = sim.public_touch("AAPL")
        order = await sim.submit_order(buy("AAPL", "10", touch.bid, "j"))
        queue = sim.state.queues[order.id]
        start = queue.ahead
        ahead = [start]
        while (current := await sim.get_order(order.id)).filled_qty < 10:
            await sim._clock.sleep(0.5)
            ahead.append(sim.state.queues.get(order.id, queue).ahead)
        return start, ahead, current, touch.bid

    start, ahead, order, touch_bid = sim_run(body, model=model)
    assert start == 1000.0  # the displayed size at the bid
    assert ahead == sorted(ahead, reverse=True) and len(ahead) > 2  # eaten, then filled
    assert order.filled_qty == 10 and order.filled_avg_price == touch_bid


def test_a_passive_fill_moves_the_price_against_it():
    base = DEFAULT_CLASSES[LiquidityClass.MID]
    quiet = replace(base, volatility_bps_per_sqrt_second=0.0, spread_ticks=((4, 1.0),),
                    contra_rate_per_second=50.0, flow_variance_share=0.0, penny_jump_rate_per_second=0.0)
    for adverse, moved in ((0.75, True), (0.0, False)):
        model = MarketModel({**DEFAULT_CLASSES, LiquidityClass.MID: replace(
            quiet, adverse_selection_half_spreads=adverse)})

        async def body(sim: SimBroker):
            touch = sim.public_touch("MIDA")
            before = sim.market.states["MIDA"].price
            order = await sim.submit_order(buy("MIDA", "10", touch.bid + CENT, "p"))
            return await settle(sim, order), before, sim.market.states["MIDA"].price, touch

        order, before, after, touch = sim_run(body, model=model)
        assert order.filled_qty == 10 and order.filled_avg_price == touch.bid + CENT
        drop = before - after
        assert (abs(drop - 0.75 * 0.02) < 1e-9) if moved else drop == 0


def test_a_resting_limit_fills_at_its_price_when_the_market_moves_through_it():
    async def body(sim: SimBroker):
        touch = sim.public_touch("SPY")
        order = await sim.submit_order(buy("SPY", "5", touch.bid, "t"))
        sim.market.shift(sim.spec("SPY"), sim._tick_index(), -0.50)  # 50 cents lower
        return touch, await settle(sim, order)

    touch, order = sim_run(body)
    assert order.filled_qty == 5 and order.filled_avg_price == touch.bid


def test_limit_fills_false_stops_every_limit_but_not_market_orders():
    async def body(sim: SimBroker):
        sim.state.faults.limit_fills = False
        touch = sim.public_touch("AAPL")
        resting = await sim.submit_order(buy("AAPL", "5", touch.bid, "r"))
        sim.market.shift(sim.spec("AAPL"), sim._tick_index(), -0.50)
        marketable = await sim.submit_order(buy("AAPL", "5", touch.ask + 1, "m"))
        market = await sim.submit_order(buy("AAPL", "5", cid="mk"))
        return (await settle(sim, resting, 5), await sim.get_order(marketable.id),
                await sim.get_order(market.id))

    resting, marketable, market = sim_run(body)
    assert resting.filled_qty == 0 and marketable.filled_qty == 0
    assert market.filled_qty == 5


def test_a_pending_cancel_can_still_fill_unless_the_cancel_is_stuck():
    for stuck in (False, True):
        async def body(sim: SimBroker, stuck: bool = stuck):
            touch = sim.public_touch("AAPL")
            sim.state.faults.cancel_latency = 60  # the cancel stays in flight for the test
            order = await sim.submit_order(buy("AAPL", "5", touch.bid, "pc"))
            rec = sim.state.orders[order.id]
            rec.status = "pending_cancel"
            rec.cancel_requested_at = sim._clock.now().isoformat()
            rec.cancel_stuck = stuck
            sim.market.shift(sim.spec("AAPL"), sim._tick_index(), -0.50)
            return await settle(sim, order)

        order = sim_run(body)
        assert order.filled_qty == (0 if stuck else 5)


def test_halted_symbols_and_a_closed_market_fill_nothing():
    for fault in ({"halted": ["AAPL"]}, {"market_closed": True}):
        async def body(sim: SimBroker, fault: dict = fault):
            for name, value in fault.items():
                setattr(sim.state.faults, name, value)
            order = await sim.submit_order(buy("AAPL", "5", cid="h"))
            return await settle(sim, order, 5)

        assert sim_run(body).filled_qty == 0


def test_forced_partial_fills_still_work():
    async def body(sim: SimBroker):
        sim.state.faults.partial_probability = 1.0
        order = await sim.submit_order(buy("AAPL", "10", cid="pp"))
        await sim._clock.sleep(0.6)
        return await sim.get_order(order.id)

    order = sim_run(body)
    assert 0 < order.filled_qty < 10


def test_every_class_parameter_can_be_set_from_the_config(tmp_path):
    fields = set(ClassParams.__dataclass_fields__)
    assert set(MarketClassSettings.model_fields) == fields
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sim.market.mega]\nmarket_eq = 0.3\nspread_ticks = [[1, 0.5], [3, 0.5]]\n")
    settings = load_settings(cfg)
    model = MarketModel.with_overrides(
        {k: v.overrides() for k, v in settings.sim.market.items()})
    assert model.params(LiquidityClass.MEGA).market_eq == 0.3
    assert model.params(LiquidityClass.MEGA).spread_ticks == ((1, 0.5), (3, 0.5))
    assert model.params(LiquidityClass.MID) == DEFAULT_CLASSES[LiquidityClass.MID]
    with pytest.raises(ValueError, match="between 0 and 1"):
        MarketModel.with_overrides({"mid": {"market_eq": 1.5}})


def test_time_and_fills_run_in_virtual_time_and_repeat_under_a_seed():
    def once():
        async def body(sim: SimBroker):
            touch = sim.public_touch("MIDA")
            order = await sim.submit_order(buy("MIDA", "50", touch.bid, "v"))
            return await settle(sim, order, 300), sim._clock.now()

        return sim_run(body, state=SimState(seed=11, cash="1000000", positions={}))

    (a, at), (b, _) = once(), once()
    assert at - DEFAULT_START >= timedelta(seconds=300)
    assert (a.filled_qty, a.filled_avg_price, a.status) == (b.filled_qty, b.filled_avg_price,
                                                            b.status)
