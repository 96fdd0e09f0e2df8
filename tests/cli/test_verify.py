"""`alch verify` passes on the simulator and the emulator, and fails for each component."""

import json

import pytest

from alchemiser_cli.brokers.sim.server import EmulatorThread
from alchemiser_cli.core.lock import AccountLock
from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch


def statuses(out: str) -> dict[str, str]:
    rows = [json.loads(line) for line in out.splitlines()]
    return {r["check"]: r["status"] for r in rows if "check" in r}


EXPECTED_SIM = """\
pass  config           configuration is valid (no config file: defaults and environment)
pass  credentials      not needed for the simulator
pass  broker           sim reachable
pass  account          status ACTIVE
pass  market clock     market open
pass  data feeds       sim: simulated quotes
pass  streaming quote  SPY 590.13/590.14
pass  REST quote       SPY 590.13/590.14 age 0.0s
pass  trade stream     trade_updates connected
pass  walk profile     low 0/0.35/0.5 @60s; medium 0/0.35/0.5 @20s; high market @30s
pass  journal          {data}/journal.sqlite3 is writable
pass  lock             free
all checks passed
"""


def test_verify_passes_on_the_simulator(capsys, tmp_path):
    result = alch(capsys, "verify-migration", "--sim")
    assert result.code == ExitCode.OK
    assert result.out == EXPECTED_SIM.format(data=tmp_path / "data")
    alias = alch(capsys, "verify", "--sim")  # the alias (the simulated clock has moved on)
    assert alias.code == 0
    assert [line[:22] for line in alias.out.splitlines()] == \
        [line[:22] for line in result.out.splitlines()]


@pytest.mark.parametrize(("fault", "check"), [
    ("account_blocked", "account"),
    ("stream_down", "streaming quote"),
    ("trade_stream_down", "trade stream"),
    ("quote_mode=SPY:stale", "REST quote"),
])
def test_verify_fails_for_each_broker_component(capsys, fault, check):
    alch(capsys, "sim", "fault", fault)
    result = alch(capsys, "verify", "--sim", "--json")
    assert result.code == ExitCode.FAILED
    failed = [k for k, v in statuses(result.out).items() if v != "pass"]
    assert check in failed
    assert json.loads(result.out.splitlines()[-1])["ok"] is False


def test_verify_fails_on_bad_config_and_skips_the_rest(capsys, tmp_path):
    (tmp_path / "c.toml").write_text("[quotes]\nmax_age_seconds = 0\n")
    result = alch(capsys, "--config", "c.toml", "verify", "--sim", "--json")
    assert result.code == ExitCode.CONFIG  # the README's code for a configuration problem
    s = statuses(result.out)
    assert s["config"] == "fail" and set(list(s.values())[1:]) == {"skip"}


def test_verify_reports_missing_credentials_redacts_keys_and_skips_the_broker(capsys, monkeypatch):
    result = alch(capsys, "verify", "--paper", "--json")
    s = statuses(result.out)
    assert s["credentials"] == "fail" and s["broker"] == "skip"
    monkeypatch.setenv("APCA_API_KEY_ID", "PKABCDEFGH1234")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "supersecretvalue")
    monkeypatch.setenv("ALCH_TRADING_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ALCH_DATA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ALCH_DATA_STREAM_URL", "ws://127.0.0.1:9/v2/iex")
    monkeypatch.setenv("ALCH_TRADING_STREAM_URL", "ws://127.0.0.1:9/stream")
    monkeypatch.setenv("ALCH_EXECUTION__HTTP_TIMEOUT_SECONDS", "1")
    result = alch(capsys, "verify", "--paper")
    assert result.code == ExitCode.FAILED
    assert "pass  credentials      key PK…1234 and secret set" in result.out
    assert "fail  broker           unreachable" in result.out
    assert "supersecretvalue" not in result.out + result.err


def test_verify_fails_when_the_journal_is_not_writable(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("ALCH_DATA_DIR", str(blocker))
    result = alch(capsys, "verify", "--sim", "--json")
    s = statuses(result.out)
    assert s["journal"] == "fail" and s["lock"] == "fail"


def test_verify_fails_when_the_lock_is_held(capsys, tmp_path):
    with AccountLock(tmp_path / "data", "sim"):
        result = alch(capsys, "verify", "--sim", "--json")
    assert statuses(result.out)["lock"] == "fail"


def test_verify_passes_against_the_emulator_through_alpaca_py(capsys, monkeypatch):
    with EmulatorThread(key="PKVERIFY1234", secret="verify-secret") as emu:
        for key, value in {
            "APCA_API_KEY_ID": "PKVERIFY1234", "APCA_API_SECRET_KEY": "verify-secret",
            "ALCH_TRADING_URL": emu.base_url, "ALCH_DATA_URL": emu.base_url,
            "ALCH_DATA_STREAM_URL": f"{emu.ws_url}/v2/iex",
            "ALCH_TRADING_STREAM_URL": f"{emu.ws_url}/stream",
        }.items():
            monkeypatch.setenv(key, value)
        result = alch(capsys, "verify", "--paper", "--json")
        assert result.code == ExitCode.OK, result.out
        assert set(statuses(result.out).values()) == {"pass"}
        emu.call(lambda e: setattr(e.http, "fail_path", "/v2/clock"))
        s = statuses(alch(capsys, "verify", "--paper", "--json").out)
        assert s["market clock"] == "fail" and s["account"] == "pass"
        emu.call(lambda e: setattr(e.http, "fail_path", ""))
        emu.call(lambda e: setattr(e.http, "refuse_streams", True))
        result = alch(capsys, "verify", "--paper", "--json")
        s = statuses(result.out)
        assert s["streaming quote"] == "fail" and s["trade stream"] == "fail"
        assert s["REST quote"] == "pass"
