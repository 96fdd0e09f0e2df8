"""``/v2/orders``: submit, list (with Alpaca's filters), get, by client id, replace, cancel,
cancel all.

Facts: alpaca-py trading/client.py (routes, query strings), Alpaca's OpenAPI
``getAllOrders`` (``status`` open|closed|all, ``limit`` default 50 and at most 500,
``after``, ``until``, ``direction``, ``nested``, ``side``, ``symbols``), cancel-all's 207
body (alpaca-py tests/trading/trading_client/test_order_routes.py ``test_cancel_orders``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.port import BrokerError, NotFoundError
from alchemiser_cli.brokers.sim.emulator.app import emulator_of
from alchemiser_cli.brokers.sim.emulator.wire import error, order_json
from alchemiser_cli.brokers.sim.order_checks import OrderSpec
from alchemiser_cli.brokers.sim.state import SimOrderRecord
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import parse_decimal
from alchemiser_cli.domain.orders import OrderStatus, OrderType

ROUTES = web.RouteTableDef()
MAX_LIMIT = 500
SUPPORTED_TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT}


def _decimal(body: dict[str, Any], name: str) -> Decimal | None:
    raw = body.get(name)
    return None if raw is None or raw == "" else parse_decimal(raw, name)


def _record(request: web.Request, order_id: str) -> SimOrderRecord:
    rec = emulator_of(request).sim.state.orders.get(order_id)
    if rec is None:
        raise NotFoundError("order not found", status=404, code=40410000)
    return rec


def _valid_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_spec(body: dict[str, Any]) -> OrderSpec | web.Response:
    """An order POST body (numbers or strings, as alpaca-py and the spec send them)."""
    if not isinstance(body, dict) or not body.get("symbol"):
        return error(422, 40010001, "symbol is required")
    kind = str(body.get("type") or body.get("order_type") or "")
    if kind not in SUPPORTED_TYPES:
        if kind in ("stop", "stop_limit", "trailing_stop"):
            return error(422, 42210000, f"order type {kind} is not supported by the emulator")
        return error(422, 40010001, f"invalid order type {kind!r}")
    if (body.get("order_class") or "simple") != "simple":
        return error(422, 42210000, "only simple orders are supported by the emulator")
    side = str(body.get("side") or "")
    if side not in ("buy", "sell"):
        return error(422, 40010001, f"invalid side {side!r}")
    tif = body.get("time_in_force")
    if not tif:
        return error(422, 40010001, "time_in_force is required")
    cid = body.get("client_order_id")
    if cid is not None and len(str(cid)) > 128:  # trading-api.json postOrder maxLength 128
        return error(422, 40010001, "client_order_id must be no more than 128 characters")
    return OrderSpec(
        symbol=str(body["symbol"]).upper(), side=Side(side), type=SUPPORTED_TYPES[kind],
        qty=_decimal(body, "qty"), notional=_decimal(body, "notional"),
        limit_price=_decimal(body, "limit_price"), time_in_force=str(tif).lower(),
        client_order_id=None if cid is None else str(cid),
        extended_hours=bool(body.get("extended_hours")))


@ROUTES.post("/v2/orders")
async def submit(request: web.Request) -> web.Response:
    spec = parse_spec(await request.json())
    if isinstance(spec, web.Response):
        return spec
    sim = emulator_of(request).sim
    order = await sim.submit(spec)
    return web.json_response(order_json(sim.state.orders[order.id]))


def _when(raw: str) -> datetime:
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {raw} has no time zone")
    return parsed


@ROUTES.get("/v2/orders")
async def list_orders(request: web.Request) -> web.Response:
    query = request.query
    status = query.get("status", "open")
    if status not in ("open", "closed", "all"):
        return error(422, 40010001, f"invalid status {status!r}: use open, closed or all")
    direction = query.get("direction", "desc")
    if direction not in ("asc", "desc"):
        return error(422, 40010001, f"invalid direction {direction!r}")
    try:
        limit = min(int(query.get("limit", "50")), MAX_LIMIT)
        after = _when(query["after"]) if query.get("after") else None
        until = _when(query["until"]) if query.get("until") else None
    except ValueError as exc:
        return error(422, 40010001, f"invalid request: {exc}")
    symbols = {s.strip().upper() for s in query.get("symbols", "").split(",") if s.strip()}
    side = query.get("side")
    rows = []
    for rec in emulator_of(request).sim.state.orders.values():
        terminal = OrderStatus.parse(rec.status).terminal
        created = datetime.fromisoformat(rec.created_at)
        if ((status == "open" and terminal) or (status == "closed" and not terminal)
                or (symbols and rec.symbol not in symbols) or (side and rec.side != side)
                or (after is not None and created <= after)
                or (until is not None and created >= until)):
            continue
        rows.append(rec)
    rows.sort(key=lambda r: r.created_at, reverse=direction == "desc")
    return web.json_response([order_json(r) for r in rows[:max(limit, 0)]])


@ROUTES.get("/v2/orders:by_client_order_id")
async def by_client_order_id(request: web.Request) -> web.Response:
    cid = request.query.get("client_order_id", "")
    for rec in emulator_of(request).sim.state.orders.values():
        if rec.client_order_id == cid:
            return web.json_response(order_json(rec))
    return error(404, 40410000, "order not found")


@ROUTES.get("/v2/orders/{order_id}")
async def get_order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    if not _valid_uuid(order_id):  # Alpaca-API#135
        return error(422, 40010001, "order_id is missing")
    await emulator_of(request).sim.get_order(order_id)  # counts as a read; 404 if unknown
    return web.json_response(order_json(_record(request, order_id)))


@ROUTES.delete("/v2/orders/{order_id}")
async def cancel(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    if not _valid_uuid(order_id):
        return error(422, 40010001, "order_id is missing")
    await emulator_of(request).sim.cancel_order(order_id)
    return web.Response(status=204)


@ROUTES.delete("/v2/orders")
async def cancel_all(request: web.Request) -> web.Response:
    """207 with one ``{id, status, body?}`` per open order."""
    sim = emulator_of(request).sim
    results: list[dict[str, Any]] = []
    for rec in list(sim.state.orders.values()):
        if OrderStatus.parse(rec.status).terminal:
            continue
        try:
            await sim.cancel_order(rec.id)
            results.append({"id": rec.id, "status": 200})
        except BrokerError as exc:
            results.append({"id": rec.id, "status": exc.status or 500,
                            "body": {"code": exc.code, "message": str(exc)}})
    return web.json_response(results, status=207)


@ROUTES.patch("/v2/orders/{order_id}")
async def replace(request: web.Request) -> web.Response:
    body = await request.json()
    sim = emulator_of(request).sim
    tif = body.get("time_in_force")
    order = await sim.replace_order(
        request.match_info["order_id"], _decimal(body, "qty"), _decimal(body, "limit_price"),
        body.get("client_order_id"), None if tif is None else str(tif).lower())
    return web.json_response(order_json(sim.state.orders[order.id]))
