"""Keep secrets out of every log record, whatever library logs and whoever handles it.

alpaca-py and websockets log request and frame contents at DEBUG (the stream's
authentication frame carries the secret). ``protect_secrets`` installs a log-record
factory that rewrites any record whose message contains a registered secret, so no
handler (ours, the operator's, or a test's) can ever see one.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

from alchemiser_cli.domain.errors import ConfigError

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_STATE = {"installed": False}


#: Environment variables whose values are secrets, registered before anything is parsed.
SECRET_VARIABLES = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "ALCH_API_KEY_ID",
                    "ALCH_API_SECRET_KEY", "ALCH_SIM_KEY", "ALCH_SIM_SECRET")


def forms(secret: str) -> set[str]:
    """Every way a secret may be written: raw, stripped, escaped (repr, JSON), URL-encoded."""
    found = {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1],
             urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    return {f for f in found if f}


def redact(text: str) -> str:
    # longest first, so an escaped form is replaced before the raw secret inside it
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def protect_secrets(secrets: Iterable[str]) -> None:
    with _LOCK:
        for secret in secrets:
            if secret:
                _SECRETS.update(forms(secret))
        if _STATE["installed"]:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _SECRETS:
                try:
                    message = record.getMessage()
                except (TypeError, ValueError):
                    return record
                cleaned = redact(message)
                if cleaned != message:
                    record.msg, record.args = cleaned, ()
            return record

        logging.setLogRecordFactory(factory)
        _STATE["installed"] = True
    # frame-by-frame debug logs are never useful to an operator and carry credentials
    logging.getLogger("websockets").setLevel(logging.INFO)


class OutputError(ConfigError):
    """stdout cannot be written (a full disk, a closed pipe) while a command trades: exit 3."""


class RedactingStream:
    """A text stream that redacts every registered secret on its way through.

    ``alch`` wraps stdout and stderr in it for the whole command, so nothing written by
    us, by a library, by a logging handler or by a traceback can show a secret.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        #: the first write error (a full disk, a closed pipe): later output is dropped
        self.failure: OSError | None = None
        #: raise :class:`OutputError` on a write error instead of dropping the output (a
        #: command that trades must not go on when the operator cannot see what it does)
        self.strict = False

    def _failed(self, exc: OSError | None) -> None:
        if exc is not None and self.failure is None:
            self.failure = exc
        if self.strict and self.failure is not None:
            raise OutputError(f"could not write the output: "
                              f"{self.failure.strerror or self.failure}")

    def write(self, text: str) -> int:
        if self.failure is None:
            try:
                self._inner.write(redact(text) if _SECRETS else text)
            except OSError as exc:
                self._failed(exc)
        else:
            self._failed(None)
        return len(text)

    def flush(self) -> None:
        if self.failure is None:
            try:
                self._inner.flush()
            except OSError as exc:
                self._failed(exc)
        else:
            self._failed(None)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def register_environment_secrets(environ: Any) -> None:
    """Redact the credential variables' values from the start, even if they are invalid."""
    protect_secrets(environ.get(name, "") for name in SECRET_VARIABLES)
