"""Every command's --json output follows one contract (docs/json-schema.json): schema
version, event and time on every line, the run id once a run has started, typed numbers,
and a summary with ok and exit_code as the last line, errors included."""

import json
import sqlite3
import typing
from pathlib import Path

import pytest

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch
from tests.cli.json_contract import SCHEMA_PATH, contract_lines

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")
CONFIG = """\
[accounts.taxable]
mode = "paper"
key_id_env = "TAXABLE_KEY"
secret_key_env = "TAXABLE_SECRET"
"""


def run_json(capsys, *args: str, code: int = 0) -> list[dict]:
    result = alch(capsys, *args, "--json", raw=True)
    assert result.code == code, result.err
    return contract_lines(result.out, code)


def test_rebalance_place_and_quote_follow_the_contract(capsys):
    lines = run_json(capsys, "rebalance", PLAN, "--sim", "--dry-run")
    assert lines[-1]["dry_run"] is True and lines[-1]["run_id"] == lines[0]["run_id"]
    plan = next(line for line in lines if line["event"] == "plan")
    tsla = next(t for t in plan["trades"] if t["symbol"] == "TSLA")
    assert tsla["notional"] == "2879.59" and tsla["qty"] == "8.5"
    lines = run_json(capsys, "rebalance", PLAN, "--sim")
    kinds = {line["event"] for line in lines}
    assert {"run_started", "plan", "phase", "order_submitting", "order_accepted", "step",
            "validation", "execution", "portfolio_check", "run_finished"} <= kinds
    submitting = next(line for line in lines if line["event"] == "order_submitting")
    assert isinstance(submitting["step"], int) and submitting["wait_seconds"] == 30
    run_json(capsys, "place", "AAPL", "buy", "1", "--sim")
    lines = run_json(capsys, "quote", "AAPL", "SNDL", "--sim")
    assert [line["event"] for line in lines] == ["quote", "quote", "summary"]


def test_failures_and_errors_end_with_a_summary_too(capsys, tmp_path):
    alch(capsys, "sim", "fault", "reject_symbols=GLD")
    lines = run_json(capsys, "rebalance", PLAN, "--sim", code=ExitCode.FAILED)
    assert lines[-1]["failed"] == 1
    alch(capsys, "sim", "fault", "--clear", "quote_mode=SPY:stale")
    run_json(capsys, "quote", "SPY", "--sim", code=ExitCode.FAILED)
    lines = run_json(capsys, "rebalance", PLAN, "--sim", code=ExitCode.REFUSED)
    assert lines[-1]["error"] == "no usable quote for SPY (stale); nothing placed"
    assert lines[-1]["run_id"] == lines[0]["run_id"]  # the refused run is in the journal
    # errors before any run: usage, configuration, a refused --live
    assert run_json(capsys, "quote", "XYZQ", "--sim", code=ExitCode.USAGE)[-1]["error"] == \
        "unknown symbol XYZQ"
    error = run_json(capsys, "place", "AAPL", "buy", "-5", "--sim", code=ExitCode.USAGE)[-1]
    assert error["error"].startswith("-5 is not a valid amount")
    assert len(run_json(capsys, "rebalance", "missing.toml", "--sim", code=ExitCode.USAGE)) == 1
    (tmp_path / "bad.toml").write_text("[quotes]\nmax_age_seconds = 0\n")
    run_json(capsys, "--config", "bad.toml", "runs", code=ExitCode.CONFIG)
    run_json(capsys, "place", "AAPL", "buy", "1", "--paper", code=ExitCode.CONFIG)
    lines = run_json(capsys, "nosuchcommand", code=ExitCode.USAGE)
    assert lines[-1]["error"].startswith("No such command 'nosuchcommand'")


def test_verify_and_the_journal_commands_follow_the_contract(capsys, tmp_path, monkeypatch):
    assert alch(capsys, "rebalance", PLAN, "--sim").code == 0
    lines = run_json(capsys, "verify", "--sim")
    assert [line["event"] for line in lines][-2:] == ["check", "summary"]
    assert lines[-1]["verdict"] == "all checks passed"
    lines = run_json(capsys, "verify", "--paper", code=ExitCode.CONFIG)
    assert lines[-1]["verdict"] == "1 check(s) failed, 7 skipped (their prerequisite failed)"
    metrics = run_json(capsys, "metrics")
    assert metrics[0]["event"] == "metrics" and metrics[0]["fills_by_step"]["market"] == 7
    runs = run_json(capsys, "runs")
    assert [line["event"] for line in runs] == ["run", "summary"]
    run_id = runs[0]["run_id"]
    shown = run_json(capsys, "show", run_id)
    assert shown[0]["event"] == "run" and shown[-1]["run_id"] == run_id
    assert run_json(capsys, "show", "nope", code=ExitCode.USAGE)[-1]["error"].startswith(
        "no run matches")
    fills = run_json(capsys, "fills", "--broker", "sim")
    assert [line["event"] for line in fills].count("fill") == 7
    assert all(line["run_id"] == run_id for line in fills[:-1])
    run_json(capsys, "prune", "--older-than", "90d", "--dry-run")
    run_json(capsys, "config", "show")
    run_json(capsys, "sim", "status")
    (tmp_path / "alch.toml").write_text(CONFIG)
    monkeypatch.setenv("ALCH_CONFIG", str(tmp_path / "alch.toml"))
    lines = run_json(capsys, "accounts", code=ExitCode.CONFIG)  # its keys are not set
    assert lines[0]["event"] == "account" and lines[0]["name"] == "taxable"
    monkeypatch.setenv("TAXABLE_KEY", "PKTAXABLE1234")
    monkeypatch.setenv("TAXABLE_SECRET", "taxable-secret")
    assert run_json(capsys, "accounts")[0]["key"] == "PK…1234"


def test_a_journal_written_before_the_contract_still_reads(capsys, tmp_path):
    """Older journals: no wait_seconds, decimals with trailing zeros, fill_step labels,
    a leftover's run_id, a notification without a time."""
    assert alch(capsys, "place", "AAPL", "buy", "2", "--sim").code == 0
    before = alch(capsys, "metrics").out
    db = sqlite3.connect(tmp_path / "data" / "journal.sqlite3")
    run_id = db.execute("SELECT run_id FROM runs").fetchone()[0]
    for seq, data in db.execute("SELECT seq, data FROM events").fetchall():
        event = json.loads(data)
        event.pop("wait_seconds", None)
        for key in ("avg_price", "bid", "ask"):
            if isinstance(event.get(key), str):
                event[key] += "0000"
        if event["event"] == "execution":
            event["fill_step"] = "market"
        db.execute("UPDATE events SET data = ? WHERE seq = ?", (json.dumps(event), seq))
    db.execute("INSERT INTO events(run_id, kind, data) VALUES (?, 'leftover_cancelled', ?)",
               (run_id, json.dumps({"event": "leftover_cancelled", "client_order_id": "alch-x",
                                    "run_id": "261101100000abc001", "symbol": "AAPL",
                                    "side": "buy", "qty": "1.000", "filled_qty": "0",
                                    "avg_price": None, "status": "canceled",
                                    "at": "2026-11-24T15:00:00+00:00"})))
    db.execute("INSERT INTO events(run_id, kind, data) VALUES (?, 'notification', ?)",
               (run_id, json.dumps({"event": "notification", "sent": ["json://x"],
                                    "failed": []})))
    db.commit()
    db.close()
    assert alch(capsys, "metrics").out == before  # metrics read the old form the same way
    lines = run_json(capsys, "show", run_id[:14])
    done = next(line for line in lines if line["event"] == "execution")
    assert done["fill_step"] == 1 and done["fill_order_type"] == "market"
    assert done["avg_price"] == "228.507"  # no trailing zeros, whatever the journal holds
    leftover = next(line for line in lines if line["event"] == "leftover_cancelled")
    assert leftover["leftover_run_id"] == "261101100000abc001"
    assert leftover["run_id"] == run_id and leftover["qty"] == "1"
    text = alch(capsys, "show", run_id[:14]).out
    assert "AAPL    buy     2       2  228.51" in text


def test_the_schema_documents_every_field_of_every_event():
    from alchemiser_cli.cli.render.jsonout import _event_classes

    schema = json.loads(SCHEMA_PATH.read_text())
    documented = schema["$defs"]["events"]
    for kind, cls in _event_classes().items():
        assert kind in documented, f"event {kind!r} is not in docs/json-schema.json"
        fields = set(typing.get_type_hints(cls)) - {"kind", "at", "run_id"}
        missing = fields - set(documented[kind]["properties"])
        assert not missing, f"{kind}: {sorted(missing)} not in docs/json-schema.json"
    assert set(documented) == set(schema["properties"]["event"]["enum"])


@pytest.mark.parametrize("line", [
    {"v": 1, "event": "summary", "at": "2026-11-24T15:00:00+00:00", "ok": True,
     "exit_code": "0"},  # a count as a string
    {"v": 1, "event": "step", "at": "2026-11-24T15:00:00+00:00", "run_id": "261124150000abc001",
     "client_order_id": "c", "order_id": "o", "symbol": "AAPL", "step": "1",
     "order_type": "limit", "ratio": None, "limit_price": "228.5", "qty": "10",
     "status": "filled", "filled_qty": "10", "avg_price": "228.540000", "total_filled": "10",
     "remaining": "0", "seconds": 1.0},  # a step as a string, a decimal with trailing zeros
    {"v": 1, "event": "quote", "at": "2026-11-24T15:00:00+00:00", "symbol": "AAPL"},
])
def test_the_schema_rejects_what_the_contract_rules_out(line):
    from tests.cli.json_contract import validator

    assert list(validator().iter_errors(line))
