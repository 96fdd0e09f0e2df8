"""Run one body against each Broker adapter: the in-process simulator, and the Alpaca
adapter (real alpaca-py clients) talking to the emulator over loopback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from alchemiser_cli.brokers.port import Broker
from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.server import EmulatorThread
from alchemiser_cli.brokers.sim.state import SimFaults, demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.settings import Settings, load_settings


def emulator_settings(emu: EmulatorThread, **overrides: Any) -> Settings:
    return load_settings(
        api_key_id="PKCONTRACT", api_secret_key="contract-secret",
        trading_url=emu.base_url, data_url=emu.base_url,
        data_stream_url=f"{emu.ws_url}/v2/iex", trading_stream_url=f"{emu.ws_url}/stream",
        **overrides)


@dataclass
class Contract:
    kind: str
    run: Callable[[Callable[[Broker, SimFaults], Awaitable[Any]]], Any]


@pytest.fixture(params=["sim", "alpaca"])
def contract(request: pytest.FixtureRequest) -> Iterator[Contract]:
    if request.param == "sim":
        def run_sim(body: Callable[[Broker, SimFaults], Awaitable[Any]]) -> Any:
            state = demo_state()

            async def main() -> Any:
                async with SimBroker(state, LoopClock(state.now_dt)) as sim:
                    return await body(sim, state.faults)

            return run(main, virtual=True)

        yield Contract("sim", run_sim)
        return
    from alchemiser_cli.brokers.alpaca.adapter import AlpacaBroker

    with EmulatorThread(key="PKCONTRACT", secret="contract-secret") as emu:
        settings = emulator_settings(emu)

        def run_alpaca(body: Callable[[Broker, SimFaults], Awaitable[Any]]) -> Any:
            async def main() -> Any:
                broker = AlpacaBroker(settings, paper=True, clock=LoopClock())
                await broker.start()
                try:
                    return await body(broker, emu.state.faults)
                finally:
                    await broker.close()

            return run(main, virtual=False)

        yield Contract("alpaca", run_alpaca)
