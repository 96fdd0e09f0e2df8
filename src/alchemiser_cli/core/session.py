"""A command's runtime: broker (rate-limited), clock, journal, events, placement core.

The runtime is also the last line of defence for orders: whatever stops a run once it
has submitted something — a signal, a journal that can no longer be written (a full
disk), a broker failure, a bug — every order of this run still open is cancelled and
confirmed before the error is reported, and the error says what was cancelled (or
what could not be confirmed).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from alchemiser_cli.brokers.factory import BrokerMode, account_key, open_broker
from alchemiser_cli.clock import Clock
from alchemiser_cli.core.lock import AccountLock
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.core.reconcile import Reconciler, RunOrders, SweepResult, sweep_run
from alchemiser_cli.domain.errors import AlchError, ExitCode, RunInterrupted
from alchemiser_cli.domain.events import (
    Event,
    EventBus,
    Observer,
    OrderSubmitFailed,
    OrderSubmitting,
    RunFinished,
    RunStarted,
    StepFinished,
)
from alchemiser_cli.domain.orders import Order, OrderStatus
from alchemiser_cli.journal.store import Journal, JournalError
from alchemiser_cli.settings import Settings


@dataclass
class Runtime:
    mode: BrokerMode
    settings: Settings
    clock: Clock
    broker: GuardedBroker
    limiter: RateLimiter
    journal: Journal
    emit: EventBus
    run_id: str
    placement: PlacementService
    orders: RunOrders | None = None  # None: a fresh record for run_id
    live_runs: frozenset[str] = field(default_factory=frozenset)
    exit_code: ExitCode = ExitCode.OK
    status: str = "ok"
    tracker: Observer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.orders is None:
            self.orders = RunOrders(self.run_id)
        self.tracker = _tracker(self.orders)
        self.emit.add(self.tracker, first=True)

    @property
    def run_orders(self) -> RunOrders:
        assert self.orders is not None
        return self.orders

    @property
    def reconciler(self) -> Reconciler:
        return Reconciler(self.broker, self.clock, self.emit,
                          self.placement.walker.cancel_and_confirm)

    async def prepare_account(self, trade_symbols: set[str], *, dry_run: bool = False,
                              cancel_orphans: bool = False) -> tuple[Order, ...]:
        """Refuse on foreign or other runs' open orders; cancel this installation's leftovers
        (returned with their final states)."""
        return await self.reconciler.prepare(
            run_id=self.run_id, live_runs=self.live_runs, trade_symbols=trade_symbols,
            dry_run=dry_run, cancel_orphans=cancel_orphans,
            orphan_min_age_seconds=self.settings.execution.orphan_min_age_seconds,
            known_runs=lambda ids: self.journal.known_runs(list(ids)),
            unsettled=() if dry_run else self.journal.unsettled_orders())

    async def sweep(self) -> SweepResult:
        """Cancel and confirm every order of this run still open (no journal needed)."""
        return await sweep_run(self.broker, self.placement.walker.cancel_and_confirm,
                               self.run_orders, self.emit)


def open_journal(settings: Settings, account_key: str | None = None) -> Journal:
    return Journal(settings.data_dir / "journal.sqlite3", host=settings.installation,
                   account_key=account_key)


def _tracker(orders: RunOrders) -> Observer:
    """Record what this run sent, and which orders it saw reach a confirmed final state."""
    def track(event: Event) -> None:
        if isinstance(event, OrderSubmitting):
            orders.submitted.add(event.client_order_id)
        elif (isinstance(event, StepFinished) and OrderStatus.parse(event.status).terminal) or (
                isinstance(event, OrderSubmitFailed) and event.outcome == "rejected"):
            orders.finished.add(event.client_order_id)
    return track


@dataclass
class Connection:
    """What stays open across runs: the lock (when trading), the journal, the broker and its
    streams, the shared request budget and the event bus."""

    mode: BrokerMode
    settings: Settings
    clock: Clock
    broker: GuardedBroker
    limiter: RateLimiter
    journal: Journal
    bus: EventBus
    placement: PlacementService
    locked: bool


@asynccontextmanager
async def open_connection(mode: BrokerMode, settings: Settings, *, observer: Observer | None = None,
                          lock: bool = False,
                          limiter: RateLimiter | None = None) -> AsyncIterator[Connection]:
    """Take the account lock (``lock``: before anything else, so a refused run never touches
    the broker), open the journal, then the broker and its streams."""
    key = account_key(mode, settings)
    account_lock = AccountLock(settings.data_dir, key) if lock else None
    if account_lock is not None:
        account_lock.acquire()
    try:
        journal = open_journal(settings, key)
        try:
            if account_lock is not None:
                journal.mark_interrupted(locked=True)
            async with open_broker(mode, settings) as opened:
                clock = opened.clock
                limiter = limiter or RateLimiter(clock, settings.execution.rate_limit_per_minute)
                guarded = GuardedBroker(opened.broker, limiter, clock)
                bus = EventBus(journal)
                if observer is not None:
                    bus.add(observer)
                yield Connection(mode, settings, clock, guarded, limiter, journal, bus,
                                 PlacementService(guarded, clock, bus,
                                                  PlacementConfig.from_settings(settings)),
                                 lock)
        finally:
            journal.close()
    finally:
        if account_lock is not None:
            account_lock.release()


@asynccontextmanager
async def run_scope(conn: Connection, command: str) -> AsyncIterator[Runtime]:
    """One run in the journal: its id, its start and end, and the safety net for its orders."""
    clock, journal, bus = conn.clock, conn.journal, conn.bus
    run_id = journal.new_run_id(clock.now())
    rt = Runtime(conn.mode, conn.settings, clock, conn.broker, conn.limiter, journal, bus, run_id,
                 conn.placement, live_runs=frozenset(journal.live_runs() - {run_id}))
    before = dict(conn.broker.requests)
    try:
        try:
            # inside the safety net: an observer that fails here (output that cannot be
            # written) stops the run before it sends anything, and the run is recorded
            bus(RunStarted(run_id, command, conn.mode.value, clock.now(), conn.settings.account))
            yield rt
            await conn.placement.settle()  # mark-outs still being measured
        except BaseException as exc:
            conn.placement.abandon_markouts()
            error = await _stopped(rt, exc)
            if error is exc:
                raise
            raise error from exc
        requests = {k: v - before.get(k, 0) for k, v in conn.broker.requests.items()
                    if v != before.get(k, 0)}
        bus(RunFinished(run_id, rt.status, int(rt.exit_code), {"requests": requests},
                        clock.now()))
    finally:
        bus.remove(rt.tracker)


@asynccontextmanager
async def open_runtime(mode: BrokerMode, settings: Settings, *, command: str,
                       observer: Observer | None = None, lock: bool = False,
                       limiter: RateLimiter | None = None) -> AsyncIterator[Runtime]:
    """A connection with exactly one run: what a single command needs."""
    async with open_connection(mode, settings, observer=observer, lock=lock,
                               limiter=limiter) as conn, run_scope(conn, command) as rt:
        yield rt


async def _stopped(rt: Runtime, exc: BaseException) -> BaseException:
    """Settle this run's open orders after ``exc``, record the run, return the error to raise."""
    from alchemiser_cli import interrupts

    if not isinstance(exc, Exception | asyncio.CancelledError | KeyboardInterrupt):
        return exc  # SystemExit, GeneratorExit: not ours to translate
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled here: the cleanup below may still wait
    swept = await asyncio.shield(rt.sweep()) if rt.run_orders.submitted else None
    tail = "" if swept is None else f"; {swept.describe()}"
    error: AlchError
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | RunInterrupted):
        sig = interrupts.received() or (exc.signal if isinstance(exc, RunInterrupted)
                                        else signal.SIGINT)
        error = RunInterrupted(f"interrupted by {sig.name}{tail or '; nothing was placed'}", sig)
        status = "interrupted"
    else:
        code = exc.exit_code if isinstance(exc, AlchError) else ExitCode.INTERNAL
        if swept is not None and not swept.ok:
            code = ExitCode.BROKER  # an order of this run may still be working
        text = str(exc) if isinstance(exc, AlchError) else (
            f"internal error: {type(exc).__name__}: {exc}")
        if code is ExitCode.INTERNAL:
            tail += " (run with ALCH_DEBUG=1 for a traceback)"
        error = exc if not tail and isinstance(exc, AlchError) else AlchError(text + tail, code)
        status = "error"
    rt.exit_code, rt.status = error.exit_code, status
    with contextlib.suppress(JournalError):  # a journal that failed earlier: the error says so
        rt.emit(RunFinished(rt.run_id, status, int(error.exit_code), {"error": str(error)},
                            rt.clock.now()))
    return error


__all__ = ["Connection", "JournalError", "Runtime", "open_connection", "open_journal",
           "open_runtime", "run_scope"]
