"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alchemiser_cli.brokers.sim.emulator import EmulatorThread
from tests.cli.helpers import alch
from tests.e2e.emulator import alch_env, assert_no_duplicates_and_nothing_open


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorThread]:
    with EmulatorThread(key="PKE2E", secret="e2e-secret", tick_seconds=0.05) as emulator:
        for key, value in alch_env(emulator).items():
            monkeypatch.setenv(key, value)
        yield emulator
        assert_no_duplicates_and_nothing_open(emulator)


@pytest.fixture
def account(capsys, tmp_path, monkeypatch):
    """A reset simulated account in ``tmp_path`` (see ``sim_account.py`` to edit it)."""
    # the seed walk rests a limit at every step, so an order is live when these tests strike
    monkeypatch.setenv("ALCH_PROFILES__MEDIUM__PROFILE", "seed")
    assert alch(capsys, "sim", "reset").code == 0
    alch(capsys, "sim", "fault", "partial_probability=0")
    return tmp_path
