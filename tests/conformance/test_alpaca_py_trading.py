"""Trading API through alpaca-py's own models (pydantic, strict enums) as the oracle.

Sources: alpaca-py 0.44 trading/client.py and trading/models.py; recorded responses in
alpaca-py tests/trading/trading_client/*.py; Alpaca's OpenAPI document
(docs.alpaca.markets/openapi/trading-api.json, vendored in alpacahq/alpaca-mcp-server
src/alpaca_mcp_server/specs/trading-api.json), cited below as "spec <operation or schema>";
GitHub issues as owner/repo#N (a bare "#N" is that repository's).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import (
    AssetClass,
    AssetStatus,
    OrderSide,
    OrderStatus,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Asset, Calendar, Clock, Order, Position, TradeAccount
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetAssetsRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)

from alchemiser_cli.brokers.sim.emulator import EmulatorThread
from tests.conformance.conftest import http, set_faults

D = Decimal
# alpaca-py tests/trading/trading_client/test_clock_calendar_routes.py: the recorded clock
NY_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?-0[45]:00$")


def until(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def limit(symbol: str = "AAPL", qty: float = 1, price: float = 100.0, side=OrderSide.BUY,
          **extra: Any) -> LimitOrderRequest:
    return LimitOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY,
                             limit_price=price, **extra)


def test_account_parses_and_numbers_are_short_strings(trading, emu):
    account = trading.get_account()
    assert isinstance(account, TradeAccount) and account.status == "ACTIVE"
    raw = http(emu, "GET", "/v2/account").json()
    # spec Account: example "cash": "-23140.2" (short strings), accrued_fees, balance_asof
    assert raw["cash"] == "25000" and "accrued_fees" in raw and "balance_asof" in raw
    # PDT fields gone since 2026-07-06 (spec Account x-deprecation sunset 2026-07-06;
    # alpaca-py trading/models.py TradeAccount; QuantConnect/Lean.Brokerages.Alpaca#68)
    assert "pattern_day_trader" not in raw and "daytrade_count" not in raw


def test_margin_account_has_buying_power_above_cash(trading, emu):
    set_faults(emu, "margin_multiplier=2")
    # spec Account.multiplier "2" (Reg T); buying_power = max(equity - initial_margin, 0) * 2
    account = trading.get_account()
    assert D(account.buying_power) > D(account.cash) and account.multiplier == "2"


def test_clock_is_new_york_time_with_real_session_times(trading, emu):
    clock = trading.get_clock()
    assert isinstance(clock, Clock)
    raw = http(emu, "GET", "/v2/clock").json()
    assert all(NY_TIMESTAMP.match(raw[k]) for k in ("timestamp", "next_open", "next_close"))
    # spec legacy_clock example: 09:30 and 16:00 New York; NYSE early closes are 13:00
    assert raw["next_open"][11:16] == "09:30"
    assert raw["next_close"][11:16] in ("16:00", "13:00")


@pytest.mark.parametrize(("start", "is_open", "next_open", "next_close"), [
    # Wednesday 2026-11-25, 03:00 New York: before the open
    (datetime(2026, 11, 25, 8, 0, tzinfo=UTC), False, "2026-11-25T09:30", "2026-11-25T16:00"),
    # 10:00: in the session; the next open is the next trading day's (Thanksgiving closed)
    (datetime(2026, 11, 25, 15, 0, tzinfo=UTC), True, "2026-11-27T09:30", "2026-11-25T16:00"),
    # 17:00: after the close; Friday 2026-11-27 closes early at 13:00
    (datetime(2026, 11, 25, 22, 0, tzinfo=UTC), False, "2026-11-27T09:30", "2026-11-27T13:00"),
])
def test_with_exchange_hours_the_clock_agrees_with_its_own_timestamp(start, is_open, next_open,
                                                                     next_close):
    # spec legacy_clock: is_open "whether or not the market is open", next_open/next_close
    # the next session's times; NYSE Group holiday calendar (2025-12-23) for 2026-11-26/27
    from alpaca.trading.client import TradingClient

    from tests.conformance.conftest import KEY, SECRET

    with EmulatorThread(key=KEY, secret=SECRET, tick_seconds=0.05, start=start) as emu:
        set_faults(emu, "market_hours=exchange")
        trading = TradingClient(KEY, SECRET, paper=True, url_override=emu.base_url)
        trading._retry = 0
        clock = trading.get_clock()
        raw = http(emu, "GET", "/v2/clock").json()
        assert clock.is_open is is_open and raw["is_open"] is is_open
        assert raw["timestamp"].startswith(start.astimezone(clock.timestamp.tzinfo)
                                           .strftime("%Y-%m-%dT%H:%M"))
        assert raw["next_open"].startswith(next_open) and raw["next_close"].startswith(next_close)
        assert clock.timestamp < clock.next_close and clock.timestamp < clock.next_open
        order = trading.submit_order(limit(price=1000.0))
        time.sleep(0.5)
        # Alpaca's order lifecycle (docs.alpaca.markets/docs/orders-at-alpaca): accepted is
        # "received by Alpaca, but hasn't yet been routed to the execution venue. This could
        # be seen often outside of trading session hours."
        status = trading.get_order_by_id(order.id).status
        assert status == (OrderStatus.FILLED if is_open else OrderStatus.ACCEPTED)


def test_calendar_lists_trading_days_with_session_times(trading):
    days = trading.get_calendar(GetCalendarRequest(start=datetime(2026, 11, 23).date(),
                                                   end=datetime(2026, 11, 30).date()))
    assert all(isinstance(d, Calendar) for d in days)
    # NYSE Group 2026-2028 holiday calendar (2025-12-23): closed Thanksgiving (Nov 26),
    # early close 1:00 p.m. on Friday Nov 27
    assert [d.date.isoformat() for d in days] == ["2026-11-23", "2026-11-24", "2026-11-25",
                                                  "2026-11-27", "2026-11-30"]
    assert days[3].close.strftime("%H:%M") == "13:00"


def test_assets_list_with_filters_and_one_asset(trading):
    # spec get-v2-assets (status, asset_class, exchange, attributes) and
    # get-v2-assets-symbol_or_asset_id (symbol or asset id)
    every = trading.get_all_assets()
    assert all(isinstance(a, Asset) for a in every) and len(every) >= 16
    active = trading.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE,
                                                     asset_class=AssetClass.US_EQUITY))
    assert "DELIST" not in {a.symbol for a in active} and "AAPL" in {a.symbol for a in active}
    assert trading.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO)) == []
    xle = trading.get_asset("XLE")
    assert xle.symbol == "XLE" and not xle.fractionable
    assert trading.get_asset(str(xle.id)).symbol == "XLE"  # by asset id too


def test_submission_is_accepted_then_new(trading):
    # alpaca-py test_order_routes.py: the recorded submit response says "accepted"
    order = trading.submit_order(limit(price=100.0))
    assert isinstance(order, Order) and order.status == OrderStatus.ACCEPTED
    # spec Order.position_intent (PositionIntent); alpaca-py test_order_position_intent
    assert order.position_intent is not None and order.position_intent.value == "buy_to_open"
    # spec OrderStatus: accepted = "not yet routed", new = "routed to exchanges"
    assert until(lambda: trading.get_order_by_id(order.id).status == OrderStatus.NEW)
    assert trading.get_order_by_client_id(order.client_order_id).id == order.id
    assert order.client_order_id  # spec postOrder: "Automatically generated if not sent"


def test_cancel_is_asynchronous_and_204(trading, emu):
    set_faults(emu, "limit_fills=false", "cancel_latency=0.5")
    order = trading.submit_order(limit(price=100.0))
    until(lambda: trading.get_order_by_id(order.id).status == OrderStatus.NEW)
    response = http(emu, "DELETE", f"/v2/orders/{order.id}")
    # spec deleteOrderByOrderID: "Attempts to cancel"; 204 = accepted, 422 = not cancelable
    assert response.status_code == 204 and response.text == ""
    assert trading.get_order_by_id(order.id).status == OrderStatus.PENDING_CANCEL
    assert until(lambda: trading.get_order_by_id(order.id).status == OrderStatus.CANCELED)
    # a finished order: 422/42210000 'order is already in "<status>" state'
    # (bennycode/trading-signals#1079, 2026: seen for "filled", said to hold when canceled)
    with pytest.raises(APIError) as again:
        trading.cancel_order_by_id(order.id)
    assert again.value.status_code == 422
    assert again.value.message == 'order is already in "canceled" state'


def test_a_pending_cancel_order_can_still_fill(trading, emu):
    # a 204 only accepts the request (spec deleteOrderByOrderID); an order stays cancelable
    # "until ... filled, canceled, or expired" (spec OrderStatus), so a fill can come first
    set_faults(emu, "cancel_latency=5")
    order = trading.submit_order(limit(price=300.0))  # marketable: fills at the next tick
    trading.cancel_order_by_id(order.id)
    assert until(lambda: trading.get_order_by_id(order.id).status == OrderStatus.FILLED)


def test_cancel_all_answers_207_with_one_entry_per_order(trading, emu):
    set_faults(emu, "limit_fills=false")
    ids = {str(trading.submit_order(limit(price=100.0 + i)).id) for i in range(2)}
    response = http(emu, "DELETE", "/v2/orders")
    # spec deleteAllOrders; alpaca-py test_order_routes.py test_cancel_orders ([{id, status: 200}])
    assert response.status_code == 207
    assert {r["id"] for r in response.json()} == ids
    assert {r["status"] for r in response.json()} == {200}


def test_replace_goes_through_pending_replace(trading, emu):
    set_faults(emu, "limit_fills=false")
    old = trading.submit_order(limit(qty=2, price=100.0))
    until(lambda: trading.get_order_by_id(old.id).status == OrderStatus.NEW)
    new = trading.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=101.0))
    # spec patchOrderByOrderId ("the new Order object with the new order ID"); Alpaca-API#111
    # (PATCH answer id != path id, "replaces" = the old id); spec Order.replaced_by
    assert new.id != old.id and new.replaces == old.id and D(str(new.limit_price)) == D("101")
    assert until(lambda: trading.get_order_by_id(old.id).status == OrderStatus.REPLACED)
    assert trading.get_order_by_id(old.id).replaced_by == new.id
    with pytest.raises(APIError) as same:  # alpaca-py#412: 42210000 "order parameters are not changed"
        trading.replace_order_by_id(new.id, ReplaceOrderRequest(limit_price=101.0))
    assert same.value.message == "order parameters are not changed"


def test_replace_refusals(trading, emu):
    set_faults(emu, "limit_fills=false", "accept_latency=5")
    waiting = trading.submit_order(limit(price=100.0))
    # accepted/pending_new orders cannot be replaced (spec patchOrderByOrderId); message:
    # alpaca-trade-api-python#306
    with pytest.raises(APIError) as early:
        trading.replace_order_by_id(waiting.id, ReplaceOrderRequest(limit_price=99.0))
    assert "isn't sent to exchange yet" in early.value.message
    set_faults(emu, "accept_latency=0")
    fractional = trading.submit_order(limit(qty=1.5, price=100.0))
    until(lambda: trading.get_order_by_id(fractional.id).status == OrderStatus.NEW)
    # spec PatchOrderRequest.qty: "Qty of equity fractional orders are not allowed to change";
    # the emulator refuses the whole replace of a fractional order (stricter than the spec)
    with pytest.raises(APIError):
        trading.replace_order_by_id(fractional.id, ReplaceOrderRequest(limit_price=99.0))


def test_list_orders_honours_alpacas_filters(trading, emu):
    # spec getAllOrders: status open|closed|all (default open), limit (default 50, max 500),
    # after/until (exclusive), direction (default desc), nested, symbols, side
    set_faults(emu, "limit_fills=false")
    a = trading.submit_order(limit("AAPL", price=100.0))
    time.sleep(0.01)
    trading.submit_order(limit("MSFT", price=300.0))
    both = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [o.symbol for o in both] == ["MSFT", "AAPL"]  # newest first (direction desc)
    asc = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, direction="asc"))
    assert [o.symbol for o in asc] == ["AAPL", "MSFT"]
    only = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["AAPL"]))
    assert [o.id for o in only] == [a.id]
    assert trading.get_orders(GetOrdersRequest(side=OrderSide.SELL)) == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=later)) == []
    assert len(trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, until=later,
                                                   nested=True))) == 2
    assert trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED)) == []
    # outside the spec's status enum; the 422 and its body shape are the emulator's choice
    bad = http(emu, "GET", "/v2/orders", params={"status": "pending"})
    assert bad.status_code == 422 and set(bad.json()) == {"code", "message"}
    capped = http(emu, "GET", "/v2/orders", params={"status": "all", "limit": "5000"})
    assert capped.status_code == 200 and len(capped.json()) == 2  # limit capped at 500


def test_notional_and_whole_share_time_in_force(trading):
    # spec postOrder notional: "Cannot work with qty. Can only work for market order types
    # and day for time in force"; alpaca-docs content/trading/fractional-trading.md
    notional = trading.submit_order(MarketOrderRequest(symbol="AAPL", notional=500,
                                                       side=OrderSide.BUY,
                                                       time_in_force=TimeInForce.DAY))
    assert notional.notional is not None and notional.qty is None
    # spec TimeInForce: equities day, gtc, opg, cls, ioc, fok; fractional orders are DAY only
    # (fractional-trading.md), refused with 422 (Petersoj/alpaca-java#140)
    gtc = trading.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY,
                                                 time_in_force=TimeInForce.GTC, limit_price=100))
    assert gtc.time_in_force == TimeInForce.GTC
    with pytest.raises(APIError) as fractional:
        trading.submit_order(LimitOrderRequest(symbol="AAPL", qty=1.5, side=OrderSide.BUY,
                                               time_in_force=TimeInForce.GTC, limit_price=100))
    assert fractional.value.message == "fractional orders must be DAY orders"


def test_extended_hours_orders_are_limit_orders_day_or_gtc(trading):
    # spec postOrder extended_hours: "Only works with type `limit` and time_in_force set to
    # either `day` or `gtc`"
    gtc = trading.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY,
                                                 time_in_force=TimeInForce.GTC, limit_price=100,
                                                 extended_hours=True))
    assert gtc.extended_hours and gtc.time_in_force == TimeInForce.GTC
    with pytest.raises(APIError) as market:
        trading.submit_order(MarketOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY,
                                                time_in_force=TimeInForce.DAY, extended_hours=True))
    assert market.value.status_code == 422
    with pytest.raises(APIError) as ioc:
        trading.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY,
                                               time_in_force=TimeInForce.IOC, limit_price=100,
                                               extended_hours=True))
    assert ioc.value.status_code == 422


def test_error_bodies(trading, emu):
    # 422/42210000 "invalid limit_price 41.085. sub-penny increment does not fulfill minimum
    # pricing criteria" (alpaca-trade-api-go#260, alpaca-trade-api-csharp#497)
    with pytest.raises(APIError) as sub_penny:
        trading.submit_order(limit(price=228.001))
    assert sub_penny.value.status_code == 422 and "sub-penny increment" in sub_penny.value.message
    # 403 (spec postOrder: "Buying power or shares is not sufficient"); the body names both
    # amounts (alpaca-py#225)
    with pytest.raises(APIError) as power:
        trading.submit_order(limit(qty=1000, price=228.0))
    body = power.value.response.json()
    assert power.value.status_code == 403 and body["code"] == 40310000
    assert body["message"] == "insufficient buying power" and {"buying_power", "cost_basis"} <= set(body)
    trading.submit_order(limit(price=100.0, client_order_id="dup-1"))
    # message: alpaca-py#260; 422 is what third-party clients record (no Alpaca text found)
    with pytest.raises(APIError) as dup:
        trading.submit_order(limit(price=100.0, client_order_id="dup-1"))
    assert dup.value.status_code == 422 and dup.value.message == "client_order_id must be unique"
    # 404 (alpaca-py test_order_routes.py test_cancel_order_throws_not_found_error); code
    # 40410000 as for a missing position (Alpaca-API#215) or route (Alpaca-API#137)
    with pytest.raises(APIError) as missing:
        trading.get_order_by_id("00000000-0000-4000-8000-000000000000")
    assert missing.value.status_code == 404 and missing.value.code == 40410000
    unknown = http(emu, "GET", "/v2/nothing-here")
    # {"code":40410000,"message":"endpoint not found"} (Alpaca-API#137): JSON, not text
    assert unknown.status_code == 404 and unknown.json()["code"] == 40410000


def test_wash_trade_forms(trading, emu):
    # 403/40310000 (forum.alpaca.markets t/13817) by default; 422/42210000
    # (Petersoj/alpaca-java#145) selectable. Any open opposite-side order is refused
    # (forum t/18200); Alpaca's docs only refuse crossing limits (see order_checks.py)
    set_faults(emu, "limit_fills=false")
    trading.submit_order(limit(price=100.0))
    with pytest.raises(APIError) as wash:
        trading.submit_order(limit(side=OrderSide.SELL, price=400.0))
    assert wash.value.status_code == 403 and "wash trade" in wash.value.message
    set_faults(emu, "wash_trade_422")
    with pytest.raises(APIError) as wash422:
        trading.submit_order(limit(side=OrderSide.SELL, price=400.0))
    assert wash422.value.status_code == 422 and wash422.value.code == 42210000


def test_positions_qty_available_and_closing(trading, emu):
    set_faults(emu, "limit_fills=false")
    aapl = trading.get_open_position("AAPL")
    assert isinstance(aapl, Position) and aapl.qty == "60" and aapl.qty_available == "60"
    trading.submit_order(limit(side=OrderSide.SELL, qty=10, price=400.0))
    # spec Position.qty_available: "Total number of shares available minus open orders"
    assert trading.get_open_position("AAPL").qty_available == "50"
    assert D(aapl.unrealized_pl) == D(aapl.market_value) - D(aapl.cost_basis)  # spec Position
    # spec deleteOpenPosition: qty or percentage; answers the closing Order
    closing = trading.close_position("SPY", ClosePositionRequest(qty="5"))
    assert isinstance(closing, Order) and closing.side == OrderSide.SELL and closing.qty == "5"
    half = trading.close_position("BND", ClosePositionRequest(percentage="50"))
    assert half.qty == "20"
    # a whole position sells whole shares even of a fractionable asset (spec
    # deleteOpenPosition: "Would only sell fractional if position is originally fractional")
    assert trading.get_asset("AAPL").fractionable
    part = trading.close_position("AAPL", ClosePositionRequest(percentage="12.5"))  # of 60: 7.5
    assert part.qty is not None and D(part.qty) % 1 == 0 and D(part.qty) > 0
    with pytest.raises(APIError) as none:  # 404/40410000 (Alpaca-API#215, alpaca-trade-api-go#269)
        trading.get_open_position("GLD")
    assert none.value.status_code == 404 and none.value.message == "position does not exist"
    set_faults(emu, "limit_fills=true")
    # spec deleteAllOpenPositions: 207, one PositionClosedReponse {symbol, status, body} each
    results = trading.close_all_positions(cancel_orders=True)
    assert {r.symbol for r in results} >= {"AAPL", "MSFT", "TSLA"}
    assert all(r.status == 200 for r in results)


def test_credentials_are_always_required_and_refusals_take_alpacas_forms(emu):
    # no credentials: 401 (alpaca.markets/learn/how-to-fix-common-trading-api-errors-at-alpaca);
    # body {"code":40110000,"message":"request is not authorized"} (alpaca-py#391)
    assert http(emu, "GET", "/v2/account", auth=False).status_code == 401
    wrong = {"APCA-API-KEY-ID": "PKCONFORM", "APCA-API-SECRET-KEY": "nope"}
    refused = http(emu, "GET", "/v2/account", auth=False, headers=wrong)
    # 403 {"message": "forbidden."} (Alpaca-API#228, alpaca-py#347)
    assert refused.status_code == 403 and refused.json() == {"message": "forbidden."}
    set_faults(emu, "auth_error=401")  # 401/40110000 "access key verification failed" (Alpaca-API#186)
    assert http(emu, "GET", "/v2/account", auth=False, headers=wrong).json()["code"] == 40110000
    set_faults(emu, "auth_error=html")
    html = http(emu, "GET", "/v2/account", auth=False, headers=wrong)
    # an nginx HTML 403 (alpaca-trade-api-csharp#244)
    assert html.status_code == 403 and html.text.lstrip().startswith("<html>")


def test_rate_limit_headers_on_every_answer_and_429_when_spent(emu):
    # 200/min per account (alpaca.markets/support/usage-limit-api-calls); X-RateLimit-Limit/
    # Remaining/Reset on every Trading API answer, Reset in epoch seconds (forum t/12029;
    # spec components.headers ratelimit_reset "The UNIX epoch")
    first = http(emu, "GET", "/v2/clock")
    assert first.headers["X-RateLimit-Limit"] == "200"
    assert int(first.headers["X-RateLimit-Remaining"]) == 199
    assert int(first.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert http(emu, "GET", "/v2/nothing").headers["X-RateLimit-Remaining"] == "198"
    set_faults(emu, "rate_limit=3")
    answers = [http(emu, "GET", "/v2/clock") for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    assert answers[-1].json()["message"] == "rate limit exceeded"  # alpaca-trade-api-csharp#416
