"""Drive the emulator with the legacy ``alpaca-trade-api`` 3.2 (PyPI).

Runs in its own virtualenv (``.venv-legacy``, made by ``make setup``) because that SDK
pins websockets<11, urllib3<2 and msgpack==1.0.3. Usage:
``python legacy_driver.py BASE_URL KEY SECRET``; prints one JSON object of results.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any


def main() -> None:
    base, key, secret = sys.argv[1:4]
    import os

    os.environ.update({"APCA_API_BASE_URL": base, "APCA_API_DATA_URL": base,
                       "APCA_API_KEY_ID": key, "APCA_API_SECRET_KEY": secret,
                       "APCA_RETRY_MAX": "0"})
    from alpaca_trade_api.common import URL
    from alpaca_trade_api.rest import REST, APIError, TimeFrame, TimeFrameUnit
    from alpaca_trade_api.stream import Stream

    api = REST(raw_data=True)
    out: dict[str, Any] = {}

    def failure(fn: Any) -> dict[str, Any]:
        try:
            fn()
        except APIError as exc:
            return {"status": exc.status_code, "code": exc.code, "message": str(exc)}
        return {"status": None}

    out["account"] = api.get_account()
    out["clock"] = api.get_clock()
    out["calendar"] = api.get_calendar(start="2026-11-23", end="2026-11-30")
    out["assets"] = api.list_assets(status="active")
    out["asset"] = api.get_asset("XLE")
    out["positions"] = api.list_positions()
    out["position"] = api.get_position("AAPL")

    updates: list[dict[str, Any]] = []
    quotes: list[Any] = []
    trades: list[Any] = []
    bars: list[Any] = []
    stream = Stream(key, secret, base_url=URL(base), data_stream_url=URL(base.replace("http", "ws")),
                    data_feed="iex", raw_data=True)

    async def on_update(update: Any) -> None:
        updates.append(update)

    async def on_quote(quote: Any) -> None:
        quotes.append(quote)

    async def on_trade(trade: Any) -> None:
        trades.append(trade)

    async def on_bar(bar: Any) -> None:
        bars.append(bar)

    stream.subscribe_trade_updates(on_update)
    stream.subscribe_quotes(on_quote, "AAPL")
    stream.subscribe_trades(on_trade, "AAPL")
    stream.subscribe_bars(on_bar, "SPY")
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    time.sleep(1.0)

    resting = api.submit_order("AAPL", qty=1, side="buy", type="limit", time_in_force="day",
                               limit_price="100", client_order_id="legacy-rest")
    out["submitted"] = resting
    time.sleep(0.5)
    out["by_id"] = api.get_order(resting["id"])
    out["by_client_id"] = api.get_order_by_client_order_id("legacy-rest")
    out["listed"] = api.list_orders(status="open", nested=True, symbols=["AAPL"], side="buy",
                                    direction="asc", limit=10)
    out["listed_after"] = api.list_orders(status="all", after="2999-01-01T00:00:00Z")
    out["listed_until"] = api.list_orders(status="all", until="2999-01-01T00:00:00Z")
    out["replaced"] = api.replace_order(resting["id"], limit_price="101")
    time.sleep(0.5)
    out["old_after_replace"] = api.get_order(resting["id"])
    api.cancel_order(out["replaced"]["id"])
    out["after_cancel"] = api.get_order(out["replaced"]["id"])
    filled = api.submit_order("MSFT", qty=2, side="buy", type="market", time_in_force="day")
    out["notional"] = api.submit_order("SPY", notional=100, side="buy", type="market",
                                       time_in_force="day")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not (quotes and trades and bars and any(
            u["data"]["event"] == "fill" and u["data"]["order"]["id"] == filled["id"]
            for u in updates)):
        time.sleep(0.1)
    out["filled"] = api.get_order(filled["id"])
    out["close_position"] = api.close_position("BND", qty=5)
    api.cancel_all_orders()
    out["open_after_cancel_all"] = api.list_orders(status="open")
    out["latest_quote"] = api.get_latest_quote("AAPL")
    out["latest_trade"] = api.get_latest_trade("AAPL")
    out["latest_bar"] = api.get_latest_bar("AAPL")
    out["snapshot"] = sorted(api.get_snapshot("AAPL"))
    out["latest_quotes"] = api.get_latest_quotes(["AAPL", "MSFT"])
    out["latest_trades"] = api.get_latest_trades(["AAPL", "MSFT"])
    out["latest_bars"] = api.get_latest_bars(["AAPL", "MSFT"])
    out["snapshots"] = {k: sorted(v) for k, v in api.get_snapshots(["AAPL", "SPY"]).items()}
    minute = TimeFrame(1, TimeFrameUnit.Minute)
    out["bars"] = list(api.get_bars_iter("AAPL", minute, limit=5, raw=True))
    out["bars_multi"] = list(api.get_bars_iter(["AAPL", "SPY"], minute, limit=4, raw=True))
    out["errors"] = {
        "missing_order": failure(lambda: api.get_order("00000000-0000-4000-8000-000000000000")),
        "sub_penny": failure(lambda: api.submit_order("AAPL", qty=1, side="buy", type="limit",
                                                      time_in_force="day", limit_price="1.001")),
        "no_position": failure(lambda: api.get_position("GLD")),
    }
    out["close_all"] = api.close_all_positions()
    stream.stop()
    thread.join(6)
    out["updates"] = updates
    out["quotes"] = len(quotes)
    out["trades"] = [t if isinstance(t, dict) else {} for t in trades[:3]]
    out["bars_streamed"] = [b if isinstance(b, dict) else {} for b in bars[:3]]
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
