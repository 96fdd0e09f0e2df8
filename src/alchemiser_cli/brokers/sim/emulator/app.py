"""The emulator object: the simulator behind it, its faults, quota, request log and sockets."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.emulator.faults import EmulatorFaults
from alchemiser_cli.brokers.sim.emulator.quota import RequestQuota
from alchemiser_cli.domain.orders import TradeUpdate

EMULATOR: web.AppKey[AlpacaEmulator] = web.AppKey("emulator")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One line of the request log."""

    method: str
    path: str
    status: int
    millis: float
    remaining: int | None

    def line(self) -> str:
        left = "-" if self.remaining is None else str(self.remaining)
        return f"{self.method} {self.path} {self.status} {self.millis:.1f}ms remaining={left}"

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status,
                "ms": round(self.millis, 1), "remaining": self.remaining}


class AlpacaEmulator:
    """Everything the routes share. ``key``/``secret``: the only credentials accepted
    (None: any non-empty pair); requests without credentials are always refused."""

    def __init__(self, sim: SimBroker, *, key: str | None = None, secret: str | None = None,
                 quote_interval: float = 0.2, bar_interval: float = 60.0,
                 rate_limit: int = 200, log: Callable[[str], None] | None = None) -> None:
        self.sim = sim
        self.key = key
        self.secret = secret
        self.http = EmulatorFaults(rate_limit=rate_limit)
        self.quota = RequestQuota(rate_limit)
        self.quote_interval = quote_interval
        self.bar_interval = bar_interval
        self.counts: Counter[str] = Counter()  # "METHOD /route/{param}" -> requests received
        self.recent: deque[RequestRecord] = deque(maxlen=1000)
        self.log = log
        self.sockets: set[web.WebSocketResponse] = set()
        self.data_sockets: dict[web.WebSocketResponse, str] = {}  # socket -> account key
        self.trade_listeners: list[Callable[[TradeUpdate], None]] = []
        sim.listeners.append(self._on_update)

    def credentials_ok(self, key: object, secret: object) -> bool:
        if self.http.revoked or not key or not secret:
            return False
        if self.key is None:
            return True
        return key == self.key and secret == self.secret

    def record(self, entry: RequestRecord) -> None:
        self.recent.append(entry)
        if self.log is not None:
            self.log(entry.line())

    def _on_update(self, update: TradeUpdate) -> None:
        for listener in list(self.trade_listeners):
            listener(update)

    def app(self) -> web.Application:
        from alchemiser_cli.brokers.sim.emulator import (
            account,
            admin,
            assets,
            data_stream,
            market_data,
            middleware,
            orders,
            positions,
            trade_stream,
        )

        application = web.Application(middlewares=[middleware.gatekeeper])
        application[EMULATOR] = self
        for module in (account, assets, orders, positions, market_data, data_stream,
                       trade_stream, admin):
            application.router.add_routes(module.ROUTES)
        return application

    async def close_sockets(self) -> int:
        sockets = list(self.sockets)
        for ws in sockets:
            await ws.close()
        return len(sockets)


def emulator_of(request: web.Request) -> AlpacaEmulator:
    return request.app[EMULATOR]


async def open_socket(request: web.Request) -> web.WebSocketResponse:
    """Upgrade to a WebSocket the emulator tracks (and closes on shutdown); under the
    ``refuse_streams`` fault it is closed at once (``ws.closed``)."""
    emu = emulator_of(request)
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    if emu.http.refuse_streams:
        await ws.close()
    else:
        emu.sockets.add(ws)
    return ws
