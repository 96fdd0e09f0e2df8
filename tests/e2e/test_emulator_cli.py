"""`alch quote/place/rebalance --paper` through alpaca-py against the emulator, with faults.

Every run must end in a correct final state or a clear error and exit code, with no
duplicate client_order_id and no order left open.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from alchemiser_cli.brokers.sim.server import EmulatorThread
from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")

FAST = {  # short walks in wall-clock time; the seed profile places an order at every step
    "ALCH_PROFILES__MEDIUM__PROFILE": "seed",
    "ALCH_EXECUTION__MARKOUT_SECONDS": "0.2",
    "ALCH_PROFILES__MEDIUM__STEP_WAIT_SECONDS": "0.6",
    "ALCH_PROFILES__MEDIUM__MARKET_WAIT_SECONDS": "3",
    "ALCH_PROFILES__LOW__STEP_WAIT_SECONDS": "0.6",
    "ALCH_QUOTES__STREAM_TIMEOUT_SECONDS": "1",
    "ALCH_EXECUTION__POLL_INTERVAL_SECONDS": "0.1",
    "ALCH_EXECUTION__VALIDATION_TIMEOUT_SECONDS": "5",
    "ALCH_EXECUTION__CANCEL_CONFIRM_SECONDS": "5",
    "ALCH_EXECUTION__HTTP_TIMEOUT_SECONDS": "2",
}


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    with EmulatorThread(key="PKE2E", secret="e2e-secret", tick_seconds=0.05) as emulator:
        env = {
            "APCA_API_KEY_ID": "PKE2E", "APCA_API_SECRET_KEY": "e2e-secret",
            "ALCH_TRADING_URL": emulator.base_url, "ALCH_DATA_URL": emulator.base_url,
            "ALCH_DATA_STREAM_URL": f"{emulator.ws_url}/v2/iex",
            "ALCH_TRADING_STREAM_URL": f"{emulator.ws_url}/stream", **FAST,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield emulator
        assert_no_duplicates_and_nothing_open(emulator)


def admin(emu: EmulatorThread, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{emu.base_url}{path}", method="POST" if body is not None
                                     else "GET", data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def faults(emu: EmulatorThread, *items: str) -> None:
    admin(emu, "/_sim/faults", {"set": list(items)})


def assert_no_duplicates_and_nothing_open(emu: EmulatorThread) -> None:
    orders = emu.state.orders.values()
    ids = [o.client_order_id for o in orders]
    assert len(ids) == len(set(ids)), ids
    assert not [o.client_order_id for o in orders
                if o.status not in {"filled", "canceled", "rejected", "replaced"}]


def test_quote_through_alpaca_py(capsys, emu):
    result = alch(capsys, "quote", "AAPL", "SNDL", "--paper", "--json")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [r["symbol"] for r in rows] == ["AAPL", "SNDL"]
    assert all(r["usable"] and r["source"] == "stream" for r in rows)


def test_place_through_alpaca_py(capsys, emu):
    result = alch(capsys, "place", "AAPL", "buy", "3", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert "check AAPL pass: position 63 as expected" in result.out
    assert emu.state.position_qty("AAPL") == 63


def test_rebalance_through_alpaca_py(capsys, emu):
    result = alch(capsys, "rebalance", PLAN, "--paper")
    assert result.code == ExitCode.OK, result.out + result.err
    assert "check passed" in result.out.splitlines()[-1]
    assert "TSLA" not in emu.state.positions


def test_walk_to_market_with_stream_fills(capsys, emu):
    faults(emu, "limit_fills=false")
    result = alch(capsys, "place", "MSFT", "sell", "2", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert [line.split(":")[0] for line in result.out.splitlines() if line.startswith("result")] \
        == ["result MSFT step 1", "result MSFT step 2", "result MSFT step 3", "result MSFT market"]


def test_429_bursts_are_absorbed_by_the_shared_budget(capsys, emu):
    faults(emu, "http_429=3")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert emu.state.position_qty("AAPL") == 61


def test_5xx_on_reads_and_on_the_submission(capsys, emu):
    faults(emu, "http_5xx=2")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert emu.state.position_qty("AAPL") == 61


def test_a_lost_submit_response_is_adopted_not_duplicated(capsys, emu):
    faults(emu, "lose_submit_response=1")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert len(emu.state.orders) == sum(1 for line in result.out.splitlines()
                                        if line.startswith("submit "))


def test_slow_broker_times_out_into_a_clear_error(capsys, emu):
    faults(emu, "slow_seconds=3")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.BROKER
    assert result.err.startswith("error: cannot reach the broker: network error")
    faults(emu, "slow_seconds=0")


def test_stream_drop_mid_walk_falls_back_to_polling(capsys, emu):
    faults(emu, "limit_fills=false")

    def drop_later() -> None:
        time.sleep(1.0)
        faults(emu, "refuse_streams")  # an outage: reconnects are refused
        admin(emu, "/_sim/drop-streams", {})

    threading.Thread(target=drop_later, daemon=True).start()
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert "warning: trade-update stream lost; polling orders over REST" in result.err
    assert emu.state.position_qty("AAPL") == 61
    faults(emu, "refuse_streams=false")


@pytest.mark.parametrize(("mode", "code", "message"), [
    ("stale", ExitCode.REFUSED, "no usable quote for AAPL (stale); nothing placed"),
    ("crossed", ExitCode.REFUSED, "no usable quote for AAPL (crossed); nothing placed"),
    ("both_zero", ExitCode.REFUSED, "no usable quote for AAPL (both_zero); nothing placed"),
])
def test_bad_quotes_place_nothing(capsys, emu, mode, code, message):
    faults(emu, f"quote_mode=AAPL:{mode}")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == code
    assert result.err == f"error: {message}\n"
    assert emu.state.orders == {}


def test_zero_bid_is_estimated_and_the_order_fills(capsys, emu):
    faults(emu, "quote_mode=AAPL:zero_bid")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert "zero-bid(estimated)" in result.out


def test_insufficient_buying_power_is_a_clear_failure(capsys, emu):
    result = alch(capsys, "place", "AAPL", "buy", "1000", "--paper")
    assert result.code == ExitCode.FAILED
    assert result.err == "error: rejected: insufficient buying power\n"


def test_wash_trade_rejection_is_a_clear_failure(capsys, emu):
    faults(emu, "limit_fills=false")
    body = json.dumps({"symbol": "AAPL", "qty": 1, "side": "sell", "type": "limit",
                       "time_in_force": "day", "limit_price": 999.0,
                       "client_order_id": "manual-1"}).encode()
    request = urllib.request.Request(f"{emu.base_url}/v2/orders", data=body, method="POST",
                                     headers={"APCA-API-KEY-ID": "PKE2E",
                                              "APCA-API-SECRET-KEY": "e2e-secret"})
    urllib.request.urlopen(request, timeout=5).read()
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.FAILED
    assert "potential wash trade detected" in result.err
    # leave nothing open for the fixture's final check
    emu.state.orders[next(iter(emu.state.orders))].status = "canceled"


def test_a_rejection_mid_walk_through_the_trade_stream(capsys, emu):
    faults(emu, "reject_next=1")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.FAILED
    assert "rejected at step 1: " in result.err


def test_wrong_keys_fail_closed(capsys, emu, monkeypatch):
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.BROKER
    assert "request is not authorized" in result.err
    assert "wrong" not in result.err


def test_known_keys_never_appear_in_output_logs_or_the_journal(capsys, emu, tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)  # alpaca-py, websockets and requests log at DEBUG
    outputs = [alch(capsys, *args) for args in (
        ("verify", "--paper"), ("verify", "--paper", "--json"),
        ("quote", "AAPL", "--paper", "--json"), ("place", "AAPL", "buy", "1", "--paper"),
        ("place", "AAPL", "buy", "1", "--paper", "--json"),
        ("rebalance", PLAN, "--paper", "--dry-run", "--json"),
        ("runs", "--json"), ("metrics", "--prom"), ("plan", "snapshot", "s.toml", "--paper"),
    )]
    for secret in ("PKE2E", "e2e-secret"):
        for result in outputs:
            assert secret not in result.out + result.err
        assert secret not in caplog.text
        for path in (tmp_path / "data").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
        assert secret not in (tmp_path / "s.toml").read_text()
