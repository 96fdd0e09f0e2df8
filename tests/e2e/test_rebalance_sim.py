"""The main job on the simulator, end to end through the CLI (in process)."""

import json
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")


def test_example_rebalance_runs_end_to_end_with_a_passing_check(capsys):
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.OK, result.err
    lines = result.out.splitlines()
    assert lines[0] == "run RUN (rebalance, sim)"
    phases = [line for line in lines if line.startswith("phase ")]
    # the buys the cash on hand covers walk with the sells; VTI waits for their proceeds
    assert phases == ["phase sells: 2 order(s)", "phase buys: 4 order(s)",
                      "phase buys: 1 order(s)"]
    first_buy = lines.index("phase buys: 4 order(s)")
    assert first_buy < min(i for i, line in enumerate(lines) if line.startswith("done "))
    check = lines.index("Post-trade portfolio check")
    assert lines[check + 1].split() == ["Symbol", "Target", "Achieved", "Expected", "Actual",
                                        "Result"]  # the narrow layout: --wide adds the rest
    assert all(row.endswith("pass") for row in lines[check + 2:check + 9])
    assert lines[-1] == ("rebalance ok: 7 order(s), 7 filled, 0 failed; turnover 31735.78; "
                         "check passed")
    # every symbol reached its target weight (of invested equity) to within 0.5 points
    for row in lines[check + 2:check + 9]:  # weights are shown as percentages
        _, target, achieved = row.split()[:3]
        assert abs(Decimal(target[:-1]) - Decimal(achieved[:-1])) < Decimal("0.5"), row
    # a second run finds everything on target: nothing to trade
    again = alch(capsys, "rebalance", PLAN, "--sim", "--dry-run")
    assert again.code == 0
    assert "rebalance dry run, nothing placed: 0 order(s)" in again.out
    actions = {line.split()[1] for line in again.out.splitlines()
               if line.split() and line.split()[0] in {"SPY", "AAPL", "MSFT", "BND", "GLD", "VTI"}}
    assert actions == {"hold"}


def test_dry_run_places_nothing_and_reports_notional_and_cost(capsys, tmp_path):
    result = alch(capsys, "rebalance", PLAN, "--sim", "--dry-run", "--json")
    assert result.code == 0
    events = [json.loads(line) for line in result.out.splitlines()]
    plan = next(e for e in events if e["event"] == "plan")
    assert plan["dry_run"] is True and plan["estimated_cost"] == "0.84"
    assert {t["symbol"]: t["action"] for t in plan["trades"]}["TSLA"] == "close"
    summary = events[-1]
    assert summary.pop("at") and summary.pop("run_id") == events[0]["run_id"]
    assert summary == {"v": 1, "event": "summary", "ok": True, "dry_run": True, "orders": 0,
                       "filled": 0, "failed": 0, "turnover": "31735.78", "command": "rebalance",
                       "estimated_cost": "0.84", "check_passed": True, "exit_code": 0,
                       "reached_plan": True, "short_of_plan": []}
    state = json.loads((tmp_path / "data" / "sim" / "state.json").read_text())
    assert state["orders"] == {}


def test_a_failed_order_fails_the_run_and_the_check(capsys):
    alch(capsys, "sim", "fault", "reject_symbols=GLD")
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.FAILED
    assert "error: GLD: rejected: simulated rejection" in result.err
    assert "rebalance FAILED: 7 order(s), 6 filled, 1 failed" in result.out
    check = result.out.splitlines().index("Post-trade portfolio check")
    table = result.out.splitlines()[check + 1:check + 9]
    assert table[0].split() == ["Symbol", "Target", "Achieved", "Expected", "Actual", "Result",
                                "Why"]
    assert "GLD     10.00%     0.00%         0         0  FAIL    rejected: simulated rejection" \
        in table  # the reason is on the row, not only on stderr


def test_foreign_open_orders_on_plan_symbols_refuse_the_run(capsys, tmp_path):
    path = tmp_path / "data" / "sim" / "state.json"
    alch(capsys, "sim", "status")  # creates nothing; make sure state exists
    alch(capsys, "sim", "reset")
    state = json.loads(path.read_text())
    state["orders"]["x"] = {"id": "x", "client_order_id": "manual-1", "symbol": "SPY",
                            "side": "sell", "type": "limit", "qty": "1", "limit_price": "900.00",
                            "status": "new", "filled_qty": "0", "filled_notional": "0",
                            "created_at": state["now"], "updated_at": state["now"],
                            "reject_reason": None}
    path.write_text(json.dumps(state))
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.REFUSED
    assert result.err.startswith("error: open orders not placed by alch on SPY")


def test_unusable_quotes_refuse_the_whole_rebalance(capsys):
    alch(capsys, "sim", "fault", "quote_mode=GLD:crossed")
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.REFUSED
    assert result.err == "error: no usable quote for GLD (crossed); nothing placed\n"


def test_buys_are_sized_to_the_cash_that_sells_actually_realised(capsys):
    from decimal import Decimal

    alch(capsys, "sim", "reset", "--cash", "0")
    alch(capsys, "sim", "fault", "reject_symbols=AAPL,TSLA")  # the two biggest sells fail
    result = alch(capsys, "rebalance", PLAN, "--sim", "--json")
    assert result.code == ExitCode.FAILED
    events = [json.loads(line) for line in result.out.splitlines()]
    done = [e for e in events if e["event"] == "execution" and e["avg_price"]]
    proceeds = sum(Decimal(e["filled_qty"]) * Decimal(e["avg_price"]) for e in done
                   if e["side"] == "sell")
    spent = sum(Decimal(e["filled_qty"]) * Decimal(e["avg_price"]) for e in done
                if e["side"] == "buy")
    planned = next(e for e in events if e["event"] == "plan")
    planned_buys = sum(Decimal(t["qty"]) * Decimal(t["price"]) for t in planned["trades"]
                       if t["action"] == "buy")
    assert Decimal(0) < spent <= proceeds < planned_buys


def test_a_sell_in_an_unknown_state_stops_the_buys_and_exits_4(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ALCH_PROFILES__MEDIUM__PROFILE", "seed")  # a limit step to cancel
    alch(capsys, "sim", "reset", "--cash", "0")  # every buy waits for the sells' proceeds
    alch(capsys, "sim", "fault", "limit_fills=false", "stuck_cancel=1")
    result = alch(capsys, "rebalance", PLAN, "--sim")
    assert result.code == ExitCode.BROKER
    assert "phase buys" not in result.out
    assert "no more buys are placed" in result.err
    assert "not confirmed" in result.err
    state = json.loads((tmp_path / "data" / "sim" / "state.json").read_text())
    assert {o["side"] for o in state["orders"].values()} == {"sell"}
