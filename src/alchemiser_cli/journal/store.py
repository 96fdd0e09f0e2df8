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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alchemiser_cli.domain.errors import ConfigError
from alchemiser_cli.domain.events import (
    Event,
    LeftoverCancelled,
    OrderAccepted,
    OrderProgress,
    OrderSubmitFailed,
    OrderSubmitting,
    RunFinished,
    RunStarted,
    StepFinished,
)
from alchemiser_cli.journal.rows import (
    RUN_COLUMNS,
    WALL_START,
    FillRow,
    PruneResult,
    RunFilter,
    RunRow,
    UnsettledOrder,
    run_row,
)
from alchemiser_cli.journal.schema import MIGRATIONS, SCHEMA

_ALPHABET = string.ascii_lowercase + string.digits
#: Commands whose runs place orders; each holds its account's lock while it runs.
ORDER_COMMANDS = ("place", "rebalance")
#: Journal order states after which nothing more can happen to the order.
ENDED_STATES = ("filled", "canceled", "expired", "rejected", "replaced", "done_for_day",
                "submit_rejected", "not_found")


class JournalError(ConfigError):
    """The journal cannot be opened or written (exit 3): nothing more may be sent."""


def this_host() -> str:
    return socket.gethostname() or "localhost"


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


class Journal:
    """``host`` names where runs run (the machine's hostname unless the settings name the
    installation); ``account_key`` the broker account this process works on."""

    def __init__(self, path: Path, *, host: str | None = None,
                 account_key: str | None = None) -> None:
        self.path = path
        self.host = host or this_host()
        self.account_key = account_key
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
        """Three random characters fixed per journal *and host* (or named installation), so
        runs from two machines (or two data directories) on one account never share a tag.
        A journal copied to another machine gets a new tag there: its old runs are then
        another installation's. Containers that get a new hostname every run name their
        installation in the settings instead (``installation``), so they keep one tag.
        """
        host = self.host
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
                    " wall_started_at, account, account_key)"
                    " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                    (event.run_id, self._next_seq(), event.command, event.broker,
                     event.at.isoformat(), os.getpid(), self.host, _wall_now(), event.account,
                     self.account_key),
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
        elif isinstance(event, OrderProgress | LeftoverCancelled):
            # a trade update (the stream, or the sweep after a stop), or an order of a dead
            # run settled by a later one: the order's latest known state
            db.execute(
                "UPDATE orders SET state=?, filled_qty=?, avg_price=?, updated_at=? "
                "WHERE client_order_id=?",
                (event.status, str(event.filled_qty),
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
    def runs(self, limit: int = 20, where: RunFilter | None = None) -> list[RunRow]:
        clause, args = (where or RunFilter()).sql()
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs r WHERE 1=1{clause} "  # noqa: S608 - built here
            "ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [run_row(r) for r in rows]

    def events(self, run_id: str | None = None, kinds: tuple[str, ...] = (),
               since: str | None = None, where: RunFilter | None = None) -> list[dict[str, Any]]:
        clause, args = (where or RunFilter()).sql()
        sql = ("SELECT e.data FROM events e JOIN runs r ON r.run_id = e.run_id "  # noqa: S608
               f"WHERE 1=1{clause}")  # the clause is built here, with placeholders
        if run_id is not None:
            sql += " AND e.run_id = ?"
            args.append(run_id)
        if kinds:
            sql += f" AND e.kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        if since is not None:
            sql += f" AND {WALL_START} >= ?"
            args.append(since)
        sql += " ORDER BY e.seq"
        return [json.loads(r[0]) for r in self._db.execute(sql, args).fetchall()]

    def record_notification(self, run_id: str, sent: Sequence[str],
                            failed: Sequence[tuple[str, str]]) -> None:
        """Note, after a run finished, which alert destinations got its notification."""
        data = {"event": "notification", "sent": list(sent),
                "failed": [{"url": url, "error": error} for url, error in failed]}
        with self._tx() as db:
            db.execute("INSERT INTO events(run_id, kind, symbol, client_order_id, data) "
                       "VALUES (?, 'notification', NULL, NULL, ?)",
                       (run_id, json.dumps(data, sort_keys=True)))

    def fills(self, where: RunFilter | None = None) -> list[FillRow]:
        """Every order that filled something, oldest first, with the run it belongs to.

        An order's own run journals its fills when each step ends; an order whose run was
        killed is settled (and its fills journaled) by the next run, under the dead run's id.
        """
        clause, args = (where or RunFilter()).sql()
        rows = self._db.execute(
            "SELECT e.kind, e.data, r.account, r.broker FROM events e "  # noqa: S608
            f"JOIN runs r ON r.run_id = e.run_id WHERE e.kind IN ('step', 'leftover_cancelled')"
            f"{clause} ORDER BY e.seq", args).fetchall()
        out: list[FillRow] = []
        seen: set[str] = set()
        for kind, raw, account, broker in rows:
            data = json.loads(raw)
            cid = data["client_order_id"]
            if Decimal(data["filled_qty"]) <= 0 or data.get("avg_price") is None or cid in seen:
                continue
            seen.add(cid)
            step = kind == "step"
            out.append(FillRow(
                at=data["at"], account=account, broker=broker,
                run_id=data["run_id"] if not step else cid[5:23], symbol=data["symbol"],
                side=data.get("side") or self._order_side(cid), qty=data["filled_qty"],
                price=data["avg_price"], order_id=data.get("order_id", ""),
                client_order_id=cid))
        return out

    def _order_side(self, client_order_id: str) -> str:
        row = self._db.execute("SELECT side FROM orders WHERE client_order_id = ?",
                               (client_order_id,)).fetchone()
        return str(row[0]) if row else ""

    def prune(self, before: str, *, dry_run: bool = False) -> PruneResult:
        """Delete runs that started (wall clock) before ``before``, with their events and
        orders, keeping every run still marked running. Returns what was (or would be) removed.
        """
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT run_id FROM runs r WHERE status != 'running' "  # noqa: S608
                f"AND {WALL_START} < ?", (before,)).fetchall()]
            marks = ",".join("?" * len(ids))

            def count(table: str) -> int:
                if not ids:
                    return 0
                sql = f"SELECT COUNT(*) FROM {table} WHERE run_id IN ({marks})"  # noqa: S608
                return int(db.execute(sql, ids).fetchone()[0])

            result = PruneResult(len(ids), count("events"), count("orders"), before)
            if not dry_run and ids:
                for table in ("events", "orders", "runs"):
                    db.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", ids)  # noqa: S608
        if not dry_run and ids:
            with suppress(sqlite3.Error):  # give the space back to the filesystem
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("VACUUM")
        return result

    def groups(self, where: RunFilter | None = None) -> list[tuple[str | None, str]]:
        """The (account, broker) pairs that have runs."""
        clause, args = (where or RunFilter()).sql()
        rows = self._db.execute("SELECT DISTINCT r.account, r.broker FROM runs r "  # noqa: S608
                                f"WHERE 1=1{clause}", args).fetchall()
        return sorted(((r[0], str(r[1])) for r in rows), key=lambda g: (g[0] or "", g[1]))

    def last_runs(self, where: RunFilter | None = None) -> list[RunRow]:
        """The newest run of each (account, broker, command)."""
        clause, args = (where or RunFilter()).sql()
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs r WHERE seq IN (SELECT MAX(seq) FROM runs r "  # noqa: S608
            f"WHERE 1=1{clause} GROUP BY r.account, r.broker, r.command) ORDER BY seq",
            args).fetchall()
        return [run_row(r) for r in rows]

    def brokers(self) -> set[str]:
        return {str(r[0]) for r in self._db.execute("SELECT DISTINCT broker FROM runs")}

    def find_run(self, prefix: str) -> RunRow | None:
        """The one run whose id starts with ``prefix`` (None if none or several)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs "  # noqa: S608 - a constant column list
            "WHERE run_id LIKE ? ESCAPE '\\' ORDER BY seq DESC LIMIT 2",
            (escaped + "%",)).fetchall()
        return run_row(rows[0]) if len(rows) == 1 else None

    def runs_matching(self, prefix: str, limit: int = 10) -> list[RunRow]:
        """The newest ``limit`` runs whose id starts with ``prefix`` (to list candidates)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs "  # noqa: S608 - a constant column list
            "WHERE run_id LIKE ? ESCAPE '\\' ORDER BY seq DESC LIMIT ?",
            (escaped + "%", limit)).fetchall()
        return [run_row(r) for r in rows]

    def mark_interrupted(self, *, locked: bool = False) -> list[str]:
        """Mark runs left 'running' by a process that no longer exists (a crash, kill -9).

        ``locked``: the caller holds the lock of ``account_key``. Every run that places
        orders holds its account's lock while it runs, so every such run of that account
        still marked running is dead, whatever host or pid it recorded (a container's next
        run has a new hostname, and pids repeat across containers). Other runs are judged
        by their pid on this host: a run whose process is still alive (a `quote --watch`
        in another terminal), or that ran on another host, is left alone.
        """
        with self._tx() as db:
            running = db.execute(
                "SELECT run_id, pid, host, command, account_key FROM runs "
                "WHERE status='running' AND run_id IS NOT ?", (self.run_id,)).fetchall()
            dead = [run_id for run_id, pid, run_host, command, key in running
                    if (locked and key is not None and key == self.account_key
                        and command in ORDER_COMMANDS)
                    or (run_host in (None, self.host) and not _alive(pid))]
            db.executemany("UPDATE runs SET status='interrupted' WHERE run_id=?",
                           [(r,) for r in dead])
        return dead

    def live_runs(self) -> set[str]:
        """Runs of this host still marked running whose process is alive (this one included)."""
        rows = self._db.execute(
            "SELECT run_id, pid, host FROM runs WHERE status='running'").fetchall()
        return {run_id for run_id, pid, run_host in rows
                if run_host in (None, self.host) and _alive(pid)}

    def known_runs(self, run_ids: Sequence[str]) -> set[str]:
        """Which of ``run_ids`` this journal recorded."""
        found: set[str] = set()
        ids = list(dict.fromkeys(run_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._db.execute(
                f"SELECT run_id FROM runs WHERE run_id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                chunk).fetchall()
            found.update(str(r[0]) for r in rows)
        return found

    def unsettled_orders(self, limit: int = 200) -> list[UnsettledOrder]:
        """Orders of this account's runs that died (interrupted) or stopped on an error,
        whose end the journal never saw, newest first: they may have filled since."""
        if self.account_key is None:
            return []
        rows = self._db.execute(
            "SELECT o.client_order_id, o.run_id, o.symbol, o.side, o.qty, o.state FROM orders o "  # noqa: S608
            "JOIN runs r ON r.run_id = o.run_id WHERE r.status IN ('interrupted', 'error') "
            f"AND r.account_key = ? AND o.state NOT IN ({','.join('?' * len(ENDED_STATES))}) "
            "ORDER BY r.seq DESC, o.created_at DESC LIMIT ?",
            (self.account_key, *ENDED_STATES, limit)).fetchall()
        return [UnsettledOrder(*(str(v) for v in r)) for r in rows]


def _wall_now() -> str:
    """Wall-clock time, recorded beside the run's own clock (virtual for the simulator)."""
    from datetime import UTC

    return datetime.now(UTC).isoformat()
