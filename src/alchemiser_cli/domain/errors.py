"""Exit codes and the errors that map to them (one table, documented in the README)."""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # everything placed and every check passed
    FAILED = 1  # the run completed but an order or a portfolio check failed
    USAGE = 2  # bad arguments, a bad plan or bad input: nothing placed
    CONFIG = 3  # bad configuration, missing credentials, journal not writable
    BROKER = 4  # broker unreachable or in an unknown state: stopped (fail closed)
    LOCKED = 5  # another alch run holds the account lock
    NOT_CONFIRMED = 6  # live trading was not confirmed (no --yes without a TTY, or declined)
    REFUSED = 7  # a guard rail or pre-trade check refused the run: nothing placed
    MARKET_CLOSED = 8  # the market is closed: nothing placed
    OTHER_RUN = 9  # another alch run's orders are open on the account: nothing placed
    SHORT_OF_PLAN = 10  # every order filled and checked, but buys were cut for lack of cash
    INTERNAL = 70  # a bug: please report it (run with ALCH_DEBUG=1 for a traceback)
    HANGUP = 129  # SIGHUP (128 + 1): this run's open orders were cancelled first
    INTERRUPTED = 130  # SIGINT, Ctrl-C (128 + 2): this run's open orders were cancelled first
    TERMINATED = 143  # SIGTERM (128 + 15): this run's open orders were cancelled first


class AlchError(Exception):
    """An error the operator can act on: one line, one exit code."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(AlchError):
    exit_code = ExitCode.USAGE


class ConfigError(AlchError):
    exit_code = ExitCode.CONFIG


class BrokerUnavailableError(AlchError):
    exit_code = ExitCode.BROKER


class LockedError(AlchError):
    exit_code = ExitCode.LOCKED


class NotConfirmedError(AlchError):
    exit_code = ExitCode.NOT_CONFIRMED


class RefusedError(AlchError):
    exit_code = ExitCode.REFUSED


class MarketClosedError(AlchError):
    exit_code = ExitCode.MARKET_CLOSED


class OtherRunError(AlchError):
    exit_code = ExitCode.OTHER_RUN


_SIGNAL_CODES = {signal.SIGHUP: ExitCode.HANGUP, signal.SIGINT: ExitCode.INTERRUPTED,
                 signal.SIGTERM: ExitCode.TERMINATED}


class RunInterrupted(AlchError):
    """A signal stopped the command; the exit code is 128 + the signal number."""

    def __init__(self, message: str, sig: signal.Signals) -> None:
        super().__init__(message, _SIGNAL_CODES.get(sig, ExitCode.INTERRUPTED))
        self.signal = sig


# One line per exit code, for messages that must stand alone (notifications, alerts).
EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "everything placed, every check passed, the plan reached (or a dry run)",
    ExitCode.FAILED: "the run completed but an order or the portfolio check failed",
    ExitCode.USAGE: "bad arguments, a bad plan or bad input: nothing placed",
    ExitCode.CONFIG: "bad configuration or credentials, or the journal or output not writable "
                     "(open orders of the run were cancelled first)",
    ExitCode.BROKER: "broker unreachable or an order's state unknown: stopped (fail closed)",
    ExitCode.LOCKED: "another alch run holds the lock for this account: nothing placed",
    ExitCode.NOT_CONFIRMED: "live trading was not confirmed: nothing placed",
    ExitCode.REFUSED: "a guard rail or pre-trade check refused: nothing placed",
    ExitCode.MARKET_CLOSED: "the market is closed: nothing placed",
    ExitCode.OTHER_RUN: "open orders of another alch run are on the account: nothing placed",
    ExitCode.SHORT_OF_PLAN: "every order filled and checked, but buys were cut for lack of cash: "
                            "short of the plan",
    ExitCode.INTERNAL: "internal error (run with ALCH_DEBUG=1 for a traceback); open orders of "
                       "the run were cancelled first",
    ExitCode.HANGUP: "stopped by SIGHUP: this run's open orders were cancelled first",
    ExitCode.INTERRUPTED: "interrupted (SIGINT): this run's open orders were cancelled first",
    ExitCode.TERMINATED: "stopped by SIGTERM: this run's open orders were cancelled first",
}


def exit_meaning(code: int) -> str:
    """The one-line meaning of an exit code; codes alch never uses are said to be unknown."""
    try:
        return EXIT_MEANINGS[ExitCode(code)]
    except (ValueError, KeyError):
        return f"unknown exit code {code} (not one of alch's)"
