"""A key revoked while an order rests: nothing can be cancelled any more, so the error
names the order that may still be working, and the next run settles it.

Wire fact: a revoked key is answered 403 ``{"message":"forbidden."}`` on every endpoint,
cancels included (alpaca-py#347; Alpaca-API#228).
"""

from __future__ import annotations

import json
import threading
import time

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch
from tests.e2e.emulator import faults


def revoke_once_an_order_rests(emu) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(o.status in {"new", "accepted"} for o in emu.state.orders.values()):
                faults(emu, "revoked")
                return
            time.sleep(0.02)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_key_revoked_mid_walk_names_the_order_left_working(capsys, emu):
    faults(emu, "limit_fills=false")  # the first limit rests
    watcher = revoke_once_an_order_rests(emu)
    result = alch(capsys, "place", "AAPL", "buy", "5", "--paper", raw=True)
    watcher.join()
    [resting] = list(emu.state.orders.values())
    assert result.code == ExitCode.BROKER, result.err  # an order's state is unknown
    assert "the broker refused the credentials" in result.err
    assert f"COULD NOT CONFIRM that these orders stopped working: {resting.client_order_id}" \
        in result.err
    assert "PKE2E" not in result.err and "e2e-secret" not in result.err
    runs = [json.loads(line) for line in alch(capsys, "runs", "--json", raw=True).out.splitlines()]
    assert (runs[0]["status"], runs[0]["exit_code"]) == ("error", 4)  # recorded, not "running"

    # the key works again: the next run cancels the leftover before it places anything
    faults(emu, "revoked=false")
    rerun = alch(capsys, "place", "AAPL", "buy", "5", "--paper", raw=True)
    assert rerun.code == ExitCode.OK, rerun.err
    assert "left by an earlier alch run" in rerun.err
    assert emu.state.orders[resting.id].status == "canceled"
