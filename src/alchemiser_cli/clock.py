"""Injectable clocks.

The core never calls ``time`` or ``datetime.now`` directly: it asks a ``Clock``.
``LoopClock`` reads the running event loop's monotonic time and anchors it to a
wall-clock instant, so the same code runs in real time (default loop) or in
virtual time (:mod:`alchemiser_cli.vtime`), where a 90-second walk takes
milliseconds.
"""

from __future__ import annotations

import asyncio
import selectors
import signal
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

#: Remaining waits shorter than this count as done. Without it a loop like
#: ``while deadline - now > 0`` can livelock in virtual time: ``now + 1e-12`` rounds
#: back to ``now``, the timer fires at once and the clock never moves.
MIN_WAIT = 0.001


class Clock(Protocol):
    def now(self) -> datetime: ...
    def monotonic(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """Wall time = ``anchor`` + (loop time elapsed since the clock was made)."""

    def __init__(self, anchor: datetime | None = None) -> None:
        self._anchor = anchor or datetime.now(UTC)
        self._t0: float | None = None

    def _loop_time(self) -> float:
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        return loop.time()

    def now(self) -> datetime:
        elapsed = self._loop_time() - (self._t0 or 0.0)
        return self._anchor + timedelta(seconds=elapsed)

    def monotonic(self) -> float:
        return self._loop_time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector: instead of blocking for a timeout, jump time forward."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready:
            return ready
        if timeout is None:
            return self._inner.select(None)
        if timeout > 0:
            self._loop.advance(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Any:
        return self._inner.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves when every task is waiting on a timer.

    Real I/O still works (it is polled without blocking); only idle waits are
    skipped. Use it for the simulator, tests and benchmarks.
    """

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_VirtualSelector(selectors.DefaultSelector(), self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run(main: Callable[[], Coroutine[Any, Any, T]], *, virtual: bool) -> T:
    """Run ``main()`` to completion on a real or virtual-time loop.

    SIGINT, SIGTERM and SIGHUP cancel the main task (:mod:`alchemiser_cli.interrupts`),
    so ``except CancelledError`` blocks (cancelling open orders) run before the process
    ends. A cancellation that escapes ``main`` becomes :class:`RunInterrupted`.
    """
    from alchemiser_cli import interrupts
    from alchemiser_cli.domain.errors import RunInterrupted

    factory: Callable[[], asyncio.AbstractEventLoop] | None = VirtualTimeLoop if virtual else None

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        uninstall = interrupts.install(asyncio.get_running_loop(), task)
        try:
            return await main()
        finally:
            uninstall()

    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            return runner.run(guarded())
        except (asyncio.CancelledError, KeyboardInterrupt):
            sig = interrupts.received() or signal.SIGINT
            raise RunInterrupted(f"interrupted by {sig.name}", sig) from None


async def wait_for(awaitable: Awaitable[T], timeout: float) -> T | None:
    """Await with a timeout; None when it expires.

    Built on ``asyncio.timeout`` rather than ``asyncio.wait_for``: on Python 3.11,
    ``wait_for`` can swallow a cancellation (Ctrl-C) that arrives just as the awaited
    future completes, and the run would carry on as if never interrupted.
    """
    try:
        async with asyncio.timeout(timeout):
            return await awaitable
    except TimeoutError:
        return None
