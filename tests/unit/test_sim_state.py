"""The simulator's persistence: a snapshot plus a log of changes, O(1) per call."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.persistence import load_state, log_path, save_state
from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.orders import OrderRequest, OrderType


def limit(cid: str, symbol: str = "AAPL") -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, Decimal(1), OrderType.LIMIT, Decimal("100.00"))


def comparable(state: SimState) -> dict:
    data = state.to_dict()
    for key in ("now", "markets", "queues", "generation"):  # saved with the snapshot only
        data.pop(key)
    return data


def test_every_call_is_on_disk_before_it_returns_without_any_close(tmp_path: Path):
    path = tmp_path / "sim" / "state.json"
    state = demo_state()

    async def main() -> list[dict]:
        seen = []
        sim = SimBroker(state, LoopClock(state.now_dt), path=path)
        await sim.start()
        order = await sim.submit_order(limit("a-1"))
        seen.append((comparable(load_state(path, 7)), comparable(state)))
        await sim.cancel_order(order.id)
        await sim.submit_order(limit("a-2", "MSFT"))
        state.faults.reject_next = 2  # a fault switched between calls is saved with the next
        await sim.get_account()
        seen.append((comparable(load_state(path, 7)), comparable(state)))
        return seen  # never closed: as after a SIGKILL

    for on_disk, in_memory in run(main, virtual=True):
        assert on_disk == in_memory
    assert log_path(path).is_file()


def test_a_call_appends_the_same_few_bytes_however_many_orders_exist(tmp_path: Path):
    path = tmp_path / "sim" / "state.json"
    state = SimState(cash="100000000", positions={})

    async def main() -> list[int]:
        sizes = []
        async with SimBroker(state, LoopClock(state.now_dt), path=path) as sim:
            for i in range(600):
                order = await sim.submit_order(limit(f"o-{i}", f"S{i % 50 + 1:04d}"))
                await sim.cancel_order(order.id)
                if i in (10, 599):
                    before = log_path(path).stat().st_size
                    await sim.get_order(order.id)
                    sizes.append(log_path(path).stat().st_size - before)
        return sizes

    small, large = run(main, virtual=True)
    assert large < 1000 and large - small < 10  # a few more digits in the counters


def test_close_writes_one_snapshot_and_drops_the_log(tmp_path: Path):
    path = tmp_path / "sim" / "state.json"
    state = demo_state()

    async def main() -> None:
        async with SimBroker(state, LoopClock(state.now_dt), path=path) as sim:
            await sim.submit_order(limit("c-1"))
            await sim._clock.sleep(3)

    run(main, virtual=True)
    assert not log_path(path).exists()
    saved = json.loads(path.read_text())
    assert [o["client_order_id"] for o in saved["orders"].values()] == ["c-1"]
    assert "AAPL" in saved["markets"]  # the market resumes where it was
    assert comparable(load_state(path, 7)) == comparable(state)


def test_a_log_of_another_snapshot_or_a_cut_line_is_not_replayed(tmp_path: Path):
    path = tmp_path / "sim" / "state.json"
    state = demo_state()
    save_state(path, state)
    entry = {"g": "someone-else", "s": {"cash": "1"}, "f": {}}
    good = {"g": state.generation, "s": {"cash": "2", "calls": 5}, "f": {"reject_next": 1}}
    log_path(path).write_text(json.dumps(entry) + "\n" + json.dumps(good) + "\n"
                              + json.dumps({**good, "s": {"cash": "3"}})[:20])
    loaded = load_state(path, 7)
    assert (loaded.cash, loaded.calls, loaded.faults.reject_next) == ("2", 5, 1)


def test_reset_and_fault_commands_start_a_new_snapshot(tmp_path: Path):
    path = tmp_path / "sim" / "state.json"
    state = demo_state()
    save_state(path, state)
    first = state.generation
    log_path(path).write_text(json.dumps({"g": first, "s": {"cash": "9"}, "f": {}}) + "\n")
    again = load_state(path, 7)
    assert again.cash == "9"
    save_state(path, again)
    assert again.generation != first and not log_path(path).exists()
    assert load_state(path, 7).cash == "9"
