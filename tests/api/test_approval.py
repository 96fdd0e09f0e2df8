"""A confirmed rebalance is held to what the operator saw: the API refuses the real run
when its trades differ materially from the approved preview, before anything is sent."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser_cli import (
    Action,
    ExitCode,
    RefusedError,
    UsageError,
    load_settings,
    open_session,
    recent_runs,
    run,
)
from alchemiser_cli.api import parse_plan
from alchemiser_cli.domain.approval import approval_refusal
from alchemiser_cli.domain.intents import Urgency
from alchemiser_cli.domain.sizing import PlannedTrade

ROOT = Path(__file__).parents[2]
PLAN = parse_plan((ROOT / "config" / "example-plan.toml").read_text())


def trade(symbol: str, action: Action, qty: str) -> PlannedTrade:
    return PlannedTrade(symbol, action, Decimal(0), Decimal("0.1"), Decimal(0), Decimal(qty),
                        Decimal(qty), Decimal(100), Urgency.MEDIUM)


SHOWN = [trade("SPY", Action.BUY, "10"), trade("TSLA", Action.CLOSE, "8.5"),
         trade("BND", Action.HOLD, "0")]


@pytest.mark.parametrize("planned", [
    SHOWN,
    [trade("SPY", Action.BUY, "10.5")],  # 5% more: within the tolerance
    [trade("SPY", Action.BUY, "3")],  # less, or gone: fine
    [trade("BND", Action.HOLD, "0"), trade("GLD", Action.HOLD, "0")],
])
def test_what_was_shown_or_less_is_approved(planned):
    assert approval_refusal(SHOWN, planned, Decimal("0.05")) is None


@pytest.mark.parametrize(("planned", "why"), [
    ([trade("SPY", Action.BUY, "10.51")], "SPY buy 10.51 is more than 5% above the confirmed 10"),
    ([trade("GLD", Action.BUY, "1")], "GLD buy 1 was not in the confirmed plan"),
    ([trade("BND", Action.SELL, "2")], "BND sell 2 was not in the confirmed plan"),
    ([trade("TSLA", Action.SELL, "8.5")], "TSLA sell 8.5 was confirmed as close 8.5"),
])
def test_a_new_symbol_a_new_direction_or_a_bigger_trade_is_refused(planned, why):
    refusal = approval_refusal(SHOWN, planned, Decimal("0.05"))
    assert refusal == (f"the trades changed since they were confirmed: {why}; nothing placed "
                       "(run it again to see the new plan)")


def test_the_session_refuses_a_run_that_differs_from_the_approved_preview():
    async def main() -> tuple[RefusedError, int, ExitCode]:
        async with open_session("sim") as session:
            preview = await session.dry_run(PLAN)
            # as if the operator had confirmed a smaller SPY buy than the market now gives
            smaller = replace(preview, trades=tuple(
                replace(t, qty=t.qty / 2) if t.symbol == "SPY" else t for t in preview.trades))
            with pytest.raises(RefusedError) as refused:
                await session.rebalance(PLAN, approved=smaller)
            positions = await session._conn.broker.get_positions()
            account = await session.account()
            assert account.number == "SIMULATOR" and account.endpoint == "the offline simulator"
            assert account.confirmation_code == "ATOR"
            report = await session.rebalance(PLAN, approved=preview)
            return refused.value, len(positions), report.exit_code

    refusal, positions, code = run(main)
    assert str(refusal).startswith("the trades changed since they were confirmed: SPY buy ")
    assert refusal.exit_code is ExitCode.REFUSED
    assert positions == 5  # the demo account as it was: nothing was sent
    assert code is ExitCode.OK  # the same plan, as previewed, goes through
    runs = recent_runs(load_settings(), 3)
    assert [(r.command, r.exit_code) for r in runs] == [("rebalance", 0), ("rebalance", 7),
                                                         ("dry-run", 0)]


def test_approved_takes_a_dry_run():
    async def main() -> None:
        async with open_session("sim") as session:
            preview = await session.dry_run(PLAN)
            done = await session.rebalance(PLAN)
            with pytest.raises(UsageError, match="takes the dry run that was confirmed"):
                await session.rebalance(PLAN, approved=done)
            del preview

    run(main)
