"""What the operator confirmed, against what a rebalance is about to trade.

A live rebalance shows its trades (a dry run), asks, and then plans again from fresh
prices and positions. Between the two the market moves and so may the account, so the
real run is held to the preview: a trade on a symbol or in a direction that was not
shown, or a quantity more than a stated tolerance above the one shown, refuses the run
before anything is sent. Smaller trades, and trades that vanished, are fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from alchemiser_cli.domain.money import normalize
from alchemiser_cli.domain.sizing import Action, PlannedTrade


def approval_refusal(approved: Sequence[PlannedTrade], planned: Sequence[PlannedTrade],
                     tolerance: Decimal) -> str | None:
    """Why ``planned`` is not what was approved (None: it is, within ``tolerance``)."""
    shown = {t.symbol: t for t in approved if t.action is not Action.HOLD}
    problems = []
    for trade in planned:
        if trade.action is Action.HOLD:
            continue
        before = shown.get(trade.symbol)
        what = f"{trade.symbol} {trade.action.value} {normalize(trade.qty)}"
        if before is None:
            problems.append(f"{what} was not in the confirmed plan")
        elif before.action is not trade.action:
            problems.append(f"{what} was confirmed as {before.action.value} "
                            f"{normalize(before.qty)}")
        elif trade.qty > before.qty * (1 + tolerance):
            problems.append(f"{what} is more than {normalize(tolerance * 100)}% above the "
                            f"confirmed {normalize(before.qty)}")
    if not problems:
        return None
    return ("the trades changed since they were confirmed: " + "; ".join(problems)
            + "; nothing placed (run it again to see the new plan)")
