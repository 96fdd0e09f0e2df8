"""The ``trade_updates`` WebSocket at ``/stream`` (alpaca-py) and ``/stream/`` (the legacy
alpaca-trade-api connects there: its stream.py builds ``base_url + '/stream/'``).

Protocol (alpacahq/alpaca-docs content/api-references/trading-api/streaming.md, checked
against alpaca-py trading/stream.py): no greeting; ``{"action":"authenticate","data":
{"key_id","secret_key"}}`` -> ``{"stream":"authorization","data":{"status":"authorized"|
"unauthorized",...}}``; ``{"action":"listen","data":{"streams":["trade_updates"]}}`` ->
``listening``. Paper sends JSON in binary frames (streaming.md). A ``fill``/
``partial_fill`` event carries that execution's ``qty`` and ``price`` (alpacahq/Alpaca-API#103;
the order carries the cumulative ``filled_qty``/``filled_avg_price``), ``position_qty``,
``execution_id`` and ``timestamp`` (streaming.md's fill example; alpaca-py TradeUpdate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from alchemiser_cli.brokers.sim.emulator.app import AlpacaEmulator, emulator_of, open_socket
from alchemiser_cli.brokers.sim.emulator.wire import iso, num, order_json, qty_text
from alchemiser_cli.domain.orders import TradeUpdate

ROUTES = web.RouteTableDef()


def update_json(emu: AlpacaEmulator, update: TradeUpdate) -> dict[str, Any]:
    rec = emu.sim.state.orders[update.order.id]
    data: dict[str, Any] = {"event": update.event, "order": order_json(rec, update.order),
                            "timestamp": iso(update.timestamp)}
    if update.qty is not None:
        data.update({"execution_id": update.execution_id, "qty": qty_text(update.qty),
                     "price": num(update.price), "position_qty": qty_text(update.position_qty)})
    return {"stream": "trade_updates", "data": data}


async def _send(ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_bytes(json.dumps(payload).encode())


async def trading(request: web.Request) -> web.WebSocketResponse:
    emu = emulator_of(request)
    ws = await open_socket(request)
    if ws.closed:
        return ws
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # keeps the events in order

    def listener(update: TradeUpdate) -> None:
        if not ws.closed and update.order.id in emu.sim.state.orders:
            outbox.put_nowait(update_json(emu, update))

    async def writer() -> None:
        while True:
            await _send(ws, await outbox.get())

    sender = asyncio.create_task(writer())
    listening = False
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                break
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue
            action = data.get("action") if isinstance(data, dict) else None
            if action == "authenticate":
                creds = data.get("data") or {}
                ok = emu.credentials_ok(creds.get("key_id"), creds.get("secret_key"))
                outbox.put_nowait({"stream": "authorization", "data": {
                    "status": "authorized" if ok else "unauthorized", "action": "authenticate"}})
                if not ok:
                    await asyncio.sleep(0.05)  # let the answer go out before closing
                    break
            elif action == "listen":
                streams = (data.get("data") or {}).get("streams", [])
                if "trade_updates" in streams and not listening:
                    listening = True
                    emu.trade_listeners.append(listener)
                outbox.put_nowait({"stream": "listening", "data": {"streams": streams}})
    finally:
        if listening:
            emu.trade_listeners.remove(listener)
        sender.cancel()
        emu.sockets.discard(ws)
    return ws


ROUTES.get("/stream")(trading)
ROUTES.get("/stream/")(trading)
