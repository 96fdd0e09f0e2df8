"""What the journal's readers get back: runs, fills and prune counts, and the filter
that chooses runs (by wall-clock start, account and broker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    command: str
    broker: str
    started_at: str
    finished_at: str | None
    status: str
    exit_code: int | None
    summary: dict[str, Any]
    account: str | None = None
    wall_started_at: str | None = None  # wall clock (started_at is the run's own clock)
    host: str | None = None
    wall_finished_at: str | None = None


RUN_COLUMNS = ("run_id, command, broker, started_at, finished_at, status, exit_code, summary, "
                "account, COALESCE(wall_started_at, started_at), host, wall_finished_at")
#: When a run started, on the wall clock (older journals only have the run's own clock).
WALL_START = "COALESCE(r.wall_started_at, r.started_at)"


def run_row(r: tuple[Any, ...]) -> RunRow:
    return RunRow(run_id=r[0], command=r[1], broker=r[2], started_at=r[3], finished_at=r[4],
                  status=r[5], exit_code=r[6], summary=json.loads(r[7]) if r[7] else {},
                  account=r[8], wall_started_at=r[9], host=r[10], wall_finished_at=r[11])


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs a reader wants: by wall-clock start, account and broker (sim, paper, live)."""

    since: str | None = None  # ISO wall-clock lower bound
    account: str | None = None
    brokers: tuple[str, ...] = ()

    def sql(self) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if self.since is not None:
            clauses.append(f"{WALL_START} >= ?")
            args.append(self.since)
        if self.account == "":  # runs that named no account
            clauses.append("r.account IS NULL")
        elif self.account is not None:
            clauses.append("r.account = ?")
            args.append(self.account)
        if self.brokers:
            clauses.append(f"r.broker IN ({','.join('?' * len(self.brokers))})")
            args.extend(self.brokers)
        return "".join(f" AND {c}" for c in clauses), args


@dataclass(frozen=True, slots=True)
class FillRow:
    """What one order of a run filled (its quantity and average price), for accounting."""

    at: str
    account: str | None
    broker: str
    run_id: str
    symbol: str
    side: str
    qty: str
    price: str
    order_id: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class PruneResult:
    runs: int
    events: int
    orders: int
    before: str


@dataclass(frozen=True, slots=True)
class UnsettledOrder:
    """An order of a dead run whose end the journal never saw (it may have filled since)."""

    client_order_id: str
    run_id: str
    symbol: str
    side: str
    qty: str
    state: str
