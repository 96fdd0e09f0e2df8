"""Choose and open a broker adapter. Alpaca's is imported only when used."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

from alchemiser_cli.brokers.port import Broker
from alchemiser_cli.brokers.sim.persistence import load_state
from alchemiser_cli.clock import LoopClock
from alchemiser_cli.domain.errors import ConfigError
from alchemiser_cli.settings import Settings


class BrokerMode(StrEnum):
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"

    @property
    def virtual_time(self) -> bool:
        return self is BrokerMode.SIM


def account_key(mode: BrokerMode, settings: Settings) -> str:
    """A stable, secret-free name for the account (used for the lock file): the mode and a
    digest of the key, so two account names for the same keys still share one lock."""
    if mode is BrokerMode.SIM or settings.api_key_id is None:
        return mode.value
    digest = hashlib.sha256(settings.api_key_id.get_secret_value().encode()).hexdigest()[:10]
    return f"{mode.value}-{digest}"


def account_label(mode: BrokerMode, settings: Settings) -> str:
    """How runs, metrics and notifications name the account: ``--account`` or the mode."""
    return settings.account or mode.value



@dataclass(frozen=True, slots=True)
class OpenedBroker:
    broker: Broker
    clock: LoopClock


@asynccontextmanager
async def open_broker(mode: BrokerMode, settings: Settings) -> AsyncIterator[OpenedBroker]:
    if mode is BrokerMode.SIM:
        from alchemiser_cli.brokers.sim.broker import SimBroker
        from alchemiser_cli.brokers.sim.market import MarketModel

        path = settings.data_dir / "sim" / "state.json"
        state = load_state(path, settings.sim.seed)
        clock = LoopClock(state.now_dt)
        try:
            model = MarketModel.with_overrides(
                {name: c.overrides() for name, c in settings.sim.market.items()})
        except ValueError as exc:
            raise ConfigError(f"sim.market: {exc}") from None
        async with SimBroker(state, clock, path=path, model=model) as sim:
            yield OpenedBroker(sim, clock)
        return
    if not settings.has_credentials:
        raise ConfigError(
            "no Alpaca credentials: set APCA_API_KEY_ID and APCA_API_SECRET_KEY "
            "(or use --sim to run offline)")
    from alchemiser_cli.brokers.alpaca.adapter import AlpacaBroker

    clock = LoopClock()
    broker = AlpacaBroker(settings, paper=mode is BrokerMode.PAPER, clock=clock,
                          http_timeout=settings.execution.http_timeout_seconds)
    try:
        await broker.start()
        yield OpenedBroker(broker, clock)
    finally:
        await broker.close()
