"""An exclusive per-account lock so overlapping runs (cron!) refuse instead of racing.

``flock`` is released by the kernel when the process dies, so a crash (even
kill -9) never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from alchemiser_cli.domain.errors import ConfigError, LockedError


class AccountLock:
    def __init__(self, data_dir: Path, account_key: str) -> None:
        self.path = data_dir / "locks" / f"{account_key}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot create the lock file {self.path}: {exc.strerror or exc} "
                              "(is the data directory writable?); nothing placed") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockedError(
                f"another alch run holds the lock for this account (pid {holder}); "
                "nothing placed") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def is_free(self) -> bool:
        try:
            self.acquire()
        except LockedError:
            return False
        self.release()
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AccountLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
