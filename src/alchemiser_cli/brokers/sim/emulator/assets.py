"""``/v2/assets`` (list with filters) and ``/v2/assets/{symbol_or_id}``.

Filters per Alpaca's "Get assets" reference (docs.alpaca.markets/reference/get-v2-assets):
``status``, ``asset_class``, ``exchange``, ``attributes`` (comma separated).
"""

from __future__ import annotations

from aiohttp import web

from alchemiser_cli.brokers.sim.emulator.app import emulator_of
from alchemiser_cli.brokers.sim.emulator.wire import asset_id, asset_json, error
from alchemiser_cli.brokers.sim.market import SymbolSpec

ROUTES = web.RouteTableDef()


def find_spec(request: web.Request, symbol_or_id: str) -> SymbolSpec | None:
    sim = emulator_of(request).sim
    spec = sim.spec(symbol_or_id.upper())
    if spec is not None:
        return spec
    for candidate in sim.listed_specs():
        if asset_id(candidate.symbol) == symbol_or_id:
            return candidate
    return None


@ROUTES.get("/v2/assets")
async def list_assets(request: web.Request) -> web.Response:
    query = request.query
    rows = [asset_json(s) for s in emulator_of(request).sim.listed_specs()]
    if (status := query.get("status")) is not None:
        rows = [r for r in rows if r["status"] == status]
    if (klass := query.get("asset_class")) is not None:
        rows = [r for r in rows if r["class"] == klass]
    if (exchange := query.get("exchange")) is not None:
        rows = [r for r in rows if r["exchange"] == exchange]
    if attributes := [a for a in query.get("attributes", "").split(",") if a]:
        rows = [r for r in rows if set(attributes) & set(r["attributes"])]
    return web.json_response(rows)


@ROUTES.get("/v2/assets/{symbol}")
async def get_asset(request: web.Request) -> web.Response:
    spec = find_spec(request, request.match_info["symbol"])
    if spec is None:
        return error(404, 40410000, "asset not found")
    return web.json_response(asset_json(spec))
