"""Stopping a run on a signal, the same way whoever sends it.

Ctrl-C (SIGINT), SIGTERM (systemd, ``timeout``, ``kill``) and SIGHUP (a closed
terminal) all cancel the command's main task, so every ``except CancelledError``
on the way out cancels and confirms this run's open orders before the process
exits with 128 + the signal number. A signal the parent process told us to ignore
(``nohup``, a background job) stays ignored. Further signals while the run is
cancelling its orders are reported and otherwise ignored: the cleanup is bounded
by ``execution.cancel_confirm_seconds``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_state: dict[str, signal.Signals | None] = {"received": None}


def received() -> signal.Signals | None:
    """The signal that interrupted the current command, if any."""
    return _state["received"]


def exit_status(sig: signal.Signals) -> int:
    return 128 + int(sig)


def install(loop: asyncio.AbstractEventLoop, task: asyncio.Task[object]) -> Callable[[], None]:
    """Route the handled signals to ``task.cancel()``; returns the function that undoes it."""
    _state["received"] = None
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if _state["received"] is not None:
            sys.stderr.write(f"alch: {sig.name} received; still cancelling this run's open "
                             "orders, please wait\n")
            return
        _state["received"] = sig
        task.cancel(f"interrupted by {sig.name}")

    for sig in HANDLED:
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue  # ignored on purpose by whoever started us
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (RuntimeError, ValueError):  # not the main thread: leave signals alone
            continue
        installed.append(sig)

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return uninstall
