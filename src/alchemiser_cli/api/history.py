"""Readers of the journal: metrics, the Prometheus textfile, fills, runs and their
audit, and pruning."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.core.metrics import Metrics, compute
from alchemiser_cli.core.session import open_journal
from alchemiser_cli.domain.errors import (
    UsageError,
)
from alchemiser_cli.journal.rows import FillRow, PruneResult, RunFilter, RunRow
from alchemiser_cli.settings import Settings


def read_metrics(settings: Settings, since: datetime | None = None, *,
                 account: str | None = None, brokers: Sequence[str] = ()) -> Metrics:
    """Execution metrics from the journal across runs started (wall clock) at or after
    ``since``, of ``account`` (default: the settings' account, if any) and ``brokers``."""
    where = _filter(settings, since, account, brokers)
    journal = open_journal(settings)
    try:
        runs = journal.runs(10**9, where)
        return compute(journal.events(where=where), len(runs))
    finally:
        journal.close()


def journal_brokers(settings: Settings) -> set[str]:
    """The brokers (sim, paper, live) the journal has runs for."""
    journal = open_journal(settings)
    try:
        return journal.brokers()
    finally:
        journal.close()


def _filter(settings: Settings, since: datetime | None, account: str | None,
            brokers: Sequence[str]) -> RunFilter:
    bound = None if since is None else (since if since.tzinfo else since.replace(tzinfo=UTC))
    return RunFilter(since=None if bound is None else bound.isoformat(),
                     account=account if account is not None else settings.account,
                     brokers=tuple(BrokerMode(b).value for b in brokers))


def export_fills(settings: Settings, since: datetime | None = None, *,
                 account: str | None = None, brokers: Sequence[str] = ()) -> list[FillRow]:
    """Every order that filled, oldest first: time, account, symbol, side, quantity, average
    price, order id and run id (for accounting)."""
    journal = open_journal(settings)
    try:
        return journal.fills(_filter(settings, since, account, brokers))
    finally:
        journal.close()


def prune_journal(settings: Settings, older_than: datetime, *,
                  dry_run: bool = False) -> PruneResult:
    """Delete runs started before ``older_than`` with everything they journaled (a run still
    marked running is kept); with ``dry_run`` only count them."""
    bound = older_than if older_than.tzinfo else older_than.replace(tzinfo=UTC)
    journal = open_journal(settings)
    try:
        return journal.prune(bound.isoformat(), dry_run=dry_run)
    finally:
        journal.close()


def prometheus_text(settings: Settings, since: datetime | None = None, *,
                    brokers: Sequence[str] = ()) -> str:
    """The journal in Prometheus text exposition format, one group of series per account
    and broker, with the last run of each command first (see :mod:`.core.exposition`)."""
    from alchemiser_cli.core.exposition import LastRun, exposition

    where = _filter(settings, since, None, brokers)
    journal = open_journal(settings)
    try:
        groups = {}
        for account, broker in journal.groups(where):
            scope = RunFilter(where.since, account or "", (broker,))
            groups[(account or "default", broker)] = compute(journal.events(where=scope),
                                                             len(journal.runs(10**9, scope)))
        last = [LastRun(r.account or "default", r.broker, r.command,
                        datetime.fromisoformat(r.wall_started_at or r.started_at),
                        datetime.fromisoformat(r.wall_finished_at) if r.wall_finished_at
                        else None, r.exit_code, r.status)
                for r in journal.last_runs(where)]
    finally:
        journal.close()
    return exposition(groups, last)


def recent_runs(settings: Settings, limit: int = 20, *, account: str | None = None,
                brokers: Sequence[str] = ()) -> list[RunRow]:
    """The newest ``limit`` runs in the journal (of ``account`` and ``brokers``, if given)."""
    journal = open_journal(settings)
    try:
        return journal.runs(limit, _filter(settings, None, account, brokers))
    finally:
        journal.close()


def run_audit(settings: Settings, run_id: str) -> tuple[RunRow, list[dict[str, Any]]]:
    """One run (a unique prefix of its id works) and every event it journaled, in order."""
    journal = open_journal(settings)
    try:
        run = journal.find_run(run_id)
        if run is None:
            candidates = journal.runs_matching(run_id, 6)
            if not candidates:
                raise UsageError(f"no run matches {run_id!r} (see 'alch runs')")
            listed = "; ".join(f"{r.run_id} ({r.command}, {r.broker}, "
                               f"{(r.wall_started_at or r.started_at)[:16].replace('T', ' ')})"
                               for r in candidates[:5])
            more = ", and more" if len(candidates) > 5 else ""
            raise UsageError(f"{run_id!r} matches several runs: {listed}{more}; give more of "
                             "the id")
        return run, journal.events(run.run_id)
    finally:
        journal.close()
