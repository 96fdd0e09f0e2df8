"""The application object carried through commands: options, settings, terminal."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alchemiser_cli.domain.errors import UsageError

if TYPE_CHECKING:  # `alch --help` imports this module: keep it light
    from alchemiser_cli.api import AccountSummary
    from alchemiser_cli.brokers.factory import BrokerMode
    from alchemiser_cli.cli.alerts import RunWatch
    from alchemiser_cli.cli.render.terminal import Terminal
    from alchemiser_cli.domain.events import Event, Observer
    from alchemiser_cli.settings import Settings

T = TypeVar("T")
#: The command line being run (so the error boundary can send its alert at the very end).
CURRENT: list[AppContext] = []


@dataclass
class AppContext:
    config_file: Path | None = None
    data_dir: Path | None = None
    account: str | None = None
    quiet: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    run_watch: RunWatch | None = None  # set by commands whose runs may send an alert
    term: Terminal | None = None  # the command's terminal, once it has one

    def __post_init__(self) -> None:
        CURRENT[:] = [self]

    def watch(self, command: str, notify: list[str] | None) -> RunWatch:
        """Follow this command's run for the alert sent when it finishes."""
        from alchemiser_cli.cli.alerts import RunWatch

        self.run_watch = RunWatch(command, list(notify or []))
        return self.run_watch

    def loaded_settings(self) -> Settings | None:
        """The settings, if they were (or can be) read; None when they are invalid."""
        from alchemiser_cli.domain.errors import AlchError

        try:
            return self.settings()
        except AlchError:
            return None

    def settings(self) -> Settings:
        if self._settings is None:
            from alchemiser_cli.api import load_settings

            self._settings = load_settings(self.config_file, data_dir=self.data_dir,
                                           account=self.account)
        return self._settings

    def use_plan_account(self, plan_account: str | None) -> None:
        """A plan may name its account: it must agree with --account, or selects it."""
        if plan_account is None:
            return
        if self.account is not None and self.account != plan_account:
            raise UsageError(f"the plan is for account {plan_account!r} but --account is "
                             f"{self.account!r}; nothing placed")
        if self._settings is not None and self._settings.account != plan_account:
            self._settings = None  # settings were read for another account: read them again
        self.account = plan_account

    def mode(self, sim: bool, paper: bool, live: bool) -> BrokerMode:
        """The broker of this command; with an account, the flag must match the account's
        mode (a live account is traded only with an explicit --live)."""
        from alchemiser_cli.brokers.factory import BrokerMode

        mode = broker_mode(sim, paper, live)
        account = self.settings().selected_account
        if account is None:
            return mode
        name = self.settings().account
        if mode is BrokerMode.SIM:
            raise UsageError(f"--account {name} is an Alpaca account; --sim uses none")
        if mode.value != account.mode:
            raise UsageError(f"account {name} is a {account.mode} account: use --{account.mode}")
        return mode

    def terminal(self, json_mode: bool, *, wide: bool = False) -> Terminal:
        from alchemiser_cli.cli.render.terminal import Terminal

        secrets = self._settings.secrets() if self._settings is not None else []
        self.term = Terminal(json_mode=json_mode, secrets=secrets, quiet=self.quiet, wide=wide)
        return self.term


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


class Relay:
    """An observer that passes events on to whichever view is showing now (a command that
    shows a preview, asks, then runs, changes views in one session)."""

    def __init__(self) -> None:
        self.target: Observer | None = None

    def __call__(self, event: Event) -> None:
        if self.target is not None:
            self.target(event)


def require_confirmable(mode: BrokerMode, yes: bool, term: Terminal) -> bool:
    """Whether this --live command must ask before it trades. Without a terminal to ask
    on (cron, a pipe, --json) and without --yes it refuses at once: exit 6, nothing placed.
    """
    from alchemiser_cli.brokers.factory import BrokerMode
    from alchemiser_cli.domain.errors import NotConfirmedError

    if mode is not BrokerMode.LIVE or yes:
        return False
    if not term.can_ask():
        raise NotConfirmedError("--live without a terminal needs --yes; nothing placed")
    return True


async def confirm_live(term: Terminal, account: AccountSummary, what: str) -> None:
    """The typed confirmation: the operator has seen what will trade, on which account and
    endpoint, and types the last four characters of the account number (exit 6 otherwise)."""
    from alchemiser_cli.domain.errors import NotConfirmedError

    digits = account.confirmation_code
    term.line(f"LIVE account {account.number} ({account.status}) at {account.endpoint}")
    term.line(what)
    answer = await term.ask(f"This trades real money. Type the last {len(digits)} characters "
                            f"of {account.number} to go on: ")
    if answer.upper() != digits.upper():
        raise NotConfirmedError("live trading not confirmed; nothing placed")
