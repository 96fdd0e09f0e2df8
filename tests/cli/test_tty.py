"""The terminal (Rich) rendering path of every command: it must draw, never crash."""

import re
from pathlib import Path

import pytest

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture(autouse=True)
def tty(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # the terminal path, as on a real TTY


def screen(text: str) -> str:
    return ANSI.sub("", text)


def test_rebalance_draws_the_plan_the_live_table_and_the_check(capsys):
    alch(capsys, "sim", "fault", "quote_mode=AAPL:zero_bid")
    result = alch(capsys, "rebalance", PLAN, "--sim")
    out = screen(result.out)
    assert result.code == ExitCode.OK, result.err
    assert f"alch rebalance {PLAN} [sim]" in out
    assert "Plan core-satellite" in out and "Post-trade portfolio check" in out
    for header in ("Symbol", "Side", "Qty", "Filled", "Step", "Limit", "Avg", "Status", "Check"):
        assert header in out
    assert "Ratio" not in out and "Slip bps" not in out  # --wide only
    alch(capsys, "sim", "reset")
    wide = screen(alch(capsys, "rebalance", PLAN, "--sim", "--wide").out)
    for header in ("Phase", "Ratio", "Slip bps", "Resting", "Current qty", "Target qty"):
        assert header in wide
    assert "rebalance ok: 7 order(s)" in out


def test_place_quote_verify_metrics_runs_and_show_draw(capsys):
    assert alch(capsys, "place", "AAPL", "buy", "1", "--sim").code == 0
    assert "Post" not in screen(alch(capsys, "quote", "AAPL", "--sim").out)
    verify = screen(alch(capsys, "verify", "--sim").out)
    assert "✓" in verify and "all checks passed" in verify
    metrics = screen(alch(capsys, "metrics").out)
    assert "Execution metrics" in metrics and "Fills per walk step" in metrics and "█" in metrics
    runs = screen(alch(capsys, "runs").out)
    assert "place" in runs
    assert alch(capsys, "sim", "status").code == 0


def test_a_failing_rebalance_marks_the_failed_row(capsys):
    alch(capsys, "sim", "fault", "reject_symbols=GLD")
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.FAILED
    assert "FAIL" in screen(result.out)
