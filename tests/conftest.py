"""Shared fixtures: isolated environment, a virtual-time simulator harness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.placement import PlacementConfig, PlacementService
from alchemiser_cli.core.ratelimit import GuardedBroker, RateLimiter
from alchemiser_cli.domain.events import Event
from alchemiser_cli.settings import Settings, load_settings

T = TypeVar("T")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No real config, keys or data dir leak into tests; output is plain and fixed-width."""
    for var in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "ALCH_CONFIG", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("ALCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@dataclass
class Harness:
    """A simulator, the guarded broker and the placement core on one virtual clock."""

    sim: SimBroker
    broker: GuardedBroker
    clock: LoopClock
    placement: PlacementService
    events: list[Event] = field(default_factory=list)
    #: Called with every event after it is recorded (a test acting at a given moment).
    listeners: list[Callable[[Event], None]] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def run_sim(body: Callable[[Harness], Awaitable[T]], *, state: SimState | None = None,
            settings: Settings | None = None, rate_per_minute: int = 200) -> T:
    """Run ``body`` against a fresh in-memory simulator in virtual time."""
    settings = settings or load_settings()
    st = state or demo_state()

    async def main() -> T:
        clock = LoopClock(st.now_dt)
        async with SimBroker(st, clock) as sim:
            broker = GuardedBroker(sim, RateLimiter(clock, rate_per_minute), clock)
            events: list[Event] = []
            listeners: list[Callable[[Event], None]] = []

            def emit(event: Event) -> None:
                events.append(event)
                for listener in listeners:
                    listener(event)

            placement = PlacementService(broker, clock, emit,
                                         PlacementConfig.from_settings(settings))
            return await body(Harness(sim, broker, clock, placement, events, listeners))

    return run(main, virtual=True)


@pytest.fixture
def sim_settings() -> Settings:
    return load_settings()


def first(items: list[Any], kind: type[T]) -> T:
    return next(i for i in items if isinstance(i, kind))
