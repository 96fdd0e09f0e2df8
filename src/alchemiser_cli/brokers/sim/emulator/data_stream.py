"""The market-data WebSocket (``/v2/iex``, ``/v2/sip``, ``/v2/test``): msgpack frames.

Protocol (alpacahq/alpaca-docs content/api-references/market-data-api/stock-pricing-data/
realtime.md, checked against alpaca-py data/live/websocket.py): greeting
``[{"T":"success","msg":"connected"}]``; ``{"action":"auth","key","secret"}`` ->
``authenticated`` or ``[{"T":"error","code":402,"msg":"auth failed"}]``; subscriptions to
``trades``, ``quotes`` and ``bars`` answered with the whole ``subscription`` list; quotes
``T:q``, trades ``T:t``, bars ``T:b``. Frames are always msgpack, which alpaca-py asks
for (``Content-Type: application/msgpack``; realtime.md's default is JSON text), with
``t`` a msgpack Timestamp (alpaca-py ``_cast`` calls ``msg["t"].to_datetime()``). Error
codes from realtime.md: 400 invalid syntax, 401 not authenticated, 402 auth failed,
403 already authenticated, 406 connection limit exceeded, 409 insufficient subscription
(sent at auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from alchemiser_cli.brokers.sim.emulator.app import AlpacaEmulator, emulator_of, open_socket
from alchemiser_cli.brokers.sim.emulator.market_data import bar_json, trade_json

ROUTES = web.RouteTableDef()
CHANNELS = ("trades", "quotes", "bars")
EMPTY_CHANNELS = ("updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")


def _stamp(iso_text: str) -> msgpack.Timestamp:
    return msgpack.Timestamp.from_datetime(datetime.fromisoformat(iso_text.replace("Z", "+00:00")))


class DataSession:
    """One connection: its subscriptions and the pump that sends market data."""

    def __init__(self, emu: AlpacaEmulator, ws: web.WebSocketResponse) -> None:
        self.emu = emu
        self.ws = ws
        self.subs: dict[str, set[str]] = {c: set() for c in CHANNELS}
        self._last_bar = 0.0

    async def send(self, items: list[dict[str, Any]]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_bytes(msgpack.packb(items, datetime=False))

    def _symbols(self, channel: str) -> list[str]:
        symbols = self.subs[channel]
        if "*" in symbols:
            return [s.symbol for s in self.emu.sim.listed_specs()]
        return sorted(s for s in symbols if self.emu.sim.spec(s) is not None)

    def batch(self, now: float) -> list[dict[str, Any]]:
        sim = self.emu.sim
        items: list[dict[str, Any]] = []
        for symbol in self._symbols("quotes"):
            q = sim._quote(symbol)
            items.append({"T": "q", "S": symbol, "bx": "V", "bp": float(q.bid),
                          "bs": int(q.bid_size), "ax": "V", "ap": float(q.ask),
                          "as": int(q.ask_size), "t": msgpack.Timestamp.from_datetime(q.timestamp),
                          "c": ["R"], "z": "C"})
        for symbol in self._symbols("trades"):
            trade = trade_json(sim, symbol)
            items.append({"T": "t", "S": symbol, **trade, "t": _stamp(trade["t"])})
        if self.subs["bars"] and now - self._last_bar >= self.emu.bar_interval:
            self._last_bar = now
            start = sim._clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
            for symbol in self._symbols("bars"):
                bar = bar_json(sim, symbol, start, 60)
                items.append({"T": "b", "S": symbol, **bar, "t": _stamp(bar["t"])})
        return items

    async def pump(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_bar = loop.time()
        while not self.ws.closed:
            await asyncio.sleep(self.emu.quote_interval)
            if self.emu.sim.state.faults.stream_down:
                continue
            items = self.batch(loop.time())
            if items:
                await self.send(items)

    def subscription(self) -> dict[str, Any]:
        return {"T": "subscription", **{c: sorted(self.subs[c]) for c in CHANNELS},
                **{c: [] for c in EMPTY_CHANNELS}}

    def change(self, action: str, data: dict[str, Any]) -> None:
        for channel in CHANNELS:
            symbols = {str(s).upper() if s != "*" else "*" for s in data.get(channel) or []}
            if action == "subscribe":
                self.subs[channel] |= symbols
            else:
                self.subs[channel] -= symbols


def _decode(msg: Any) -> dict[str, Any]:
    data = msgpack.unpackb(msg.data) if msg.type is WSMsgType.BINARY else json.loads(msg.data)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


async def market_data(request: web.Request) -> web.WebSocketResponse:
    emu = emulator_of(request)
    feed = request.path.rsplit("/", 1)[-1]
    ws = await open_socket(request)
    if ws.closed:
        return ws
    session = DataSession(emu, ws)
    pusher: asyncio.Task[None] | None = None
    try:
        await session.send([{"T": "success", "msg": "connected"}])
        authed = False
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                break
            try:
                data = _decode(msg)
            except (ValueError, TypeError, msgpack.UnpackException):
                await session.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
                continue
            action = data.get("action")
            if action == "auth":
                if authed:
                    await session.send([{"T": "error", "code": 403, "msg": "already authenticated"}])
                    continue
                key = data.get("key")
                if not emu.credentials_ok(key, data.get("secret")):
                    await session.send([{"T": "error", "code": 402, "msg": "auth failed"}])
                    break
                if feed == "sip" and emu.http.sip_refused:
                    await session.send([{"T": "error", "code": 409,
                                         "msg": "insufficient subscription"}])
                    break
                if emu.http.stream_connection_limit and str(key) in emu.data_sockets.values():
                    await session.send([{"T": "error", "code": 406,
                                         "msg": "connection limit exceeded"}])
                    break
                authed = True
                emu.data_sockets[ws] = str(key)
                await session.send([{"T": "success", "msg": "authenticated"}])
                pusher = asyncio.create_task(session.pump())
            elif not authed:
                await session.send([{"T": "error", "code": 401, "msg": "not authenticated"}])
            elif action in ("subscribe", "unsubscribe"):
                session.change(action, data)
                await session.send([session.subscription()])
            else:
                await session.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
    finally:
        if pusher is not None:
            pusher.cancel()
        emu.sockets.discard(ws)
        emu.data_sockets.pop(ws, None)
    return ws


for _feed in ("iex", "sip", "test", "delayed_sip"):
    ROUTES.get(f"/v2/{_feed}")(market_data)
