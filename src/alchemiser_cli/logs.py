"""Keep secrets out of every log record, whatever library logs and whoever handles it.

alpaca-py and websockets log request and frame contents at DEBUG (the stream's
authentication frame carries the secret). ``protect_secrets`` installs a log-record
factory that rewrites any record whose message contains a registered secret, so no
handler (ours, the operator's, or a test's) can ever see one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_STATE = {"installed": False}


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def protect_secrets(secrets: Iterable[str]) -> None:
    with _LOCK:
        _SECRETS.update(s for s in secrets if s)
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
