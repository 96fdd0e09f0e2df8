"""alpaca-py's and websockets' log records, as one short line per distinct problem.

Left alone, an unreachable stream makes alpaca-py log a traceback on every retry (Python's
last-resort handler prints them: 8 tracebacks, 201 lines, for one ``alch quote``), and
every clean shutdown logs ``websocket error, restarting connection: sent 1000 (OK)``.
Cron mail must carry only our own diagnostics, so these loggers get one handler of ours
(and do not propagate): warnings and errors become ``warning: <stream>: <problem>`` on
stderr, once per distinct problem, without traceback and with secrets redacted; the
closing handshake of a shutdown is not a problem and is not shown.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import TextIO

from alchemiser_cli.brokers.alpaca.streams import StreamStatus, classify
from alchemiser_cli.logs import redact

LIBRARY_LOGGERS = ("alpaca", "websockets")
OUR_LOGGER = "alchemiser_cli.brokers.alpaca"
_PREFIXES = ("error during websocket communication: ", "error during websocket communication:")
_NAMES = {"alpaca.data": "market-data stream", "alpaca.trading.stream": "trade stream",
          "websockets": "websocket"}
_CLOSED_OK = re.compile(r"\b1000 \(OK\)")


def _source(name: str) -> str:
    for prefix, label in _NAMES.items():
        if name.startswith(prefix):
            return label
    return "alpaca"


class OneLineHandler(logging.Handler):
    """Writes each distinct problem once, on one line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.WARNING)
        self._stream = stream
        self._seen: set[str] = set()
        self._guard = threading.Lock()
        self.quiet = 0  # > 0 while streams are being shut down on purpose

    def line(self, record: logging.LogRecord) -> str | None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if record.name.startswith(OUR_LOGGER):
            return redact(message.splitlines()[0] if message else "")
        if _CLOSED_OK.search(message) or (self.quiet and record.levelno < logging.CRITICAL):
            return None
        text = message.splitlines()[0].strip() if message else ""
        for prefix in _PREFIXES:
            text = text.removeprefix(prefix)
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and classify(exc) is StreamStatus.AUTH_FAILED:
            return None  # reported once, as the command's error (exit 3)
        if exc is not None and str(exc) and str(exc) not in text:
            text = f"{text}: {type(exc).__name__}: {exc}" if text else f"{type(exc).__name__}: {exc}"
        text = " ".join(text.split())[:200]
        return redact(f"{_source(record.name)}: {text or 'unknown problem'}")

    def emit(self, record: logging.LogRecord) -> None:
        line = self.line(record)
        if not line:
            return
        key = re.sub(r"\d+", "#", line)
        with self._guard:
            if key in self._seen:
                return
            self._seen.add(key)
        try:
            out = self._stream or sys.stderr
            out.write(f"warning: {line}\n")
            out.flush()
        except (OSError, ValueError):
            pass


_STATE: dict[str, OneLineHandler] = {}
_LOCK = threading.Lock()


def install() -> OneLineHandler:
    """Route the libraries' records (and ours) through the one handler; idempotent."""
    with _LOCK:
        handler = _STATE.get("handler")
        if handler is None:
            handler = OneLineHandler()
            _STATE["handler"] = handler
        for name in (*LIBRARY_LOGGERS, OUR_LOGGER):
            logger = logging.getLogger(name)
            if handler not in logger.handlers:
                logger.addHandler(handler)
            logger.propagate = False
        return handler


def warn_once(message: str) -> None:
    """One of our own diagnostics (``warning: <message>``), shown once per process."""
    install()
    logging.getLogger(OUR_LOGGER).warning(message)
