"""One test per exit code: a clear one-line error, never a traceback, nothing placed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alchemiser_cli.core.lock import AccountLock
from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch


def sim_orders(tmp_path: Path) -> int:
    path = tmp_path / "data" / "sim" / "state.json"
    return len(json.loads(path.read_text())["orders"]) if path.exists() else 0


@pytest.mark.parametrize(("args", "message"), [
    (["place", "AAPL", "buyy", "10", "--sim"], "error: Invalid value for 'side'"),
    (["place", "AAPL", "buy", "ten", "--sim"],
     "error: QTY: 'ten' is not a plain decimal number like 10 or 2.5"),
    (["place", "AAPL", "buy", "--sim"], "error: give exactly one of quantity or notional"),
    (["place", "AAPL", "buy", "-5", "--sim"], "error: "),
    (["place", "AAPL", "buy", "1", "--sim", "--live"], "error: choose one of --sim, --paper"),
    (["place", "AA PL", "buy", "1", "--sim"], "error: symbol 'AA PL' is not a valid ticker"),
    (["rebalance", "missing.toml", "--sim"], "error: missing.toml: file not found"),
    (["nosuchcommand"], "error: No such command"),
    (["place", "AAPL"], "error: Missing argument 'side'. Choose from: buy, sell"),
])
def test_usage_errors_exit_2_with_one_line(capsys, tmp_path, args, message):
    result = alch(capsys, *args)
    assert result.code == ExitCode.USAGE
    assert result.err.startswith(message), result.err
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err
    assert sim_orders(tmp_path) == 0


def test_bad_plan_exits_2_and_places_nothing(capsys, tmp_path):
    (tmp_path / "bad.toml").write_text("[targets]\nAAPL = 0.7\nMSFT = 0.6\n")
    result = alch(capsys, "rebalance", "bad.toml", "--sim")
    assert result.code == ExitCode.USAGE
    assert result.err == "error: bad.toml: targets: weights sum to 1.3, more than 1\n"
    assert sim_orders(tmp_path) == 0


def test_unknown_plan_symbol_exits_2_naming_the_field(capsys, tmp_path):
    (tmp_path / "p.toml").write_text("[targets]\nAAPL = 0.2\nZZZZ = 0.1\n")
    result = alch(capsys, "rebalance", "p.toml", "--sim")
    assert result.code == ExitCode.USAGE
    assert result.err == "error: targets.ZZZZ: unknown symbol; nothing placed\n"
    assert sim_orders(tmp_path) == 0


def test_missing_credentials_exit_3(capsys):
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.CONFIG
    assert result.err.startswith("error: no Alpaca credentials")


def test_bad_config_file_exits_3(capsys, tmp_path):
    (tmp_path / "c.toml").write_text("[quotes]\nstream_timeout_seconds = -1\n")
    result = alch(capsys, "--config", "c.toml", "place", "AAPL", "buy", "1", "--sim")
    assert result.code == ExitCode.CONFIG
    assert result.err.startswith("error: invalid configuration: quotes.stream_timeout_seconds")


def test_unknown_config_key_exits_3(capsys, tmp_path):
    (tmp_path / "c.toml").write_text("[quotes]\nstream_timout = 1\n")
    result = alch(capsys, "--config", "c.toml", "quote", "AAPL", "--sim")
    assert result.code == ExitCode.CONFIG
    assert "stream_timout" in result.err


def test_lock_held_exits_5(capsys, tmp_path):
    with AccountLock(tmp_path / "data", "sim"):
        result = alch(capsys, "place", "AAPL", "buy", "1", "--sim")
    assert result.code == ExitCode.LOCKED
    assert "holds the lock" in result.err
    assert sim_orders(tmp_path) == 0


def test_live_without_a_tty_or_yes_exits_6(capsys, monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", "PKTESTKEY")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s3cr3tvalue")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--live")
    assert result.code == ExitCode.NOT_CONFIRMED
    assert result.err == "error: --live without a terminal needs --yes; nothing placed\n"


def test_closed_market_exits_8(capsys, tmp_path):
    alch(capsys, "sim", "fault", "market_closed")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--sim")
    assert result.code == ExitCode.MARKET_CLOSED
    assert sim_orders(tmp_path) == 0


def test_refused_order_exits_7(capsys, tmp_path):
    result = alch(capsys, "place", "AAPL", "sell", "1000", "--sim")
    assert result.code == ExitCode.REFUSED
    assert result.err == ("error: cannot sell 1000 AAPL: the position is 60 "
                          "(short selling is not supported)\n")
    assert sim_orders(tmp_path) == 0


def test_failed_order_exits_1(capsys):
    alch(capsys, "sim", "fault", "reject_next=1")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--sim")
    assert result.code == ExitCode.FAILED
    assert "rejected at step 1: simulated rejection" in result.err


def test_guard_rail_refuses_the_whole_run(capsys, tmp_path):
    (tmp_path / "c.toml").write_text("[guards]\nmax_order_notional = 1000\n")
    result = alch(capsys, "--config", "c.toml", "rebalance",
                  str(Path(__file__).parents[2] / "config" / "example-plan.toml"), "--sim")
    assert result.code == ExitCode.REFUSED
    assert "exceeds guards.max_order_notional" in result.err
    assert sim_orders(tmp_path) == 0


def test_internal_errors_are_one_line_without_traceback(capsys, monkeypatch):
    from alchemiser_cli.cli.commands import place as place_mod

    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(place_mod, "run_async", boom)
    result = alch(capsys, "place", "AAPL", "buy", "1", "--sim")
    assert result.code == ExitCode.INTERNAL
    assert result.err == ("error: internal error: RuntimeError: kaboom "
                          "(run with ALCH_DEBUG=1 for a traceback)\n")


def test_help_does_not_import_alpaca_or_pandas():
    code = ("import sys; from alchemiser_cli.cli.app import run; rc = run(['--help']); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('alpaca', 'pandas')]; "
            "print(bad); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_secrets_never_appear_in_output_or_journal(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("APCA_API_KEY_ID", "PKLEAKCHECK123")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "SECRETLEAKCHECK456")
    outputs = [alch(capsys, "place", "AAPL", "buy", "1", "--sim"),
               alch(capsys, "place", "AAPL", "buy", "1", "--sim", "--json"),
               alch(capsys, "place", "AAPL", "buy", "1", "--live")]
    for r in outputs:
        assert "PKLEAKCHECK123" not in r.out + r.err
        assert "SECRETLEAKCHECK456" not in r.out + r.err
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PKLEAKCHECK123" not in data and b"SECRETLEAKCHECK456" not in data


def test_a_bare_group_prints_its_help(capsys):
    for args in ([], ["plan"], ["sim"]):
        result = alch(capsys, *args)
        assert result.code == ExitCode.OK and result.err == ""
        assert result.out.startswith("Usage: alch")


def test_every_unknown_plan_symbol_is_named(capsys, tmp_path):
    (tmp_path / "p.toml").write_text("[targets]\nAAPL = 0.2\nZZZZ = 0.1\nQQQQ = 0.1\nDELIST = 0.1\n")
    result = alch(capsys, "rebalance", "p.toml", "--sim")
    assert result.code == ExitCode.USAGE
    assert result.err == ("error: targets.QQQQ: unknown symbol; targets.ZZZZ: unknown symbol; "
                          "targets.DELIST: DELIST is not tradable; nothing placed\n")
    assert sim_orders(tmp_path) == 0


def test_an_order_in_an_unknown_state_exits_4(capsys, monkeypatch):
    monkeypatch.setenv("ALCH_PROFILES__MEDIUM__PROFILE", "seed")  # a limit step to cancel
    alch(capsys, "sim", "fault", "limit_fills=false", "stuck_cancel=1")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--sim")
    assert result.code == ExitCode.BROKER
    assert "not confirmed" in result.err
