"""Writing files the operator names (``--output``, plan files): atomically, safely.

The text goes to a uniquely named temporary file in the target's own folder and is
renamed over the target only when complete, so a reader (node_exporter's textfile
collector) never sees half a file and two writers never share a temporary file. A
target that is a directory, or a symbolic link (which the rename would replace), is
refused, and so is a folder that does not exist.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from alchemiser_cli.domain.errors import ConfigError, UsageError


def write_atomically(path: Path, text: str, *, option: str = "--output") -> None:
    if path.is_symlink():
        raise UsageError(f"{option}: {path} is a symbolic link; refusing to replace it")
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{option}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"{option}: cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
