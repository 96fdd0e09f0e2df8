"""``/v2/positions``: list, get, close one (``qty`` or ``percentage``), close all.

Shapes: alpaca-py tests/trading/trading_client/test_position_routes.py and Alpaca's OpenAPI
trading-api.json ("spec"): a close answers with the closing Order (spec deleteOpenPosition:
``qty`` or ``percentage``, not both; a percentage sells a fraction only if the position is
fractional); close-all answers 207 with ``{symbol, status, body}`` each (spec
deleteAllOpenPositions, PositionClosedReponse). ``qty_available`` is the position less
open orders (spec Position.qty_available). A missing position is 404/40410000 "position
does not exist" (alpacahq/Alpaca-API#215, alpacahq/alpaca-trade-api-go#269).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.port import BrokerError
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.emulator.app import emulator_of
from alchemiser_cli.brokers.sim.emulator.assets import find_spec
from alchemiser_cli.brokers.sim.emulator.wire import asset_id, error, exchange, num, order_json, qty_text
from alchemiser_cli.brokers.sim.order_checks import OrderSpec
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import FRACTIONAL_STEP, ZERO, round_to_tick
from alchemiser_cli.domain.orders import OrderStatus, OrderType

ROUTES = web.RouteTableDef()


def last_price(sim: SimBroker, symbol: str) -> Decimal:
    return round_to_tick(sim.mid(symbol))


def position_json(sim: SimBroker, symbol: str) -> dict[str, Any] | None:
    qty, cost = sim.visible_position(symbol)
    spec = sim.spec(symbol)
    if qty == ZERO or spec is None:
        return None
    price = last_price(sim, symbol)
    lastday = spec.price
    value = qty * price
    pl = value - cost
    selling = sim._open_qty(symbol, Side.SELL)
    return {
        "asset_id": asset_id(symbol), "symbol": symbol, "exchange": exchange(symbol),
        "asset_class": "us_equity", "asset_marginable": True, "qty": qty_text(qty),
        "qty_available": qty_text(max(qty - selling, ZERO)), "avg_entry_price": num(cost / qty),
        "side": "long", "market_value": num(value, 2), "cost_basis": num(cost, 2),
        "unrealized_pl": num(pl, 2), "unrealized_plpc": num(pl / cost if cost else ZERO),
        "unrealized_intraday_pl": num(qty * (price - lastday), 2),
        "unrealized_intraday_plpc": num(price / lastday - 1),
        "current_price": num(price), "lastday_price": num(lastday),
        "change_today": num(price / lastday - 1),
    }


@ROUTES.get("/v2/positions")
async def positions(request: web.Request) -> web.Response:
    sim = emulator_of(request).sim
    rows = [position_json(sim, p.symbol) for p in await sim.get_positions()]
    return web.json_response([r for r in rows if r is not None])


def _symbol(request: web.Request) -> str:
    raw = request.match_info["symbol"]
    spec = find_spec(request, raw)
    return spec.symbol if spec is not None else raw.upper()


@ROUTES.get("/v2/positions/{symbol}")
async def position(request: web.Request) -> web.Response:
    sim = emulator_of(request).sim
    row = position_json(sim, _symbol(request)) if await sim.get_position(_symbol(request)) else None
    if row is None:
        return error(404, 40410000, "position does not exist")
    return web.json_response(row)


async def _close(sim: SimBroker, symbol: str, qty: Decimal) -> dict[str, Any]:
    order = await sim.submit(OrderSpec(symbol, Side.SELL, OrderType.MARKET, qty))
    return order_json(sim.state.orders[order.id])


@ROUTES.delete("/v2/positions/{symbol}")
async def close_position(request: web.Request) -> web.Response:
    sim = emulator_of(request).sim
    symbol = _symbol(request)
    held, _ = sim.visible_position(symbol)
    if held <= ZERO:
        return error(404, 40410000, "position does not exist")
    query = request.query
    if "qty" in query and "percentage" in query:
        return error(422, 40010001, "only one of qty or percentage may be specified")
    qty = held
    if "qty" in query:
        qty = Decimal(query["qty"])
    elif "percentage" in query:
        share = Decimal(query["percentage"])
        if not ZERO < share <= 100:
            return error(422, 40010001, "percentage must be between 0 and 100")
        # spec deleteOpenPosition percentage: "Would only sell fractional if position is
        # originally fractional"
        step = FRACTIONAL_STEP if held % 1 else Decimal(1)
        qty = (held * share / 100 / step).to_integral_value(ROUND_FLOOR) * step
    return web.json_response(await _close(sim, symbol, qty))


@ROUTES.delete("/v2/positions")
async def close_all(request: web.Request) -> web.Response:
    sim = emulator_of(request).sim
    if request.query.get("cancel_orders", "").lower() == "true":
        for rec in list(sim.state.orders.values()):
            if not OrderStatus.parse(rec.status).terminal:
                sim._terminate(rec, OrderStatus.CANCELED, "canceled")
    results = []
    for pos in await sim.get_positions():
        try:
            body = await _close(sim, pos.symbol, pos.qty)
            results.append({"symbol": pos.symbol, "status": 200, "order_id": body["id"],
                            "body": body})
        except BrokerError as exc:
            results.append({"symbol": pos.symbol, "status": exc.status or 500,
                            "body": {"code": exc.code, "message": str(exc), "symbol": pos.symbol}})
    return web.json_response(results, status=207)
