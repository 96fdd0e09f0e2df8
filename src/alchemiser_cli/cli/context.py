"""The application object carried through commands: options, settings, terminal."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alchemiser_cli.domain.errors import UsageError

if TYPE_CHECKING:
    from alchemiser_cli.brokers.factory import BrokerMode
    from alchemiser_cli.cli.render import Terminal
    from alchemiser_cli.settings import Settings

T = TypeVar("T")


@dataclass
class AppContext:
    config_file: Path | None = None
    data_dir: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            from alchemiser_cli.api import load_settings

            self._settings = load_settings(self.config_file, data_dir=self.data_dir)
        return self._settings

    def terminal(self, json_mode: bool) -> Terminal:
        from alchemiser_cli.cli.render import Terminal

        secrets = self._settings.secrets() if self._settings is not None else []
        return Terminal(json_mode=json_mode, secrets=secrets)


def broker_mode(sim: bool, paper: bool, live: bool) -> BrokerMode:
    from alchemiser_cli.brokers.factory import BrokerMode

    chosen = [m for m, on in ((BrokerMode.SIM, sim), (BrokerMode.PAPER, paper),
                              (BrokerMode.LIVE, live)) if on]
    if len(chosen) > 1:
        raise UsageError("choose one of --sim, --paper and --live")
    return chosen[0] if chosen else BrokerMode.PAPER


def run_async(mode: BrokerMode, main: Callable[[], Coroutine[Any, Any, T]],
              settings: Settings | None = None) -> T:
    """Run a command's coroutine; the simulator uses virtual time unless sim.realtime."""
    from alchemiser_cli.api import run

    realtime = settings is not None and settings.sim.realtime
    return run(main, virtual_time=mode.virtual_time and not realtime)


def confirm_live(mode: BrokerMode, yes: bool, term: Terminal, what: str) -> None:
    """Live trading needs --live plus a typed confirmation on a TTY, or --yes."""
    import sys

    from alchemiser_cli.brokers.factory import BrokerMode
    from alchemiser_cli.domain.errors import NotConfirmedError

    if mode is not BrokerMode.LIVE or yes:
        return
    if not (sys.stdin.isatty() and term.is_tty):
        raise NotConfirmedError("--live without a terminal needs --yes; nothing placed")
    if not term.confirm(f"LIVE account: {what}. Trade real money?"):
        raise NotConfirmedError("live trading not confirmed; nothing placed")
