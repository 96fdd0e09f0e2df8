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
