"""Run the emulator: in a background thread (tests, benches) or in the foreground
(``alch sim serve``)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.emulator.app import AlpacaEmulator
from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.clock import LoopClock


class EmulatorThread:
    """The emulator on a loopback port in a background thread."""

    def __init__(self, state: SimState | None = None, *, key: str | None = None,
                 secret: str | None = None, tick_seconds: float = 0.1, port: int = 0,
                 bar_interval: float = 60.0, rate_limit: int = 200,
                 log: Callable[[str], None] | None = None,
                 start: datetime | None = None) -> None:
        self.state = state or demo_state()
        self.key, self.secret = key, secret
        self.tick_seconds = tick_seconds
        self.port = port
        self.bar_interval = bar_interval
        self.rate_limit = rate_limit
        self.log = log
        self.start = start  # the emulator's time at start (default: now)
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
        clock = LoopClock(self.start or datetime.now(UTC))
        self.state.now = clock.now().isoformat()
        async with SimBroker(self.state, clock, tick_seconds=self.tick_seconds) as sim:
            self.emulator = AlpacaEmulator(sim, key=self.key, secret=self.secret,
                                           bar_interval=self.bar_interval,
                                           rate_limit=self.rate_limit, log=self.log)
            runner = web.AppRunner(self.emulator.app(), access_log=None)
            await runner.setup()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            self.port = sock.getsockname()[1]
            await web.SockSite(runner, sock).start()
            self._ready.set()
            await self._stop.wait()
            await self.emulator.close_sockets()
            await runner.cleanup()


async def serve_forever(state: SimState, host: str, port: int, *, key: str | None,
                        secret: str | None, on_ready: Callable[[str], None],
                        rate_limit: int = 200, log: Callable[[str], None] | None = None) -> None:
    clock = LoopClock(datetime.now(UTC))
    state.now = clock.now().isoformat()
    async with SimBroker(state, clock, tick_seconds=0.25) as sim:
        emulator = AlpacaEmulator(sim, key=key, secret=secret, rate_limit=rate_limit, log=log)
        runner = web.AppRunner(emulator.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1] if runner.addresses else port  # --port 0: the one chosen
        on_ready(f"http://{host}:{bound}")
        try:
            await asyncio.Event().wait()
        finally:
            await emulator.close_sockets()
            await runner.cleanup()
