"""Secrets never reach any output, in any written form, tracebacks included."""

from __future__ import annotations

import io
import json
import urllib.parse

import pytest

from alchemiser_cli.logs import RedactingStream, forms, protect_secrets, redact
from tests.cli.helpers import alch

SECRET = "s3cr3t/+value with\r"


def test_every_written_form_of_a_secret_is_redacted():
    protect_secrets([SECRET])
    for form in (SECRET, SECRET.strip(), repr(SECRET), json.dumps(SECRET),
                 urllib.parse.quote(SECRET, safe=""), urllib.parse.quote_plus(SECRET)):
        assert redact(f"before {form} after").replace("'", "").replace('"', "") == \
            "before *** after", form
    assert forms("x") == {"x"}


def test_a_redacting_stream_cleans_what_passes_and_survives_a_full_disk():
    protect_secrets([SECRET])
    inner = io.StringIO()
    stream = RedactingStream(inner)
    stream.write(f"key={SECRET!r}\n")
    assert inner.getvalue() == "key='***'\n"

    class Full(io.StringIO):
        def flush(self) -> None:
            raise OSError(28, "No space left on device")

    broken = RedactingStream(Full())
    broken.write("x")
    broken.flush()  # recorded, not raised
    assert broken.failure is not None and broken.failure.errno == 28


def test_a_debug_traceback_is_redacted_too(capsys, monkeypatch):
    monkeypatch.setenv("APCA_API_SECRET_KEY", "tracebacksecret99")
    monkeypatch.setenv("ALCH_DEBUG", "1")
    from alchemiser_cli.journal import store

    def boom(self, *args, **kwargs):
        raise RuntimeError(f"cannot read runs: {'tracebacksecret99'!r} / {'tracebacksecret99'}")

    monkeypatch.setattr(store.Journal, "runs", boom)
    result = alch(capsys, "runs")
    assert result.code == 70
    assert "Traceback (most recent call last)" in result.err  # the debug traceback is shown
    assert "tracebacksecret99" not in result.out + result.err
    assert "cannot read runs: '***' / ***" in result.err


@pytest.fixture(autouse=True)
def _fresh_secrets(monkeypatch):
    from alchemiser_cli import logs

    monkeypatch.setattr(logs, "_SECRETS", set())
