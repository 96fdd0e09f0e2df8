"""A broker for money-path tests: the simulator behind a script of failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.clock import LoopClock
from alchemiser_cli.domain.orders import Order

T = TypeVar("T")


@dataclass
class Fault:
    error: BaseException
    after: bool  # the call reached the broker, only its answer was lost
    times: int


@dataclass
class Scripted:
    """The simulator behind a script of failures, recording every call (method, argument,
    virtual time)."""

    sim: SimBroker
    clock: LoopClock
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    calls: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.sim.name

    def fail(self, method: str, error: BaseException, *, after: bool = False,
             times: int = 1) -> None:
        self.faults.setdefault(method, []).append(Fault(error, after, times))

    def count(self, method: str, arg: str | None = None) -> int:
        return sum(1 for m, a, _ in self.calls if m == method and arg in (None, a))

    def times(self, method: str) -> list[float]:
        return [t for m, _, t in self.calls if m == method]

    async def _call(self, method: str, arg: str, real: Callable[[], Awaitable[T]]) -> T:
        self.calls.append((method, arg, self.clock.monotonic()))
        queued = self.faults.get(method)
        fault = queued[0] if queued else None
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                queued.pop(0)  # type: ignore[union-attr]
            if not fault.after:
                raise fault.error
            await real()
            raise fault.error
        return await real()

    async def submit_order(self, request: Any) -> Order:
        return await self._call("submit_order", request.client_order_id,
                                lambda: self.sim.submit_order(request))

    async def get_order_by_client_id(self, cid: str) -> Order | None:
        return await self._call("get_order_by_client_id", cid,
                                lambda: self.sim.get_order_by_client_id(cid))

    async def get_order(self, order_id: str) -> Order:
        return await self._call("get_order", order_id, lambda: self.sim.get_order(order_id))

    async def cancel_order(self, order_id: str) -> None:
        await self._call("cancel_order", order_id, lambda: self.sim.cancel_order(order_id))

    async def list_open_orders(self) -> list[Order]:
        return await self._call("list_open_orders", "", self.sim.list_open_orders)

    def __getattr__(self, name: str) -> Any:
        """Any other broker method, scripted the same way (reads of the account, positions,
        assets, quotes)."""
        real = getattr(self.sim, name)
        if name.startswith("_") or name in ("trade_stream_ok", "wait_order_update",
                                            "stream_quote", "subscribe_quotes", "close") \
                or not callable(real):
            return real

        async def scripted(*args: Any) -> Any:
            return await self._call(name, str(args[0]) if args else "", lambda: real(*args))
        return scripted
