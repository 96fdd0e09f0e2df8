"""``/_sim/...``: inspect and steer a running emulator (no credentials, not rate limited).

- ``GET /_sim/state``: the simulated account, orders, faults and request counts
- ``GET|POST /_sim/faults``: ``{"set": ["http_429=3", ...], "clear": true}``
- ``POST /_sim/reset``: ``{"seed": 7, "cash": "25000", "empty": false}``
- ``POST /_sim/drop-streams``: close every WebSocket
- ``GET|DELETE /_sim/requests``: requests received, by method and route
- ``GET /_sim/log?limit=N``: the last requests (method, path, status, latency, remaining)
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.sim.emulator.app import AlpacaEmulator, emulator_of
from alchemiser_cli.brokers.sim.emulator.faults import EmulatorFaults, apply_emulator_fault
from alchemiser_cli.brokers.sim.emulator.wire import error
from alchemiser_cli.brokers.sim.faults import active_faults
from alchemiser_cli.brokers.sim.state import SimFaults, SimState, demo_state

ROUTES = web.RouteTableDef()


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    raw = await request.json()
    return raw if isinstance(raw, dict) else {}


def faults_view(emu: AlpacaEmulator) -> dict[str, Any]:
    defaults = asdict(EmulatorFaults())
    http = {k: v for k, v in asdict(emu.http).items() if v != defaults[k]}
    return {"faults": asdict(emu.sim.state.faults), "http": asdict(emu.http),
            "active": {**active_faults(emu.sim.state.faults), **http}}


@ROUTES.get("/_sim/faults")
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(faults_view(emulator_of(request)))


@ROUTES.post("/_sim/faults")
async def set_faults(request: web.Request) -> web.Response:
    emu = emulator_of(request)
    body = await _body(request)
    if body.get("clear"):
        emu.sim.state.faults = SimFaults()
        emu.http = EmulatorFaults()
    for item in body.get("set", []):
        try:
            apply_emulator_fault(emu.http, emu.sim.state.faults, str(item))
        except ValueError as exc:
            return error(422, 40010001, str(exc))
    return web.json_response(faults_view(emu))


@ROUTES.get("/_sim/state")
async def state(request: web.Request) -> web.Response:
    emu = emulator_of(request)
    data = json.loads(emu.sim.state.to_json())
    data["http_faults"] = asdict(emu.http)
    data["active_faults"] = faults_view(emu)["active"]
    data["requests"] = dict(emu.counts)
    return web.json_response(data)


@ROUTES.post("/_sim/reset")
async def reset(request: web.Request) -> web.Response:
    emu = emulator_of(request)
    body = await _body(request)
    fresh: SimState = demo_state(int(body.get("seed", emu.sim.state.seed)))
    if body.get("empty"):
        fresh.positions = {}
    if body.get("cash") is not None:
        try:
            cash = Decimal(str(body["cash"]))
        except InvalidOperation:
            return error(422, 40010001, "cash must be a number")
        if cash < 0:
            return error(422, 40010001, "cash must not be negative")
        fresh.cash = str(cash)
    fresh.now = emu.sim.state.now
    for f in fields(SimState):  # in place: tests and the ticker hold this object
        setattr(emu.sim.state, f.name, getattr(fresh, f.name))
    emu.http = EmulatorFaults(rate_limit=emu.http.rate_limit)
    emu.quota.clear()
    emu.counts.clear()
    return web.json_response({"reset": True, "seed": fresh.seed, "cash": fresh.cash})


@ROUTES.post("/_sim/drop-streams")
async def drop_streams(request: web.Request) -> web.Response:
    return web.json_response({"dropped": await emulator_of(request).close_sockets()})


@ROUTES.get("/_sim/requests")
async def requests(request: web.Request) -> web.Response:
    counts = emulator_of(request).counts
    return web.json_response({"counts": dict(sorted(counts.items())),
                              "total": sum(counts.values())})


@ROUTES.delete("/_sim/requests")
async def clear_requests(request: web.Request) -> web.Response:
    emulator_of(request).counts.clear()
    return web.json_response({"counts": {}, "total": 0})


@ROUTES.get("/_sim/log")
async def log(request: web.Request) -> web.Response:
    emu = emulator_of(request)
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return error(422, 40010001, "limit must be a number")
    rows = list(emu.recent)[-limit:] if limit > 0 else []
    return web.json_response([r.to_json() for r in rows])
