"""How the simulator's state (``state.py``) is kept on disk.

With ``--sim`` it lives in ``<data_dir>/sim/``, and survives our own process exactly
as a real broker's orders and positions survive a crash of the client:

- ``state.json`` is a snapshot, written atomically (temp file + rename) when the
  simulator closes, and by ``alch sim reset`` / ``alch sim fault``;
- ``state.log`` holds the changes since that snapshot, one JSON line per broker call
  that changed something: only the order records and positions that changed, plus the
  few account scalars. A call therefore costs the same however many orders the
  account has ever placed, and everything a call did is on disk before its response
  is returned (a SIGKILL right after it loses nothing).

:func:`load_state` reads the snapshot and replays the log. Each log line carries the
generation of the snapshot it extends, so a log left behind by a crash between
writing a snapshot and removing the old log is never applied twice.

The market's own state (efficient prices, queue positions) is saved with the
snapshot only; after a crash the market resumes from the last snapshot.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from alchemiser_cli.brokers.sim.state import SimState, demo_state
from alchemiser_cli.domain.errors import ConfigError


def log_path(path: Path) -> Path:
    return path.with_suffix(".log")


def load_state(path: Path, seed: int) -> SimState:
    """The snapshot plus every complete log line written since it.

    A state that cannot be read (edited by hand, another program's file) is a
    :class:`ConfigError` naming the file and the way out, never an internal error.
    """
    if not path.is_file():
        return demo_state(seed)
    try:
        state = SimState.from_json(path.read_text())
        state.now_dt  # noqa: B018 - the fields every call reads must parse
        Decimal(state.cash)
        log = log_path(path)
        if log.is_file():
            with log.open("rb") as fh:
                for line in fh:
                    if not line.endswith(b"\n"):
                        break  # a line cut short (only possible on power loss): stop there
                    entry = json.loads(line)
                    if entry.get("g") == state.generation:
                        state.apply(entry)
            state.clear_changes()
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ConfigError(f"the simulator state {path} cannot be read ({type(exc).__name__}: "
                          f"{exc}); `alch sim reset` starts a fresh one") from None
    return state


def save_state(path: Path, state: SimState) -> None:
    """Write a new snapshot atomically, then drop the log it replaces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state.generation = secrets.token_hex(6)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state.", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        fh.write(state.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(FileNotFoundError):
        log_path(path).unlink()
    state.clear_changes()


class StateLog:
    """Appends the changes of each broker call to ``state.log``."""

    def __init__(self, path: Path) -> None:
        self._path = log_path(path)
        self._fh: IO[bytes] | None = None
        self._last: tuple[Any, ...] | None = None

    def append(self, state: SimState) -> None:
        entry, self._last = state.changes(unless_equal_to=self._last)
        if entry is None:
            return
        if self._fh is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self._path.open("ab")
        self._fh.write(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
        self._fh.flush()  # in the kernel's hands: survives a SIGKILL of this process

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
