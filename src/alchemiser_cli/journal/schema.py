"""The journal's tables, and the columns added since the first release."""

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
    "ALTER TABLE runs ADD COLUMN account TEXT",
    # the broker account a run worked on (mode and a digest of the key: no secret), so a run
    # holding that account's lock knows which earlier runs it outlived
    "ALTER TABLE runs ADD COLUMN account_key TEXT",
)
