"""An Alpaca-compatible server on loopback in front of the simulator.

REST ``/v2/...`` with Alpaca's JSON shapes and error bodies, the msgpack
market-data WebSocket (``/v2/iex``, ``/v2/sip``, ``/v2/test``) and the
``trade_updates`` WebSocket (``/stream``), so the real alpaca-py clients and our
Alpaca adapter run end to end. Faults are switched over ``POST /_sim/faults``:
every simulator fault plus HTTP-level ones (429 bursts, 5xx, slow responses)
and ``POST /_sim/drop-streams``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from alchemiser_cli.brokers.port import (
    BrokerError,
    NotFoundError,
    RateLimitedError,
    TransientBrokerError,
)
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.faults import apply_fault
from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.clock import LoopClock
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import parse_decimal
from alchemiser_cli.domain.orders import Order, OrderRequest, OrderStatus, OrderType, TradeUpdate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class HttpFaults:
    http_429: int = 0  # the next N REST requests answer 429
    http_5xx: int = 0  # the next N REST requests answer 500
    slow_seconds: float = 0.0  # every REST response is delayed this long
    refuse_streams: bool = False  # WebSocket connections are closed at once (a stream outage)
    fail_path: str = ""  # every REST request to this path answers 500


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alch-sim/{symbol}"))


def order_json(order: Order) -> dict[str, Any]:
    terminal_at = _iso(order.updated_at)
    return {
        "id": order.id, "client_order_id": order.client_order_id,
        "created_at": _iso(order.created_at), "updated_at": _iso(order.updated_at),
        "submitted_at": _iso(order.created_at),
        "filled_at": terminal_at if order.status is OrderStatus.FILLED else None,
        "expired_at": None,
        "canceled_at": terminal_at if order.status is OrderStatus.CANCELED else None,
        "failed_at": terminal_at if order.status is OrderStatus.REJECTED else None,
        "replaced_at": terminal_at if order.status is OrderStatus.REPLACED else None,
        "replaced_by": None, "replaces": None,
        "asset_id": _asset_id(order.symbol), "symbol": order.symbol, "asset_class": "us_equity",
        "notional": None, "qty": str(order.qty), "filled_qty": str(order.filled_qty),
        "filled_avg_price": None if order.filled_avg_price is None else str(order.filled_avg_price),
        "order_class": "simple", "order_type": order.type.value, "type": order.type.value,
        "side": order.side.value, "time_in_force": "day",
        "limit_price": None if order.limit_price is None else str(order.limit_price),
        "stop_price": None, "status": order.status.value, "extended_hours": False,
        "legs": None, "trail_percent": None, "trail_price": None, "hwm": None,
    }


def _error(status: int, code: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"code": code, "message": message, **extra}, status=status)


class AlpacaEmulator:
    """The aiohttp application. ``key``/``secret``, when set, must match every request."""

    def __init__(self, sim: SimBroker, *, key: str | None = None, secret: str | None = None,
                 quote_interval: float = 0.2) -> None:
        self.sim = sim
        self.key = key
        self.secret = secret
        self.http = HttpFaults()
        self.quote_interval = quote_interval
        self._sockets: set[web.WebSocketResponse] = set()
        self._trade_sockets: set[web.WebSocketResponse] = set()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every REST request
        sim.listeners.append(self._broadcast_update)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/v2/account", self._account)
        r.add_get("/v2/clock", self._clock)
        r.add_get("/v2/assets/{symbol}", self._asset)
        r.add_get("/v2/positions", self._positions)
        r.add_get("/v2/positions/{symbol}", self._position)
        r.add_get("/v2/orders:by_client_order_id", self._order_by_client_id)
        r.add_get("/v2/orders", self._orders)
        r.add_post("/v2/orders", self._submit)
        r.add_get("/v2/orders/{order_id}", self._order)
        r.add_delete("/v2/orders/{order_id}", self._cancel)
        r.add_patch("/v2/orders/{order_id}", self._replace)
        r.add_get("/v2/stocks/quotes/latest", self._latest_quotes)
        for feed in ("iex", "sip", "test"):
            r.add_get(f"/v2/{feed}", self._market_data_ws)
        r.add_get("/stream", self._trading_ws)
        r.add_post("/_sim/faults", self._set_faults)
        r.add_get("/_sim/state", self._state)
        r.add_post("/_sim/drop-streams", self._drop_streams)
        return app

    # -- cross-cutting: auth, injected faults, error bodies ---------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim") or request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        self.requests.append((request.method, path))
        if self.key is not None and (
                request.headers.get("APCA-API-KEY-ID") != self.key
                or request.headers.get("APCA-API-SECRET-KEY") != self.secret):
            return _error(401, 40110000, "request is not authorized")
        if self.http.slow_seconds:
            await asyncio.sleep(self.http.slow_seconds)
        if self.http.http_429 > 0:
            self.http.http_429 -= 1
            reset = int(datetime.now(UTC).timestamp()) + 1
            response = _error(429, 42910000, "rate limit exceeded")
            response.headers.update({"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0",
                                     "X-RateLimit-Reset": str(reset)})
            return response
        if self.http.fail_path and path == self.http.fail_path:
            return _error(500, 50010000, "internal server error")
        if self.http.http_5xx > 0:
            self.http.http_5xx -= 1
            return _error(500, 50010000, "internal server error")
        try:
            result = await handler(request)
        except RateLimitedError as exc:
            return _error(429, 42910000, str(exc))
        except TransientBrokerError as exc:
            return _error(exc.status or 504, 50410000, str(exc))
        except BrokerError as exc:
            return _error(exc.status or 422, exc.code or 42210000, str(exc))
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            return _error(422, 40010001, f"invalid request: {exc}")
        result.headers.setdefault("X-RateLimit-Limit", "200")
        return result

    # -- REST ------------------------------------------------------------------------------------
    async def _account(self, _: web.Request) -> web.Response:
        a = await self.sim.get_account()
        return web.json_response({
            "id": "5f3c6a1e-0000-4000-8000-00000000a1c4", "account_number": "PA0SIMULATOR",
            "status": a.status, "crypto_status": "INACTIVE", "currency": "USD",
            "cash": str(a.cash), "buying_power": str(a.buying_power),
            "regt_buying_power": str(a.buying_power), "non_marginable_buying_power": str(a.cash),
            "equity": str(a.equity), "last_equity": str(a.equity), "portfolio_value": str(a.equity),
            "long_market_value": str(a.equity - a.cash), "short_market_value": "0",
            "initial_margin": "0", "maintenance_margin": "0", "multiplier": "1",
            "trading_blocked": a.trading_blocked, "transfers_blocked": False,
            "account_blocked": a.account_blocked, "trade_suspended_by_user": False,
            "shorting_enabled": False, "created_at": "2026-01-02T14:00:00Z", "sma": "0",
        })

    async def _clock(self, _: web.Request) -> web.Response:
        c = await self.sim.get_clock()
        return web.json_response({"timestamp": _iso(c.timestamp), "is_open": c.is_open,
                                  "next_open": _iso(c.next_open), "next_close": _iso(c.next_close)})

    async def _asset(self, request: web.Request) -> web.Response:
        a = await self.sim.get_asset(request.match_info["symbol"].upper())
        return web.json_response({
            "id": _asset_id(a.symbol), "class": "us_equity", "exchange": "NASDAQ",
            "symbol": a.symbol, "name": f"{a.symbol} (simulated)", "status": a.status,
            "tradable": a.tradable, "marginable": True, "shortable": False,
            "easy_to_borrow": False, "fractionable": a.fractionable,
            "min_order_size": "1" if not a.fractionable else "0.000000001",
            "price_increment": "0.01",
        })

    def _position_json(self, symbol: str, qty: Decimal, avg: Decimal, value: Decimal | None) -> dict[
            str, Any]:
        current = (value / qty) if value is not None and qty else avg
        return {
            "asset_id": _asset_id(symbol), "symbol": symbol, "exchange": "NASDAQ",
            "asset_class": "us_equity", "asset_marginable": True, "qty": str(qty),
            "qty_available": str(qty), "avg_entry_price": str(avg), "side": "long",
            "market_value": str(value if value is not None else qty * avg),
            "cost_basis": str(qty * avg), "unrealized_pl": "0", "unrealized_plpc": "0",
            "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0",
            "current_price": str(current), "lastday_price": str(current), "change_today": "0",
        }

    async def _positions(self, _: web.Request) -> web.Response:
        positions = await self.sim.get_positions()
        return web.json_response([self._position_json(p.symbol, p.qty, p.avg_entry_price,
                                                      p.market_value) for p in positions])

    async def _position(self, request: web.Request) -> web.Response:
        p = await self.sim.get_position(request.match_info["symbol"].upper())
        if p is None:
            return _error(404, 40410000, "position does not exist")
        return web.json_response(self._position_json(p.symbol, p.qty, p.avg_entry_price,
                                                     p.market_value))

    async def _orders(self, request: web.Request) -> web.Response:
        status = request.query.get("status", "open")
        limit = int(request.query.get("limit", "50"))
        if status == "open":
            orders = await self.sim.list_open_orders()
        else:
            orders = [await self.sim.get_order(o) for o in list(self.sim.state.orders)]
            if status == "closed":
                orders = [o for o in orders if o.status.terminal]
        orders.sort(key=lambda o: o.created_at, reverse=True)
        return web.json_response([order_json(o) for o in orders[:limit]])

    async def _order(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        try:
            uuid.UUID(order_id)
        except ValueError:
            return _error(422, 40010001, "order_id is missing")
        return web.json_response(order_json(await self.sim.get_order(order_id)))

    async def _order_by_client_id(self, request: web.Request) -> web.Response:
        order = await self.sim.get_order_by_client_id(request.query["client_order_id"])
        if order is None:
            raise NotFoundError("order not found", status=404, code=40410000)
        return web.json_response(order_json(order))

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("notional") is not None:
            return _error(422, 42210000, "notional orders are not supported by the emulator")
        if body.get("time_in_force") not in ("day", None):
            return _error(422, 42210000, "fractional orders must be DAY orders")
        kind = OrderType(str(body.get("type") or body.get("order_type")))
        limit = body.get("limit_price")
        req = OrderRequest(
            client_order_id=str(body.get("client_order_id") or uuid.uuid4()),
            symbol=str(body["symbol"]).upper(), side=Side(str(body["side"])),
            qty=parse_decimal(body["qty"], "qty"), type=kind,
            limit_price=None if limit is None else parse_decimal(limit, "limit_price"),
        )
        if len(req.client_order_id) > 128:
            return _error(422, 40010001, "client_order_id must be at most 128 characters")
        return web.json_response(order_json(await self.sim.submit_order(req)))

    async def _cancel(self, request: web.Request) -> web.Response:
        await self.sim.cancel_order(request.match_info["order_id"])
        return web.Response(status=204)

    async def _replace(self, request: web.Request) -> web.Response:
        body = await request.json()
        qty = body.get("qty")
        limit = body.get("limit_price")
        order = await self.sim.replace_order(
            request.match_info["order_id"],
            None if qty is None else parse_decimal(qty, "qty"),
            None if limit is None else parse_decimal(limit, "limit_price"),
            body.get("client_order_id"))
        return web.json_response(order_json(order))

    async def _latest_quotes(self, request: web.Request) -> web.Response:
        symbols = [s for s in request.query.get("symbols", "").split(",") if s]
        quotes: dict[str, Any] = {}
        for symbol in symbols:
            q = await self.sim.latest_quote(symbol.upper())
            if q is not None:
                quotes[symbol] = {"t": _iso(q.timestamp), "bp": float(q.bid), "bs": float(q.bid_size),
                                  "ap": float(q.ask), "as": float(q.ask_size), "bx": "V",
                                  "ax": "V", "c": ["R"], "z": "C"}
        return web.json_response({"quotes": quotes})

    # -- WebSockets ------------------------------------------------------------------------------
    def _auth_ok(self, key: object, secret: object) -> bool:
        if self.key is None:
            return bool(key) and bool(secret)
        return key == self.key and secret == self.secret

    async def _accept(self, request: web.Request) -> tuple[web.WebSocketResponse, bool]:
        """Upgrade the connection; during a simulated outage close it at once (False)."""
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        if self.http.refuse_streams:
            await ws.close()
            return ws, False
        self._sockets.add(ws)
        return ws, True

    async def _market_data_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws, accepted = await self._accept(request)
        if not accepted:
            return ws
        subscribed: set[str] = set()

        async def send(items: list[dict[str, Any]]) -> None:
            await ws.send_bytes(msgpack.packb(items, datetime=False))

        async def pump() -> None:
            while not ws.closed:
                await asyncio.sleep(self.quote_interval)
                if self.sim.state.faults.stream_down or not subscribed:
                    continue
                batch = []
                for symbol in sorted(subscribed):
                    if self.sim.spec(symbol) is None:
                        continue
                    q = self.sim._quote(symbol)
                    batch.append({"T": "q", "S": symbol, "bx": "V", "bp": float(q.bid),
                                  "bs": float(q.bid_size), "ax": "V", "ap": float(q.ask),
                                  "as": float(q.ask_size),
                                  "t": msgpack.Timestamp.from_datetime(q.timestamp),
                                  "c": ["R"], "z": "C"})
                if batch:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await send(batch)

        pusher: asyncio.Task[None] | None = None
        try:
            await send([{"T": "success", "msg": "connected"}])
            authed = False
            async for msg in ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    break
                data = (msgpack.unpackb(msg.data) if msg.type is WSMsgType.BINARY
                        else json.loads(msg.data))
                action = data.get("action")
                if action == "auth":
                    if authed:
                        await send([{"T": "error", "code": 403, "msg": "already authenticated"}])
                    elif self._auth_ok(data.get("key"), data.get("secret")):
                        authed = True
                        await send([{"T": "success", "msg": "authenticated"}])
                        pusher = asyncio.create_task(pump())
                    else:
                        await send([{"T": "error", "code": 402, "msg": "auth failed"}])
                        break
                elif not authed:
                    await send([{"T": "error", "code": 401, "msg": "not authenticated"}])
                elif action in ("subscribe", "unsubscribe"):
                    symbols = {str(s).upper() for s in data.get("quotes", [])}
                    if action == "subscribe":
                        subscribed |= symbols
                    else:
                        subscribed -= symbols
                    await send([{"T": "subscription", "trades": [], "quotes": sorted(subscribed),
                                 "bars": [], "updatedBars": [], "dailyBars": [], "statuses": [],
                                 "lulds": [], "corrections": [], "cancelErrors": []}])
                else:
                    await send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
        finally:
            if pusher is not None:
                pusher.cancel()
            self._sockets.discard(ws)
        return ws

    async def _trading_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws, accepted = await self._accept(request)
        if not accepted:
            return ws
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    break
                data = json.loads(msg.data)
                action = data.get("action")
                if action == "authenticate":
                    creds = data.get("data") or {}
                    ok = self._auth_ok(creds.get("key_id"), creds.get("secret_key"))
                    status = "authorized" if ok else "unauthorized"
                    await ws.send_bytes(json.dumps({"stream": "authorization", "data": {
                        "status": status, "action": "authenticate"}}).encode())
                    if not ok:
                        break
                elif action == "listen":
                    streams = (data.get("data") or {}).get("streams", [])
                    if "trade_updates" in streams:
                        self._trade_sockets.add(ws)
                    await ws.send_bytes(json.dumps({"stream": "listening", "data": {
                        "streams": streams}}).encode())
        finally:
            self._trade_sockets.discard(ws)
            self._sockets.discard(ws)
        return ws

    def _broadcast_update(self, update: TradeUpdate) -> None:
        order = update.order
        payload: dict[str, Any] = {"event": update.event, "order": order_json(order),
                                   "timestamp": _iso(update.timestamp),
                                   "execution_id": str(uuid.uuid4())}
        if update.event in ("fill", "partial_fill"):
            payload.update({"price": str(order.filled_avg_price), "qty": str(order.filled_qty),
                            "position_qty": str(self.sim.state.position_qty(order.symbol))})
        frame = json.dumps({"stream": "trade_updates", "data": payload}).encode()
        for ws in list(self._trade_sockets):
            if not ws.closed:
                asyncio.get_running_loop().create_task(_safe_send(ws, frame))

    # -- admin -----------------------------------------------------------------------------------
    async def _set_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clear"):
            from alchemiser_cli.brokers.sim.state import SimFaults

            self.sim.state.faults = SimFaults()
            self.http = HttpFaults()
        for item in body.get("set", []):
            name, _, value = str(item).partition("=")
            if name in ("http_429", "http_5xx"):
                setattr(self.http, name, int(value or 1))
            elif name == "slow_seconds":
                self.http.slow_seconds = float(value)
            elif name == "fail_path":
                self.http.fail_path = value
            elif name == "refuse_streams":
                self.http.refuse_streams = value.lower() not in {"0", "false", "no", "off"}
            else:
                try:
                    apply_fault(self.sim.state.faults, str(item))
                except ValueError as exc:
                    return _error(422, 40010001, str(exc))
        return web.json_response({"faults": asdict(self.sim.state.faults), "http": asdict(self.http)})

    async def _state(self, _: web.Request) -> web.Response:
        return web.Response(text=self.sim.state.to_json(), content_type="application/json")

    async def _drop_streams(self, _: web.Request) -> web.Response:
        sockets = list(self._sockets)
        for ws in sockets:
            await ws.close()
        return web.json_response({"dropped": len(sockets)})


async def _safe_send(ws: web.WebSocketResponse, frame: bytes) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_bytes(frame)


class EmulatorThread:
    """Run the emulator on a loopback port in a background thread (for tests and benches)."""

    def __init__(self, state: SimState | None = None, *, key: str | None = None,
                 secret: str | None = None, tick_seconds: float = 0.1, port: int = 0) -> None:
        self.state = state or demo_state()
        self.key, self.secret = key, secret
        self.tick_seconds = tick_seconds
        self.port = port
        self.emulator: AlpacaEmulator | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="alpaca-emulator", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("emulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def call(self, fn: Callable[[AlpacaEmulator], Any]) -> Any:
        """Run ``fn(emulator)`` on the emulator's loop and return its result."""
        async def inner() -> Any:
            assert self.emulator is not None
            return fn(self.emulator)

        return asyncio.run_coroutine_threadsafe(inner(), self._loop).result(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        clock = LoopClock(datetime.now(UTC))
        self.state.now = clock.now().isoformat()
        async with SimBroker(self.state, clock, tick_seconds=self.tick_seconds) as sim:
            self.emulator = AlpacaEmulator(sim, key=self.key, secret=self.secret)
            runner = web.AppRunner(self.emulator.app(), access_log=None)
            await runner.setup()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            self.port = sock.getsockname()[1]
            await web.SockSite(runner, sock).start()
            self._ready.set()
            await self._stop.wait()
            for ws in list(self.emulator._sockets):
                await ws.close()
            await runner.cleanup()


async def serve_forever(state: SimState, host: str, port: int, *, key: str | None,
                        secret: str | None, on_ready: Callable[[str], None]) -> None:
    clock = LoopClock(datetime.now(UTC))
    state.now = clock.now().isoformat()
    async with SimBroker(state, clock, tick_seconds=0.25) as sim:
        emulator = AlpacaEmulator(sim, key=key, secret=secret)
        runner = web.AppRunner(emulator.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        on_ready(f"http://{host}:{port}")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
