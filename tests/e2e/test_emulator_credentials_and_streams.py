"""Refused keys exit 3 on every command; streams are honest; feeds are chosen and reported.

Wire facts: a bad or revoked key has been answered as 403 ``{"message":"forbidden."}``
(alpacahq/Alpaca-API#228, alpacahq/alpaca-py#347), as 401 with code 40110000
(Alpaca-API#186) and as an HTML 403 from nginx (alpacahq/alpaca-trade-api-csharp#244).
Without a SIP subscription Alpaca answers REST ``feed=sip`` with 403 "subscription does
not permit querying recent SIP data" (docs.alpaca.markets/docs/market-data-faq).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch, records
from tests.e2e.emulator import PLAN, faults

COMMANDS = [
    ("quote", "AAPL", "--paper"),
    ("place", "AAPL", "buy", "1", "--paper"),
    ("rebalance", PLAN, "--paper"),
]


@pytest.mark.parametrize("form", ["403", "401", "html"])
@pytest.mark.parametrize("args", COMMANDS, ids=["quote", "place", "rebalance"])
def test_a_revoked_key_exits_3_with_one_redacted_line(capsys, emu, form, args):
    faults(emu, "revoked", f"auth_error={form}")
    started = time.monotonic()
    result = alch(capsys, *args)
    assert result.code == ExitCode.CONFIG, result.out + result.err
    assert result.err.startswith("error: the broker refused the credentials (HTTP 40")
    assert result.err.count("\n") == 1, result.err
    assert "PKE2E" not in result.err and "e2e-secret" not in result.err
    assert time.monotonic() - started < 15  # no retries, no waiting out stream timeouts
    assert emu.state.orders == {}


@pytest.mark.parametrize("form", ["403", "401", "html"])
def test_verify_shows_the_refused_key_and_exits_3(capsys, emu, form):
    faults(emu, "revoked", f"auth_error={form}")
    result = alch(capsys, "verify", "--paper", "--json")
    assert result.code == ExitCode.CONFIG
    rows = {r["check"]: r for r in map(json.loads, result.out.splitlines()) if "check" in r}
    assert rows["credentials"]["status"] == "pass"  # present...
    assert rows["broker"]["status"] == "fail"  # ...but refused
    assert "refused the credentials" in rows["broker"]["detail"]
    assert {rows[n]["status"] for n in ("account", "streaming quote", "trade stream")} == {"skip"}
    assert "e2e-secret" not in result.out + result.err


def test_missing_credentials_make_verify_exit_3(capsys, monkeypatch):
    result = alch(capsys, "verify", "--paper", "--json")
    assert result.code == ExitCode.CONFIG


def test_an_unreachable_stream_is_reported_at_once_and_rest_is_used(capsys, emu, monkeypatch):
    monkeypatch.setenv("ALCH_DATA_STREAM_URL", "ws://127.0.0.1:9/v2/iex")  # nothing listens
    monkeypatch.setenv("ALCH_QUOTES__STREAM_TIMEOUT_SECONDS", "10")
    started = time.monotonic()
    result = alch(capsys, "quote", "AAPL", "MSFT", "SPY", "--paper", "--json")
    elapsed = time.monotonic() - started
    assert result.code == ExitCode.OK, result.err
    assert {row["source"] for row in records(result.out, "quote")} == {"rest"}
    assert elapsed < 10, elapsed  # before: every quote waited the 10 s stream timeout
    assert result.err.startswith("warning: market-data stream: ")  # one line, no traceback
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def _quote_feeds(data: Path) -> list[str | None]:
    with sqlite3.connect(data / "journal.sqlite3") as db:
        rows = db.execute("SELECT data FROM events WHERE kind = 'quote'").fetchall()
    return [json.loads(r[0]).get("feed") for r in rows]


def test_auto_feed_uses_sip_when_the_account_has_it(capsys, emu, tmp_path):
    result = alch(capsys, "quote", "AAPL", "--paper", "--json")
    assert result.code == ExitCode.OK, result.err
    assert result.err == ""
    assert _quote_feeds(tmp_path / "data") == ["sip"]
    assert emu.emulator is not None
    assert emu.emulator.counts["GET /v2/sip"] == 1  # the stream went to the SIP feed


def test_auto_feed_falls_back_to_iex_with_one_warning(capsys, emu, tmp_path):
    faults(emu, "sip_refused")
    result = alch(capsys, "quote", "AAPL", "MSFT", "--paper", "--json")
    assert result.code == ExitCode.OK, result.err
    assert result.err == ("warning: quotes come from IEX's book only (the account has no SIP "
                          "subscription); set feed = \"iex\" to accept that and silence this "
                          "warning\n")
    assert _quote_feeds(tmp_path / "data") == ["iex", "iex"]
    rows = {r["check"]: r for r in map(json.loads, alch(
        capsys, "verify", "--paper", "--json").out.splitlines()) if "check" in r}
    assert rows["data feeds"]["status"] == "pass"
    assert rows["data feeds"]["detail"] == ("iex yes, sip no (no subscription for it); "
                                            "quotes use iex")
