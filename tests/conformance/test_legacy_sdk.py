"""The legacy ``alpaca-trade-api`` 3.2 (PyPI) against the emulator: REST and both streams.

It runs in ``.venv-legacy`` (made by ``make setup``; its pins clash with ours) through
``legacy_driver.py`` in a subprocess. Facts: the legacy SDK's alpaca_trade_api/rest.py
(routes; ``get_latest_quote`` reads ``resp['quote']``, ``get_latest_quotes``
``resp['quotes']``), stream.py (``TradingStream`` connects to ``base_url + '/stream/'``),
and the sources cited in the alpaca-py conformance tests (test_alpaca_py_trading.py,
test_alpaca_py_data_and_streams.py) for the same facts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from alchemiser_cli.brokers.sim.emulator import EmulatorThread

ROOT = Path(__file__).parents[2]
LEGACY = Path(os.environ.get("ALCH_LEGACY_PYTHON", ROOT / ".venv-legacy" / "bin" / "python"))


@pytest.fixture(scope="module")
def legacy() -> dict[str, Any]:
    if not LEGACY.exists():
        pytest.fail(f"{LEGACY} is missing: run `make setup` (it builds .venv-legacy)")
    with EmulatorThread(key="PKLEGACY", secret="legacy-secret", tick_seconds=0.05,
                        bar_interval=0.3) as emu:
        result = subprocess.run(
            [str(LEGACY), str(Path(__file__).with_name("legacy_driver.py")), emu.base_url,
             "PKLEGACY", "legacy-secret"], capture_output=True, text=True, timeout=180,
            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_account_clock_calendar_assets_positions(legacy):
    assert legacy["account"]["status"] == "ACTIVE" and legacy["account"]["cash"] == "25000"
    assert legacy["clock"]["timestamp"][-6:] in ("-05:00", "-04:00")  # New York time
    assert [d["date"] for d in legacy["calendar"]][3] == "2026-11-27"  # after Thanksgiving
    assert {a["status"] for a in legacy["assets"]} == {"active"}
    assert legacy["asset"]["symbol"] == "XLE" and legacy["asset"]["fractionable"] is False
    assert {p["symbol"] for p in legacy["positions"]} == {"AAPL", "MSFT", "SPY", "TSLA", "BND"}
    assert legacy["position"]["qty_available"] == "60"


def test_orders_lifecycle(legacy):
    assert legacy["submitted"]["status"] == "accepted"
    assert legacy["by_id"]["status"] == "new" and legacy["by_client_id"]["id"] == legacy["by_id"]["id"]
    assert [o["client_order_id"] for o in legacy["listed"]] == ["legacy-rest"]
    assert legacy["listed_after"] == [] and len(legacy["listed_until"]) == 1
    assert legacy["replaced"]["replaces"] == legacy["submitted"]["id"]
    assert legacy["old_after_replace"]["status"] == "replaced"
    assert legacy["old_after_replace"]["replaced_by"] == legacy["replaced"]["id"]
    assert legacy["after_cancel"]["status"] in ("pending_cancel", "canceled")
    assert legacy["filled"]["status"] == "filled" and legacy["filled"]["filled_qty"] == "2"
    assert legacy["notional"]["notional"] == "100" and legacy["notional"]["qty"] is None
    assert legacy["close_position"]["side"] == "sell" and legacy["close_position"]["qty"] == "5"
    assert all(o["status"] == "pending_cancel" for o in legacy["open_after_cancel_all"])


def test_market_data(legacy):
    assert {"t", "bp", "bs", "ap", "as"} <= set(legacy["latest_quote"])
    assert legacy["latest_trade"]["p"] > 0
    bar = legacy["latest_bar"]
    assert bar["l"] <= bar["c"] <= bar["h"] and str(bar["h"]).count(".") <= 1
    # cent ticks at or above $1 (sub-penny refusal: alpaca-trade-api-csharp#497)
    assert len(str(bar["h"]).split(".")[-1]) <= 2
    assert {"latestTrade", "latestQuote", "minuteBar", "dailyBar"} <= set(legacy["snapshot"])
    # many symbols: keyed by symbol under "quotes"/"trades"/"bars" (legacy rest.py), and
    # snapshots keyed by symbol at the top
    assert set(legacy["latest_quotes"]) == set(legacy["latest_trades"]) == {"AAPL", "MSFT"}
    assert set(legacy["latest_bars"]) == {"AAPL", "MSFT"}
    assert set(legacy["snapshots"]) == {"AAPL", "SPY"}
    assert "latestQuote" in legacy["snapshots"]["SPY"]
    assert 1 <= len(legacy["bars"]) <= 5 and {"t", "o", "h", "l", "c", "v"} <= set(legacy["bars"][0])
    assert {b["S"] for b in legacy["bars_multi"]} <= {"AAPL", "SPY"} and legacy["bars_multi"]


def test_error_bodies(legacy):
    errors = legacy["errors"]
    assert errors["missing_order"] == {"status": 404, "code": 40410000, "message": "order not found"}
    assert errors["sub_penny"]["status"] == 422 and "sub-penny" in errors["sub_penny"]["message"]
    assert errors["no_position"]["message"] == "position does not exist"


def test_closing_every_position(legacy):
    # DELETE /v2/positions: 207 with one {symbol, status, body} per position
    # (spec deleteAllOpenPositions, PositionClosedReponse; alpaca-py ClosePositionResponse)
    closed = {c["symbol"]: c for c in legacy["close_all"]}
    assert set(closed) >= {"AAPL", "MSFT", "SPY", "TSLA"}
    assert all(closed[s]["status"] == 200 and closed[s]["body"]["side"] == "sell"
               for s in ("MSFT", "SPY", "TSLA"))
    # AAPL still has a buy whose cancel is pending: a market sell would be a wash trade,
    # reported in that entry's body, not as an HTTP error of the whole request
    assert closed["AAPL"]["status"] in (200, 403)
    if closed["AAPL"]["status"] == 403:
        assert "wash trade" in closed["AAPL"]["body"]["message"]


def test_both_streams(legacy):
    assert legacy["quotes"] > 0  # the data stream at /v2/iex, msgpack
    assert legacy["trades"] and legacy["trades"][0]["T"] == "t" and legacy["trades"][0]["p"] > 0
    assert legacy["bars_streamed"] and legacy["bars_streamed"][0]["S"] == "SPY"
    # the trade stream at /stream/; events and fill fields per alpaca-docs streaming.md
    events = [u["data"]["event"] for u in legacy["updates"]]
    assert "new" in events and "fill" in events and "replaced" in events
    fill = next(u["data"] for u in legacy["updates"] if u["data"]["event"] == "fill")
    assert {"qty", "price", "position_qty", "execution_id", "timestamp"} <= set(fill)
