"""Cron mail carries only our own one-line diagnostics, never a library's traceback.

Before: an unreachable stream made alpaca-py log a traceback per retry (8 tracebacks, 201
lines for one ``alch quote``), and every clean shutdown logged ``websocket error,
restarting connection: sent 1000 (OK)``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from alchemiser_cli.brokers.sim.emulator import EmulatorThread
from tests.e2e.emulator import alch_env

OURS = re.compile(r"^(warning|error): \S")


def run_quote(emu: EmulatorThread, tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **alch_env(emu), "ALCH_DATA_DIR": str(tmp_path / "data"),
           "NO_COLOR": "1", **overrides}
    return subprocess.run([sys.executable, "-m", "alchemiser_cli", "quote", "SPY", "--paper"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_an_unreachable_stream_gives_our_lines_only(tmp_path):
    with EmulatorThread(key="PKE2E", secret="e2e-secret") as emu:
        result = run_quote(emu, tmp_path, ALCH_DATA_STREAM_URL="ws://127.0.0.1:9/v2/iex",
                           ALCH_TRADING_STREAM_URL="ws://127.0.0.1:9/stream")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "the outage is reported"
    assert all(OURS.match(line) for line in lines), result.stderr
    assert len(lines) == len(set(lines)) <= 3, result.stderr
    assert "Traceback" not in result.stderr and "e2e-secret" not in result.stderr


def test_a_clean_run_prints_nothing_on_stderr(tmp_path):
    with EmulatorThread(key="PKE2E", secret="e2e-secret") as emu:
        result = run_quote(emu, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not even "sent 1000 (OK)" at shutdown
    assert "SPY" in result.stdout


def test_sim_serve_logs_each_request_with_its_budget(tmp_path):
    import json
    import signal
    import urllib.request

    env = {**os.environ, "ALCH_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1",
           "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "alchemiser_cli", "sim", "serve", "--port", "0", "--rate-limit",
         "50", "--log-requests", "--key", "PKSERVE", "--secret", "serve-secret"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url is not None, first
        request = urllib.request.Request(f"{url.group(0)}/v2/account", headers={
            "APCA-API-KEY-ID": "PKSERVE", "APCA-API-SECRET-KEY": "serve-secret"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["X-RateLimit-Limit"] == "50"
            assert json.loads(response.read())["status"] == "ACTIVE"
        lines: list[str] = []  # the export hints (and, out of hours, a closed-market note)
        while not (lines and lines[-1].startswith("GET /v2/account")) and len(lines) < 8:
            lines.append(server.stdout.readline())
        logged = lines[-1]
        assert re.match(r"^GET /v2/account 200 \d+\.\dms remaining=49$", logged.strip()), logged
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert "Traceback" not in err
