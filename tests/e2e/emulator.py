"""The emulator as the CLI tests use it: a fresh one per test, alch pointed at it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from alchemiser_cli.brokers.sim.emulator import EmulatorThread

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


def alch_env(emulator: EmulatorThread) -> dict[str, str]:
    return {
        "APCA_API_KEY_ID": "PKE2E", "APCA_API_SECRET_KEY": "e2e-secret",
        "ALCH_TRADING_URL": emulator.base_url, "ALCH_DATA_URL": emulator.base_url,
        "ALCH_DATA_STREAM_URL": f"{emulator.ws_url}/v2/iex",
        "ALCH_TRADING_STREAM_URL": f"{emulator.ws_url}/stream", **FAST,
    }


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
