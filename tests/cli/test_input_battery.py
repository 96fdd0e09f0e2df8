"""Hostile input, one row each: a clear one-line error with its documented exit code,
never a traceback or an internal error (70), and nothing placed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from alchemiser_cli.cli.files import write_atomically
from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch

PLAIN_PLAN = "[targets]\nSPY = 0.5\n"


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: ExitCode
    message: str  # the start of the one stderr line
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # name -> text, written in tmp_path
    hidden: tuple[str, ...] = ()  # never in stdout or stderr (a secret)


CASES = {
    "qty beyond float range": Case(("place", "AAPL", "buy", "1e309", "--sim"), ExitCode.USAGE,
                                   "error: QTY: '1e309' is not a plain decimal number"),
    "qty in exponent form": Case(("place", "AAPL", "buy", "1e20", "--sim"), ExitCode.USAGE,
                                 "error: QTY: '1e20' is not a plain decimal number"),
    "qty too large": Case(("place", "AAPL", "buy", "100000000000", "--sim"), ExitCode.USAGE,
                          "error: QTY: 100000000000 is more than the maximum of 1,000,000,000"),
    "qty with 10 decimals": Case(("place", "AAPL", "buy", "0.0000000001", "--sim"),
                                 ExitCode.USAGE, "error: QTY: 0.0000000001 has more than 9 decimals"),
    "notional beyond range": Case(("place", "AAPL", "buy", "--notional", "1e400", "--sim"),
                                  ExitCode.USAGE, "error: --notional: '1e400' is not a plain"),
    "notional infinite": Case(("place", "AAPL", "buy", "--notional", "inf", "--sim"),
                              ExitCode.USAGE, "error: --notional: 'inf' is not a plain"),
    "non-ASCII digits in QTY": Case(("place", "AAPL", "buy", "٣", "--sim"), ExitCode.USAGE,
                                    "error: QTY: '٣' is not a plain decimal number"),
    "lookalike ticker": Case(("place", "ſpy", "buy", "1", "--sim"), ExitCode.USAGE,
                             "error: symbol 'ſpy' is not a valid ticker"),
    "since overflows": Case(("metrics", "--since", "99999999999d"), ExitCode.USAGE,
                            "error: --since: '99999999999d' is more than 36500 days back"),
    "prune with a duration it does not know": Case(
        ("prune", "--older-than", "0s"), ExitCode.USAGE,
        "error: --older-than: '0s' is not like 90d, 12w or 2026-11-01"),
    "prune too far back": Case(("prune", "--older-than", "99999999999d"), ExitCode.USAGE,
                               "error: --older-than: '99999999999d' is more than 36500 days"),
    "fills since a duration it does not know": Case(
        ("fills", "--since", "0s"), ExitCode.USAGE,
        "error: --since: '0s' is not like 30d, 24h or 2026-11-01"),
    "metrics since a duration it does not know": Case(
        ("metrics", "--since", "yesterday"), ExitCode.USAGE,
        "error: --since: 'yesterday' is not like 7d, 24h or 2026-11-01"),
    "unknown command with escape sequences": Case(
        ("\x1b[31mfoo\x07",), ExitCode.USAGE,
        "error: No such command '\\x1b[31mfoo\\x07'."),
    "limit overflows": Case(("runs", "--limit", "99999999999999999999"), ExitCode.USAGE,
                            "error: Invalid value for '--limit'"),
    "data dir is a file": Case(("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
                               "error: cannot create the lock file",
                               env={"ALCH_DATA_DIR": "{tmp}/a-file"}, files={"a-file": "x"}),
    "data dir in /proc": Case(("runs",), ExitCode.CONFIG,
                              "error: journal /proc/1/journal.sqlite3 is not writable",
                              env={"ALCH_DATA_DIR": "/proc/1"}),
    "output is a directory": Case(("metrics", "--prom", "--output", "{tmp}"), ExitCode.USAGE,
                                  "error: --output: {tmp} is a directory; give a file name"),
    "output folder missing": Case(("metrics", "--prom", "--output", "/nonexistent/x.prom"),
                                  ExitCode.USAGE,
                                  "error: --output: folder /nonexistent does not exist"),
    "plan is endless": Case(("rebalance", "/dev/zero", "--sim"), ExitCode.USAGE,
                            "error: /dev/zero: larger than 1024 KiB; not a plan file"),
    "plan is a directory": Case(("rebalance", "{tmp}", "--sim"), ExitCode.USAGE,
                                "error: {tmp}: is a directory, not a plan file"),
    "infinite wait": Case(("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
                          "error: invalid configuration: execution.cancel_confirm_seconds: Input "
                          "should be a finite number",
                          env={"ALCH_EXECUTION__CANCEL_CONFIRM_SECONDS": "inf"}),
    "huge wait": Case(("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
                      "error: invalid configuration: profiles.medium.step_wait_seconds: Input "
                      "should be less than or equal to 3600",
                      env={"ALCH_CONFIG": "{tmp}/c.toml"},
                      files={"c.toml": "[profiles.medium]\nstep_wait_seconds = 1e308\n"}),
    "tolerance that passes anything": Case(
        ("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: execution.validation_tolerance: Input should be less than "
        "or equal to 1", env={"ALCH_CONFIG": "{tmp}/c.toml"},
        files={"c.toml": "[execution]\nvalidation_tolerance = 1000000\n"}),
    "string weight": Case(("rebalance", "p.toml", "--sim"), ExitCode.USAGE,
                          "error: p.toml: targets.SPY: weight: must be a number, not a string",
                          files={"p.toml": '[targets]\nSPY = "0.3"\n'}),
    "lookalike ticker in plan": Case(("rebalance", "p.toml", "--sim"), ExitCode.USAGE,
                                     "error: p.toml: targets.ſpy: symbol 'ſpy' is not a valid",
                                     files={"p.toml": '[targets]\n"ſpy" = 0.3\n'}),
    "space in a plan symbol": Case(("rebalance", "p.toml", "--sim"), ExitCode.USAGE,
                                   "error: p.toml: targets. SPY: symbol ' SPY' is not a valid",
                                   files={"p.toml": '[targets]\n" SPY" = 0.3\n'}),
    "section typo in the environment": Case(
        ("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: unknown environment variable ALCH_GARDS__MAX_ORDER_NOTIONAL"
        " (did you mean ALCH_GUARDS__...?)", env={"ALCH_GARDS__MAX_ORDER_NOTIONAL": "1"}),
    "key typo in the environment": Case(
        ("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: guards.max_ordr: Extra inputs are not permitted",
        env={"ALCH_GUARDS__MAX_ORDR": "1"}),
    "account named like the runs without one": Case(
        ("place", "AAPL", "buy", "1", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: accounts: Value error, account name 'default' is reserved",
        env={"ALCH_CONFIG": "{tmp}/c.toml"},
        files={"c.toml": '[accounts.default]\nkey_id_env = "K"\nsecret_key_env = "S"\n'}),
    # Alpaca key ids and secrets are printable ASCII: anything else (a typographic quote
    # pasted from a document) used to reach the HTTP headers and exit 70 (UnicodeEncodeError)
    "smart quote in the secret": Case(
        ("quote", "AAPL", "--paper"), ExitCode.CONFIG,
        "error: invalid configuration: api_secret_key: Value error, APCA_API_SECRET_KEY contains "
        "a character outside printable ASCII",
        env={"APCA_API_KEY_ID": "PKBATTERY0001", "APCA_API_SECRET_KEY": "\u201cs3cr3t-value\u201d"},
        hidden=("s3cr3t-value",)),
    "latin-1 letter in the key id": Case(
        ("place", "AAPL", "buy", "1", "--paper"), ExitCode.CONFIG,
        "error: invalid configuration: api_key_id: Value error, APCA_API_KEY_ID contains a "
        "character outside printable ASCII",
        env={"APCA_API_KEY_ID": "PKBATTERY\u00e90001", "APCA_API_SECRET_KEY": "s3cr3t-value"},
        hidden=("PKBATTERY", "s3cr3t-value")),
    "emoji in ALCH_API_SECRET_KEY": Case(
        ("quote", "AAPL", "--paper"), ExitCode.CONFIG,
        "error: invalid configuration: api_secret_key: Value error, APCA_API_SECRET_KEY contains "
        "a character outside printable ASCII",
        env={"ALCH_API_KEY_ID": "PKBATTERY0001", "ALCH_API_SECRET_KEY": "s3cr3t-value\U0001f511"},
        hidden=("s3cr3t-value",)),
    "smart quote in an account's secret variable": Case(
        ("--account", "tax", "quote", "AAPL", "--paper"), ExitCode.CONFIG,
        "error: invalid configuration: accounts.tax: the secret in TAX_KEY / TAX_SECRET contains "
        "a character outside printable ASCII",
        env={"ALCH_CONFIG": "{tmp}/c.toml", "TAX_KEY": "PKBATTERY0001",
             "TAX_SECRET": "s3cr3t-value\u2019"},
        files={"c.toml": '[accounts.tax]\nkey_id_env = "TAX_KEY"\nsecret_key_env = "TAX_SECRET"\n'},
        hidden=("s3cr3t-value",)),
    "non-ASCII key id in a credentials file": Case(
        ("--account", "tax", "quote", "AAPL", "--paper"), ExitCode.CONFIG,
        "error: invalid configuration: accounts.tax: the key id in tax.env contains a "
        "character outside printable ASCII",
        env={"ALCH_CONFIG": "{tmp}/c.toml"},
        files={"c.toml": '[accounts.tax]\ncredentials_file = "tax.env"\n',
               "tax.env": "APCA_API_KEY_ID=PK\u2013BATTERY0001\nAPCA_API_SECRET_KEY=s3cr3t-value\n"},
        hidden=("BATTERY0001", "s3cr3t-value")),
    # URLs are checked when the settings load, not by the first request (exit 4, MissingSchema)
    "trading URL without a scheme": Case(
        ("quote", "AAPL", "--paper"), ExitCode.CONFIG,
        "error: invalid configuration: trading_url: Value error, 'notaurl' is not an http:// or "
        "https:// URL with a host",
        env={"ALCH_TRADING_URL": "notaurl", "APCA_API_KEY_ID": "PKBATTERY0001",
             "APCA_API_SECRET_KEY": "s3cr3t-value"}),
    "data URL without a host": Case(
        ("quote", "AAPL", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: data_url: Value error, 'https://' is not an http:// or "
        "https:// URL with a host", env={"ALCH_DATA_URL": "https://"}),
    "stream URL with an HTTP scheme": Case(
        ("quote", "AAPL", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: data_stream_url: Value error, 'http://127.0.0.1:8765/v2/iex' "
        "is not a ws:// or wss:// URL with a host",
        env={"ALCH_DATA_STREAM_URL": "http://127.0.0.1:8765/v2/iex"}),
    "trading stream URL with a typo": Case(
        ("quote", "AAPL", "--sim"), ExitCode.CONFIG,
        "error: invalid configuration: trading_stream_url: Value error, 'wss//paper-api.alpaca"
        ".markets/stream' is not a ws:// or wss:// URL with a host",
        env={"ALCH_TRADING_STREAM_URL": "wss//paper-api.alpaca.markets/stream"}),
    "an account's URL without a scheme": Case(
        ("accounts",), ExitCode.CONFIG,
        "error: invalid configuration: accounts.tax.trading_url: Value error, "
        "'paper-api.alpaca.markets' is not an http:// or https:// URL with a host",
        env={"ALCH_CONFIG": "{tmp}/c.toml"},
        files={"c.toml": '[accounts.tax]\nkey_id_env = "K"\nsecret_key_env = "S"\n'
                         'trading_url = "paper-api.alpaca.markets"\n'}),
    "an account's stream URL with a REST scheme": Case(
        ("accounts",), ExitCode.CONFIG,
        "error: invalid configuration: accounts.tax.data_stream_url: Value error, "
        "'https://stream.data.alpaca.markets/v2/iex' is not a ws:// or wss:// URL with a host",
        env={"ALCH_CONFIG": "{tmp}/c.toml"},
        files={"c.toml": '[accounts.tax]\nkey_id_env = "K"\nsecret_key_env = "S"\n'
                         'data_stream_url = "https://stream.data.alpaca.markets/v2/iex"\n'}),
    "unknown symbol to quote": Case(("quote", "SPY", "XYZQ", "--sim"), ExitCode.USAGE,
                                    "error: unknown symbol XYZQ"),
    "simulator cash beyond range": Case(
        ("sim", "reset", "--cash", "1e400"), ExitCode.USAGE,
        "error: --cash: 1e400 is more than the maximum of 1,000,000,000,000"),
    "place above the guard rail": Case(
        ("place", "SPY", "buy", "--notional", "1000000", "--sim"), ExitCode.REFUSED,
        "error: SPY: order of $"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gets_a_clear_error_and_places_nothing(capsys, tmp_path, monkeypatch, name):
    case = CASES[name]
    assert alch(capsys, "sim", "reset").code == 0  # a simulated account that could trade
    for file, text in case.files.items():
        (tmp_path / file).write_text(text)
        if file.endswith(".env"):
            (tmp_path / file).chmod(0o600)  # a credentials file others cannot read
    for var, value in case.env.items():
        monkeypatch.setenv(var, value.format(tmp=tmp_path))
    result = alch(capsys, *(a.format(tmp=tmp_path) for a in case.args))
    assert result.code == case.code, result.err
    assert result.err.startswith(case.message.format(tmp=tmp_path)), result.err
    assert result.err.count("\n") == 1, result.err
    assert not [ch for ch in result.err[:-1] if not ch.isprintable()], result.err  # no raw ESC
    for secret in case.hidden:
        assert secret not in result.out + result.err
    state = tmp_path / "data" / "sim" / "state.json"
    if state.exists():
        assert json.loads(state.read_text())["orders"] == {}
    assert not list(Path("/").glob(".*.tmp"))  # nothing left behind in the filesystem root


@pytest.mark.parametrize(("text", "problem"), [
    ("garbage", "JSONDecodeError"), ('{"now": 5}', "TypeError"), ("[1]", "AttributeError"),
    ('{"cash": "x"}', "InvalidOperation")])
def test_an_unreadable_simulator_state_is_a_one_line_error(capsys, tmp_path, text, problem):
    state = tmp_path / "data" / "sim" / "state.json"
    assert alch(capsys, "sim", "reset").code == 0
    state.write_text(text)
    for args in (("quote", "SPY", "--sim"), ("sim", "status"),
                 ("rebalance", "p.toml", "--sim", "--yes")):
        (tmp_path / "p.toml").write_text(PLAIN_PLAN)
        result = alch(capsys, *args)
        assert result.code == ExitCode.CONFIG, (args, result.err)
        assert result.err.startswith(f"error: the simulator state {state} cannot be read "
                                     f"({problem}"), result.err
        assert result.err.endswith("; `alch sim reset` starts a fresh one\n"), result.err
    assert state.read_text() == text  # left as it was for the operator to look at
    assert alch(capsys, "sim", "reset").code == 0 and alch(capsys, "quote", "SPY", "--sim").code == 0


def test_a_utf8_bom_plan_is_accepted(capsys, tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + PLAIN_PLAN.encode())
    result = alch(capsys, "rebalance", "bom.toml", "--sim", "--dry-run")
    assert result.code == ExitCode.OK, result.err


def test_control_characters_in_a_plan_name_are_escaped(capsys, tmp_path):
    (tmp_path / "p.toml").write_text('[plan]\nname = "core\\u001b[2J\\u0007"\n' + PLAIN_PLAN)
    result = alch(capsys, "rebalance", "p.toml", "--sim", "--dry-run")
    assert result.code == ExitCode.OK, result.err
    assert "\x1b" not in result.out and "\x07" not in result.out
    assert "Plan core\\x1b[2J\\x07 (dry run: nothing placed)" in result.out


def test_a_symlink_at_output_is_left_alone(capsys, tmp_path):
    target = tmp_path / "target.prom"
    target.write_text("keep me\n")
    link = tmp_path / "alch.prom"
    link.symlink_to(target)
    result = alch(capsys, "metrics", "--prom", "--output", str(link))
    assert result.code == ExitCode.USAGE
    assert result.err == f"error: --output: {link} is a symbolic link; refusing to replace it\n"
    assert link.is_symlink() and target.read_text() == "keep me\n"


def test_two_overlapping_writers_never_share_a_temporary_file(tmp_path):
    out = tmp_path / "alch.prom"
    texts = {name: f"{name}\n" * 2000 for name in ("a", "b")}
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(30):
                write_atomically(out, texts[name])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert out.read_text() in texts.values()  # always one whole file, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["alch.prom"]  # no temporary file left


def test_stdout_on_a_full_disk_is_a_clear_error_not_a_crash(tmp_path):
    env = {**os.environ, "ALCH_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1"}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "alchemiser_cli", "runs"], stdout=full,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=60, check=False)
    assert done.returncode == ExitCode.CONFIG
    assert done.stderr == "error: could not write the output: No space left on device\n"
