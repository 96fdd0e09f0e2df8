"""The Python API: the same calls, results and safety as the CLI, on the simulator and
through the emulator; the README's example runs as written; a strictly typed consumer
of the public names type-checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import alchemiser_cli
from alchemiser_cli import (
    ExecutionStatus,
    ExitCode,
    NotConfirmedError,
    OrderIntent,
    Side,
    UsageError,
    load_settings,
    open_session,
    parse_plan,
    run,
    verify,
    verify_exit_code,
)
from alchemiser_cli.brokers.sim.server import EmulatorThread

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
PLAN = parse_plan((ROOT / "config" / "example-plan.toml").read_text())


def session_calls(broker: str, *, virtual_time: bool, **settings: Any) -> dict[str, Any]:
    events: list[dict[str, Any]] = []

    async def main() -> dict[str, Any]:
        async with open_session(broker, settings=load_settings(**settings),
                                observer=lambda e: events.append(e.to_dict())) as session:
            quotes = await session.quote(["SPY", "AAPL"])
            preview = await session.dry_run(PLAN)
            report = await session.rebalance(PLAN)
            placed = await session.place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(2)))
            return {"quotes": quotes, "preview": preview, "report": report, "placed": placed,
                    "metrics": session.metrics()}

    async def preflight() -> list[Any]:
        return await verify(broker, settings=load_settings(**settings))

    out = run(main, virtual_time=virtual_time)
    out["events"] = events
    out["checks"] = run(preflight, virtual_time=virtual_time)
    return out


def assert_the_calls_worked(out: dict[str, Any]) -> None:
    assert [q.symbol for q in out["quotes"]] == ["SPY", "AAPL"]
    assert all(q.usable for q in out["quotes"])
    assert out["preview"].dry_run and out["preview"].results == ()
    report = out["report"]
    assert report.exit_code is ExitCode.OK and report.check_passed
    assert {t.symbol for t in report.trades if t.action.value != "hold"} == \
        {t.symbol for t in out["preview"].trades if t.action.value != "hold"}
    placed = out["placed"]
    assert placed.status is ExecutionStatus.FILLED and placed.filled_qty == 2
    assert placed.validation is not None and placed.validation.passed
    assert out["metrics"].orders == len(report.results) + 1
    kinds = [e["event"] for e in out["events"]]
    # one journal run per call, each with the same events `--json` prints
    assert kinds.count("run_started") == kinds.count("run_finished") == 4
    assert {"plan", "step", "execution", "portfolio_check", "quote"} <= set(kinds)
    checks = out["checks"]
    assert [c.name for c in checks][:3] == ["config", "credentials", "broker"]
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert verify_exit_code(checks) is ExitCode.OK


def test_quote_dry_run_rebalance_and_place_on_the_simulator():
    assert_the_calls_worked(session_calls("sim", virtual_time=True))


def test_the_same_calls_through_the_emulator_and_alpaca_py():
    fast = {"step_wait_seconds": 0.5, "market_wait_seconds": 3}
    with EmulatorThread(key="PKAPI", secret="api-secret", tick_seconds=0.05) as emu:
        out = session_calls(
            "paper", virtual_time=False, api_key_id="PKAPI", api_secret_key="api-secret",
            trading_url=emu.base_url, data_url=emu.base_url,
            data_stream_url=f"{emu.ws_url}/v2/iex", trading_stream_url=f"{emu.ws_url}/stream",
            profiles={"medium": fast, "low": fast},
            quotes={"stream_timeout_seconds": 1},
            execution={"poll_interval_seconds": 0.1, "validation_timeout_seconds": 5})
        assert_the_calls_worked(out)
        ids = [o.client_order_id for o in emu.state.orders.values()]
        assert len(ids) == len(set(ids))


def test_live_needs_explicit_intent_and_trading_needs_the_lock():
    async def live() -> None:
        async with open_session("live"):
            pass  # pragma: no cover - never reached

    with pytest.raises(NotConfirmedError) as refused:
        run(live)
    assert refused.value.exit_code is ExitCode.NOT_CONFIRMED

    async def unlocked() -> None:
        async with open_session("sim", lock=False) as session:
            await session.place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(1)))

    with pytest.raises(UsageError, match="needs a session opened with lock=True"):
        run(unlocked)


def test_errors_are_typed_and_carry_the_documented_exit_code():
    with pytest.raises(UsageError) as bad:
        parse_plan("[targets]\nAAPL = 1.5\n")
    assert bad.value.exit_code is ExitCode.USAGE

    async def guarded() -> Any:
        async with open_session("sim") as session:
            return await session.place(OrderIntent("SPY", Side.BUY, notional=Decimal(10**6)))

    result = run(guarded)  # refused by the guard rail, like the CLI: nothing placed
    assert result.status is ExecutionStatus.NOT_PLACED
    assert result.exit_code is ExitCode.REFUSED and "max_order_notional" in (result.error or "")


def test_the_public_names_are_all_importable_and_nothing_else_is_advertised():
    for name in alchemiser_cli.__all__:
        assert getattr(alchemiser_cli, name) is not None, name
    with pytest.raises(AttributeError):
        alchemiser_cli.RebalanceRunner  # noqa: B018 - private: not part of the API


def test_the_readme_example_runs_as_written(tmp_path):
    block = re.search(r"## Python API\n.*?```python\n(.*?)```", README, re.S)
    assert block is not None
    script = tmp_path / "example.py"
    script.write_text(block.group(1))
    env = {**os.environ, "ALCH_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("SPY mid ") and lines[0].endswith("from the stream")
    assert lines[2] == "rebalance exit code 0 check passed True"
    assert lines[3].startswith("AAPL filled 2 at ")
    journal = subprocess.run([sys.executable, "-m", "alchemiser_cli", "runs", "--json"],
                             capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    commands = [line["command"] for line in map(json.loads, journal.stdout.splitlines())
                if line["event"] == "run"]
    assert commands == ["place", "rebalance", "dry-run", "quote"]


CONSUMER = '''\
from decimal import Decimal

from alchemiser_cli import (
    ExecutionResult, ExitCode, OrderIntent, RebalanceReport, Session, Side, open_session,
    parse_plan, run,
)


async def place_two(session: Session) -> ExecutionResult:
    return await session.place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(2)))


async def main() -> ExitCode:
    async with open_session("sim") as session:
        report: RebalanceReport = await session.rebalance(parse_plan("[targets]\\\\nSPY = 0.5\\\\n"))
        result = await place_two(session)
        return report.exit_code if result.ok else result.exit_code


code: ExitCode = run(main)
'''


@pytest.mark.slow
def test_a_strictly_typed_consumer_of_the_public_names_type_checks(tmp_path):
    (tmp_path / "consumer.py").write_text(CONSUMER)
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           str(tmp_path / "consumer.py")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_commands_call_the_api_and_nothing_else_of_the_core():
    import ast

    allowed = ("alchemiser_cli.api", "alchemiser_cli.cli", "alchemiser_cli.domain")
    # the simulator's own admin commands drive the simulator, which is not the core
    exempt = {"sim.py": ("alchemiser_cli.brokers.sim",)}
    commands = ROOT / "src" / "alchemiser_cli" / "cli" / "commands"
    for path in sorted(commands.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("alchemiser_cli"):
                ok = node.module == "alchemiser_cli" or node.module.startswith(
                    allowed + exempt.get(path.name, ()))
                assert ok, f"{path.name} imports {node.module}"
