"""Know whether an alpaca-py stream is connected, refused or down.

alpaca-py's streams keep retrying in their own thread and tell nobody. We wrap three of
their methods on the instance: ``_connect`` reports the socket open, ``_start_ws``
(connect + authenticate) reports authenticated ("up") or the reason it failed, and
``_consume`` reports a lost connection. An authentication refusal or an
"insufficient subscription" stops the stream's retries (they cannot succeed); any other
failure lets alpaca-py reconnect with its backoff. Everything here runs on the stream's
thread except :meth:`StreamHealth.settled`, which waits on the caller's loop.
"""

from __future__ import annotations

import asyncio
import threading
from enum import StrEnum
from typing import Any

from alchemiser_cli.logs import redact


class StreamStatus(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"  # the socket is open; authentication pending
    UP = "up"  # connected and authenticated
    DOWN = "down"  # unreachable or dropped; alpaca-py keeps retrying
    AUTH_FAILED = "auth_failed"  # the keys were refused: a configuration problem
    FEED_REFUSED = "feed_refused"  # 409 insufficient subscription (e.g. SIP without a plan)


PENDING = frozenset({StreamStatus.CONNECTING, StreamStatus.CONNECTED})


def classify(exc: BaseException) -> StreamStatus:
    text = str(exc).lower()
    if "insufficient subscription" in text:
        return StreamStatus.FEED_REFUSED
    if isinstance(exc, ValueError) and ("auth" in text or "not authorized" in text):
        return StreamStatus.AUTH_FAILED
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None),
                                                          "status_code", None)
    if status in (401, 403):
        return StreamStatus.AUTH_FAILED
    return StreamStatus.DOWN


class StreamHealth:
    """The last known state of one stream; thread-safe."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = StreamStatus.CONNECTING
        self.reason = ""
        self.settled_once = False
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def set(self, status: StreamStatus, reason: str = "") -> None:
        with self._lock:
            self.status, self.reason = status, redact(reason)
            if status not in PENDING:
                self.settled_once = True
                waiters, self._waiters = self._waiters, []
            else:
                waiters = []
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    @property
    def up(self) -> bool:
        return self.status is StreamStatus.UP

    async def settled(self, timeout: float) -> StreamStatus:
        """Wait (on the caller's loop) until the stream is up or has failed, or ``timeout``."""
        event = asyncio.Event()
        with self._lock:
            if self.status not in PENDING:
                return self.status
            self._waiters.append((asyncio.get_running_loop(), event))
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        return self.status


def instrument(stream: Any, health: StreamHealth) -> None:
    """Report ``stream``'s connection outcomes to ``health`` (see the module docstring)."""
    start_ws = stream._start_ws
    connect = stream._connect
    consume = stream._consume

    async def tracked_connect() -> None:
        await connect()
        health.set(StreamStatus.CONNECTED)

    async def tracked_start() -> None:
        health.set(StreamStatus.CONNECTING)
        try:
            await start_ws()
        except Exception as exc:
            status = classify(exc)
            health.set(status, f"{type(exc).__name__}: {exc}")
            if status in (StreamStatus.AUTH_FAILED, StreamStatus.FEED_REFUSED):
                stream._should_run = False  # retrying cannot help; stop at the next turn
            raise
        health.set(StreamStatus.UP)

    async def tracked_consume() -> Any:
        try:
            return await consume()
        finally:
            if stream._should_run:
                health.set(StreamStatus.DOWN, "connection lost")

    stream._start_ws = tracked_start
    stream._connect = tracked_connect
    stream._consume = tracked_consume
