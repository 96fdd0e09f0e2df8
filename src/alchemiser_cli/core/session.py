"""A command's runtime: broker (rate-limited), clock, journal, events, placement core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from alchemiser_cli.brokers.factory import BrokerMode, account_key, open_broker
from alchemiser_cli.clock import Clock
from alchemiser_cli.core.lock import AccountLock
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.domain.errors import ConfigError, ExitCode
from alchemiser_cli.domain.events import EventBus, Observer, RunFinished, RunStarted
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
    exit_code: ExitCode = ExitCode.OK
    status: str = "ok"


def open_journal(settings: Settings) -> Journal:
    try:
        return Journal(settings.data_dir / "journal.sqlite3")
    except JournalError as exc:
        raise ConfigError(str(exc)) from exc


@asynccontextmanager
async def open_runtime(mode: BrokerMode, settings: Settings, *, command: str,
                       observer: Observer | None = None, lock: bool = False,
                       limiter: RateLimiter | None = None) -> AsyncIterator[Runtime]:
    """Open everything a command needs; journal the run's start and end.

    With ``lock`` the account lock is held for the whole run, before any order.
    """
    account_lock = AccountLock(settings.data_dir, account_key(mode, settings)) if lock else None
    if account_lock is not None:
        account_lock.acquire()
    journal = open_journal(settings)
    try:
        if account_lock is not None:
            journal.mark_interrupted()
        async with open_broker(mode, settings) as opened:
            clock = opened.clock
            limiter = limiter or RateLimiter(clock, settings.execution.rate_limit_per_minute)
            guarded = GuardedBroker(opened.broker, limiter, clock)
            bus = EventBus(journal)
            if observer is not None:
                bus.add(observer)
            run_id = journal.new_run_id(clock.now())
            bus(RunStarted(run_id, command, mode.value, clock.now()))
            rt = Runtime(mode, settings, clock, guarded, limiter, journal, bus, run_id,
                         PlacementService(guarded, clock, bus, PlacementConfig.from_settings(settings)))
            try:
                yield rt
            except BaseException as exc:
                code = getattr(exc, "exit_code", None)
                rt.exit_code = code if isinstance(code, ExitCode) else (
                    ExitCode.INTERRUPTED if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
                    else ExitCode.INTERNAL)
                rt.status = "interrupted" if rt.exit_code is ExitCode.INTERRUPTED else "error"
                bus(RunFinished(run_id, rt.status, int(rt.exit_code), {"error": str(exc)},
                                clock.now()))
                raise
            bus(RunFinished(run_id, rt.status, int(rt.exit_code),
                            {"requests": dict(guarded.requests)}, clock.now()))
    finally:
        journal.close()
        if account_lock is not None:
            account_lock.release()

