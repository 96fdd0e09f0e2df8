"""The emulator driven by real clients: alpaca-py here, the legacy alpaca-trade-api in its
own virtualenv (``legacy_driver.py``). Each fact asserted cites its source."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from alchemiser_cli.brokers.sim.emulator import EmulatorThread

KEY, SECRET = "PKCONFORM", "conform-secret"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(key=KEY, secret=SECRET, tick_seconds=0.05, bar_interval=0.3) as emulator:
        yield emulator


@pytest.fixture
def trading(emu: EmulatorThread) -> Any:
    from alpaca.trading.client import TradingClient

    client = TradingClient(KEY, SECRET, paper=True, url_override=emu.base_url)
    client._retry = 0  # alpaca-py would otherwise sleep 3 s and retry 429/504
    return client


@pytest.fixture
def data(emu: EmulatorThread) -> Any:
    from alpaca.data.historical.stock import StockHistoricalDataClient

    client = StockHistoricalDataClient(KEY, SECRET, url_override=emu.base_url)
    client._retry = 0
    return client


def http(emu: EmulatorThread, method: str, path: str, *, auth: bool = True,
         **kwargs: Any) -> requests.Response:
    """A raw request, for what the SDKs validate away before sending."""
    headers = {**(AUTH if auth else {}), **kwargs.pop("headers", {})}
    return requests.request(method, f"{emu.base_url}{path}", headers=headers, timeout=10,
                            **kwargs)


def set_faults(emu: EmulatorThread, *items: str) -> None:
    response = requests.post(f"{emu.base_url}/_sim/faults", json={"set": list(items)}, timeout=5)
    assert response.status_code == 200, response.text
