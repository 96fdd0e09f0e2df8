from datetime import UTC, datetime

from alchemiser_cli.domain.events import RunFinished, RunStarted
from alchemiser_cli.journal.store import Journal


def test_find_run_by_unique_prefix_only(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    at = datetime(2026, 11, 24, 15, tzinfo=UTC)
    for run_id in ("261124150000abc001", "261124150000abc002", "261124160000abc003"):
        journal(RunStarted(run_id, "place", "sim", at))
        journal(RunFinished(run_id, "ok", 0, {}, at))
    assert journal.find_run("2611241600").run_id == "261124160000abc003"
    assert journal.find_run("261124150000abc00") is None  # two match
    assert journal.find_run("%") is None and journal.find_run("_") is None  # not wildcards
    assert journal.find_run("261124150000abc001").status == "ok"
    assert [r.run_id for r in journal.runs(2)] == ["261124160000abc003", "261124150000abc002"]
    assert journal.mark_interrupted() == []


def test_only_runs_whose_process_is_gone_are_marked_interrupted(tmp_path):
    import subprocess
    import sys

    journal = Journal(tmp_path / "j.sqlite3")
    at = datetime(2026, 11, 24, 15, tzinfo=UTC)
    journal(RunStarted("261124150000abc001", "quote", "sim", at))  # this process: alive
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    journal._db.execute("INSERT INTO runs(run_id, seq, command, broker, started_at, status, pid) "
                        "VALUES ('261124150000abc002', 2, 'rebalance', 'sim', ?, 'running', ?)",
                        (at.isoformat(), int(dead)))
    assert journal.mark_interrupted() == ["261124150000abc002"]
    statuses = {r.run_id: r.status for r in journal.runs()}
    assert statuses == {"261124150000abc001": "running", "261124150000abc002": "interrupted"}
