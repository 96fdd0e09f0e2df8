"""`alch quote/place/rebalance --paper` through alpaca-py against the emulator, with faults.

Every run must end in a correct final state or a clear error and exit code, with no
duplicate client_order_id and no order left open.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch, records
from tests.e2e.emulator import PLAN, admin, faults


def test_quote_through_alpaca_py(capsys, emu):
    result = alch(capsys, "quote", "AAPL", "SNDL", "--paper", "--json")
    assert result.code == 0, result.err
    rows = records(result.out, "quote")
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


def test_insufficient_buying_power_is_a_clear_failure(capsys, emu, monkeypatch):
    # $91k of AAPL: inside the $100k order guard rail (the turnover guard is lifted), far
    # beyond the account's cash: the broker's rejection must come through as it is
    # (403/40310000 "insufficient buying power", alpacahq/alpaca-py#225)
    monkeypatch.setenv("ALCH_GUARDS__MAX_TURNOVER_FRACTION", "5")
    result = alch(capsys, "place", "AAPL", "buy", "400", "--paper")
    assert result.code == ExitCode.FAILED
    assert result.err == "error: rejected: insufficient buying power\n"


def test_a_manual_open_order_on_the_symbol_refuses_place_before_anything_is_sent(capsys, emu):
    faults(emu, "limit_fills=false")
    body = json.dumps({"symbol": "AAPL", "qty": 1, "side": "sell", "type": "limit",
                       "time_in_force": "day", "limit_price": 999.0,
                       "client_order_id": "manual-1"}).encode()
    request = urllib.request.Request(f"{emu.base_url}/v2/orders", data=body, method="POST",
                                     headers={"APCA-API-KEY-ID": "PKE2E",
                                              "APCA-API-SECRET-KEY": "e2e-secret"})
    urllib.request.urlopen(request, timeout=5).read()
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    # it would be rejected as a wash trade (403/40310000 "potential wash trade detected",
    # forum.alpaca.markets t/13817) or double the trade: refused before any POST
    assert result.code == ExitCode.REFUSED
    assert result.err == ("error: open orders not placed by alch on AAPL: cancel them first (they"
                          " would be rejected as wash trades or double the trade); nothing placed\n")
    assert [o.client_order_id for o in emu.state.orders.values()] == ["manual-1"]
    # leave nothing open for the fixture's final check
    emu.state.orders[next(iter(emu.state.orders))].status = "canceled"


def test_a_rejection_mid_walk_through_the_trade_stream(capsys, emu):
    faults(emu, "reject_next=1")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.FAILED
    assert "rejected at step 1: " in result.err


def test_wrong_keys_fail_closed(capsys, emu, monkeypatch):
    # A refused key is a configuration problem (exit 3), not an unreachable broker; the
    # emulator answers 403 {"message": "forbidden."} (alpacahq/Alpaca-API#228).
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.CONFIG
    assert result.err.startswith("error: the broker refused the credentials (HTTP 403")
    assert result.err.count("\n") == 1
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


def test_sim_commands_steer_a_running_emulator(capsys, emu):
    url = emu.base_url
    assert alch(capsys, "sim", "fault", "--url", url, "limit_fills=false", "http_429=1").code == 0
    assert emu.state.faults.limit_fills is False
    assert emu.emulator is not None and emu.emulator.http.http_429 == 1
    assert alch(capsys, "place", "AAPL", "buy", "1", "--paper").code == ExitCode.OK
    status = alch(capsys, "sim", "status", "--url", url, "--json", "--log", "3")
    assert status.code == 0, status.err
    [data] = records(status.out, "sim_status")
    assert data["active_faults"] == {"limit_fills": False}  # the 429 was used up
    assert data["requests"]["POST /v2/orders"] >= 1 and len(data["log"]) == 3
    text = alch(capsys, "sim", "status", "--url", url, "--log", "2").out
    assert "faults: {\"limit_fills\": false}" in text and "remaining=" in text
    assert alch(capsys, "sim", "reset", "--url", url, "--cash", "1000", "--empty").code == 0
    assert emu.state.cash == "1000" and emu.state.positions == {} and emu.state.orders == {}
    bad = alch(capsys, "sim", "fault", "--url", url, "no_such_fault")
    assert bad.code == ExitCode.USAGE and "unknown fault" in bad.err


def test_sim_url_env_and_an_unreachable_emulator(capsys, emu, monkeypatch):
    monkeypatch.setenv("ALCH_SIM_URL", emu.base_url)
    assert alch(capsys, "sim", "fault", "sip_refused").code == 0
    assert emu.emulator is not None and emu.emulator.http.sip_refused
    monkeypatch.setenv("ALCH_SIM_URL", "http://127.0.0.1:9")
    result = alch(capsys, "sim", "status")
    assert result.code == ExitCode.BROKER
    assert result.err.startswith("error: cannot reach an emulator at http://127.0.0.1:9")


def test_the_request_log_names_method_path_status_latency_and_budget(capsys, monkeypatch):
    import re

    from alchemiser_cli.brokers.sim.emulator import EmulatorThread
    from tests.e2e.emulator import alch_env

    lines: list[str] = []
    with EmulatorThread(key="PKE2E", secret="e2e-secret", log=lines.append) as logged:
        for key, value in alch_env(logged).items():
            monkeypatch.setenv(key, value)
        assert alch(capsys, "place", "AAPL", "buy", "1", "--paper").code == ExitCode.OK
    pattern = re.compile(r"^(GET|POST|DELETE|PATCH) /v2/\S+ \d{3} \d+\.\dms remaining=\d+$")
    assert lines and all(pattern.match(line) for line in lines), lines[:5]
    assert any(line.startswith("POST /v2/orders 200 ") for line in lines)
