"""Alerts after a command: one notification per finished run, where the operator asked.

Commands that trade or check an account (rebalance, place, verify) follow their run's
events (run id, failed orders) through :meth:`RunWatch.observe`; when the command has
finished, whatever its exit code, :func:`send` notifies the account's ``notify`` URLs,
the config's top-level ``notify`` and any ``--notify`` URL, when ``notify_on`` wants this
outcome. A failed delivery is reported on stderr and in the journal, and never changes
the exit code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alchemiser_cli.domain.events import Event, Observer, OrderDone, RunStarted

if TYPE_CHECKING:
    from alchemiser_cli.notify import FailedOrder
    from alchemiser_cli.settings import Settings


@dataclass
class RunWatch:
    """What a notification needs to know about the command's run, gathered from its events."""

    command: str
    extra_urls: list[str] = field(default_factory=list)
    run_id: str = ""
    broker: str = ""
    failed: list[FailedOrder] = field(default_factory=list)

    def observe(self, inner: Observer | None = None) -> Observer:
        def watch(event: Event) -> None:
            if isinstance(event, RunStarted):
                self.run_id, self.broker = event.run_id, event.broker
            elif isinstance(event, OrderDone) and event.status != "filled":
                from alchemiser_cli.notify import FailedOrder

                reason = event.error or event.status.replace("_", " ")
                self.failed.append(FailedOrder(event.symbol, event.side, event.status, reason))
            if inner is not None:
                inner(event)
        return watch


def send(watch: RunWatch, settings: Settings | None, account: str | None, exit_code: int) -> None:
    """Notify, if anyone asked; report failed deliveries; never raise."""
    urls = list(watch.extra_urls)
    on = "failure"
    secrets: list[str] = []
    if settings is not None:
        selected = settings.selected_account
        urls = [*(selected.notify if selected else ()), *settings.notify, *urls]
        on = selected.notify_on if selected and selected.notify else settings.notify_on
        secrets = settings.secrets()
    if not urls:
        return
    from alchemiser_cli.notify import NotifyOn, RunReport, notify_run

    report = RunReport(account=account or watch.broker or "default", command=watch.command,
                       run_id=watch.run_id or "-", exit_code=exit_code,
                       broker=watch.broker or "-", failed_orders=tuple(watch.failed))
    result = notify_run(report, list(dict.fromkeys(urls)), on=NotifyOn(on), secrets=secrets)
    for failure in result.failed:
        sys.stderr.write(f"warning: notification to {failure.url} failed: {failure.error}\n")
    if result.sent and settings is not None and watch.run_id:
        _journal(settings, watch.run_id, result.succeeded,
                 [(d.url, d.error or "") for d in result.failed])


def _journal(settings: Settings, run_id: str, sent: tuple[str, ...],
             failed: list[tuple[str, str]]) -> None:
    from alchemiser_cli.journal.store import Journal, JournalError

    try:
        journal = Journal(settings.data_dir / "journal.sqlite3")
    except JournalError:
        return
    try:
        journal.record_notification(run_id, sent, failed)
    except JournalError:
        sys.stderr.write("warning: could not journal the notification\n")
    finally:
        journal.close()
