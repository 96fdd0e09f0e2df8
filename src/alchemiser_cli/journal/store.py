"""The local audit journal: SQLite in WAL mode, one file per data directory.

Every quote, order submission (written *before* the POST), order update, step,
validation and portfolio check is an event row; ``orders`` keeps the latest
known state of each client_order_id. ``metrics``, ``runs`` and ``show`` read it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import string
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alchemiser_cli.domain.errors import ConfigError
from alchemiser_cli.domain.events import (
    Event,
    OrderAccepted,
    OrderSubmitFailed,
    OrderSubmitting,
    RunFinished,
    RunStarted,
    StepFinished,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, command TEXT NOT NULL, broker TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, exit_code INTEGER,
    summary TEXT, pid INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL,
    symbol TEXT, client_order_id TEXT, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, kind);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, order_type TEXT NOT NULL, step INTEGER NOT NULL, qty TEXT NOT NULL,
    limit_price TEXT, state TEXT NOT NULL, order_id TEXT, filled_qty TEXT, avg_price TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
"""

#: Columns added after the first release, applied to older journals in order
#: (``PRAGMA user_version`` counts how many have been applied).
MIGRATIONS = (
    "ALTER TABLE runs ADD COLUMN host TEXT",
    "ALTER TABLE runs ADD COLUMN wall_started_at TEXT",
    "ALTER TABLE runs ADD COLUMN wall_finished_at TEXT",
)

_ALPHABET = string.ascii_lowercase + string.digits


class JournalError(ConfigError):
    """The journal cannot be opened or written (exit 3): nothing more may be sent."""


def this_host() -> str:
    return socket.gethostname() or "localhost"


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


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process with that pid
    return True


_RUN_COLUMNS = "run_id, command, broker, started_at, finished_at, status, exit_code, summary"


def _run_row(r: tuple[Any, ...]) -> RunRow:
    return RunRow(run_id=r[0], command=r[1], broker=r[2], started_at=r[3], finished_at=r[4],
                  status=r[5], exit_code=r[6], summary=json.loads(r[7]) if r[7] else {})


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"journal {path} is not writable: {exc}") from exc
        self.run_id: str | None = None

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for number, statement in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {number}")
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise JournalError(f"journal write failed: {exc}") from exc

    def installation_id(self) -> str:
        """Three random characters fixed per journal *and host*, so runs from two machines
        (or two data directories) on one account never share a tag. A journal copied to
        another machine gets a new tag there: its old runs are then another installation's.
        """
        host = this_host()
        with self._tx() as db:
            rows = dict(db.execute(
                "SELECT key, value FROM meta WHERE key IN ('installation', 'installation_host')"
            ).fetchall())
            if rows.get("installation") and rows.get("installation_host", host) == host:
                if "installation_host" not in rows:
                    db.execute("INSERT INTO meta VALUES ('installation_host', ?)", (host,))
                return str(rows["installation"])
            value = "".join(secrets.choice(_ALPHABET) for _ in range(3))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('installation', ?)", (value,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('installation_host', ?)", (host,))
            return value

    def new_run_id(self, at: datetime) -> str:
        """``YYMMDDHHMMSS`` + installation id + run counter: short and unique."""
        inst = self.installation_id()
        seq = self._next_seq()
        return f"{at:%y%m%d%H%M%S}{inst}{seq % 1000:03d}"

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()
        return int(row[0])

    # -- observer ---------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        data = event.to_dict()
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            with self._tx() as db:
                db.execute(
                    "INSERT INTO runs(run_id, seq, command, broker, started_at, status, pid, host,"
                    " wall_started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                    (event.run_id, self._next_seq(), event.command, event.broker,
                     event.at.isoformat(), os.getpid(), this_host(), _wall_now()),
                )
            return
        if self.run_id is None:
            raise JournalError("event recorded before the run started")
        symbol = data.get("symbol")
        cid = data.get("client_order_id")
        with self._tx() as db:
            db.execute(
                "INSERT INTO events(run_id, kind, symbol, client_order_id, data) VALUES (?,?,?,?,?)",
                (self.run_id, event.kind, symbol, cid, json.dumps(data, sort_keys=True)),
            )
            self._update_tables(db, event)

    def _update_tables(self, db: sqlite3.Connection, event: Event) -> None:
        if isinstance(event, OrderSubmitting):
            db.execute(
                "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,'submitting',NULL,'0',NULL,?,?)",
                (event.client_order_id, self.run_id, event.symbol, event.side, event.order_type,
                 event.step, str(event.qty),
                 None if event.limit_price is None else str(event.limit_price),
                 event.at.isoformat(), event.at.isoformat()),
            )
        elif isinstance(event, OrderAccepted):
            db.execute(
                "UPDATE orders SET state=?, order_id=?, updated_at=? WHERE client_order_id=?",
                (event.status, event.order_id, event.at.isoformat(), event.client_order_id),
            )
        elif isinstance(event, OrderSubmitFailed):
            db.execute(
                "UPDATE orders SET state=?, updated_at=? WHERE client_order_id=?",
                (f"submit_{event.outcome}", event.at.isoformat(), event.client_order_id),
            )
        elif isinstance(event, StepFinished):
            db.execute(
                "UPDATE orders SET state=?, order_id=?, filled_qty=?, avg_price=?, updated_at=? "
                "WHERE client_order_id=?",
                (event.status, event.order_id, str(event.filled_qty),
                 None if event.avg_price is None else str(event.avg_price),
                 event.at.isoformat(), event.client_order_id),
            )
        elif isinstance(event, RunFinished):
            db.execute(
                "UPDATE runs SET finished_at=?, status=?, exit_code=?, summary=?, wall_finished_at=?"
                " WHERE run_id=?",
                (None if event.at is None else event.at.isoformat(), event.status,
                 event.exit_code, json.dumps(event.to_dict()["summary"], sort_keys=True),
                 _wall_now(), event.run_id),
            )

    # -- readers ----------------------------------------------------------------------
    def runs(self, limit: int = 20) -> list[RunRow]:
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY seq DESC LIMIT ?",  # noqa: S608 - constant
            (limit,)).fetchall()
        return [_run_row(r) for r in rows]

    def events(self, run_id: str | None = None, kinds: tuple[str, ...] = (),
               since: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT e.data FROM events e JOIN runs r ON r.run_id = e.run_id WHERE 1=1"
        args: list[Any] = []
        if run_id is not None:
            sql += " AND e.run_id = ?"
            args.append(run_id)
        if kinds:
            sql += f" AND e.kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        if since is not None:
            sql += " AND r.started_at >= ?"
            args.append(since)
        sql += " ORDER BY e.seq"
        return [json.loads(r[0]) for r in self._db.execute(sql, args).fetchall()]

    def find_run(self, prefix: str) -> RunRow | None:
        """The one run whose id starts with ``prefix`` (None if none or several)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs "  # noqa: S608 - a constant column list
            "WHERE run_id LIKE ? ESCAPE '\\' ORDER BY seq DESC LIMIT 2",
            (escaped + "%",)).fetchall()
        return _run_row(rows[0]) if len(rows) == 1 else None

    def mark_interrupted(self) -> list[str]:
        """Mark runs left 'running' by a process of this host that no longer exists (a
        crash, kill -9). A run whose process is still alive (a `quote --watch` in another
        terminal), or that ran on another host, is left alone.
        """
        host = this_host()
        with self._tx() as db:
            running = db.execute(
                "SELECT run_id, pid, host FROM runs WHERE status='running'").fetchall()
            dead = [run_id for run_id, pid, run_host in running
                    if run_host in (None, host) and not _alive(pid)]
            db.executemany("UPDATE runs SET status='interrupted' WHERE run_id=?",
                           [(r,) for r in dead])
        return dead

    def live_runs(self) -> set[str]:
        """Runs of this host still marked running whose process is alive (this one included)."""
        host = this_host()
        rows = self._db.execute(
            "SELECT run_id, pid, host FROM runs WHERE status='running'").fetchall()
        return {run_id for run_id, pid, run_host in rows
                if run_host in (None, host) and _alive(pid)}


def _wall_now() -> str:
    """Wall-clock time, recorded beside the run's own clock (virtual for the simulator)."""
    from datetime import UTC

    return datetime.now(UTC).isoformat()
