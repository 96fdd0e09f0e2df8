"""`alch plan init` and `alch plan snapshot`: write plan files (TOML, with tomli-w)."""


from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from alchemiser_cli.cli.context import AppContext, broker_mode, run_async
from alchemiser_cli.cli.options import LiveOpt, PaperOpt, SimOpt, group
from alchemiser_cli.domain.errors import UsageError

plan_app = group("Write plan files: a commented starter, or a snapshot of holdings.")

ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]

HEADER = """\
# alch rebalance plan. Check it with: alch rebalance {name} --sim --dry-run
# Weights are fractions of account equity; what is not assigned stays in cash.
"""
COMMENTS = {
    "plan": """\
# cash_buffer: fraction of equity always kept in cash (on top of unassigned weight)
# drift_threshold: skip a symbol whose weight is within this of its target
# min_order_notional: skip trades smaller than this many dollars
# urgency: walk profile: low (patient), medium (limits toward the mid) or high (market)
# sell_unlisted: true to fully exit holdings that are not listed in [targets]
""",
    "targets": "# SYMBOL = weight of equity. A weight of 0 sells the whole position.\n",
    "overrides": "# Per-symbol settings, e.g. a slower walk for a less liquid fund.\n",
}


def render_plan(data: dict[str, Any], name: str) -> str:
    """TOML from tomli-w, one table at a time, with a comment above each."""
    import tomli_w

    parts = [HEADER.format(name=name)]
    for section in ("plan", "targets", "overrides"):
        if section in data:
            parts.append("\n" + COMMENTS[section] + tomli_w.dumps({section: data[section]}))
    return "".join(parts)


def _write(path: Path, text: str, force: bool) -> None:
    from alchemiser_cli.domain.plan import parse_plan

    parse_plan(text, str(path))  # never write a plan alch itself would refuse
    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@plan_app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the plan.")] = Path("plan.toml"),
    force: ForceOpt = False,
) -> None:
    """Write a commented starter plan."""
    data = {
        "plan": {"name": "my-plan", "cash_buffer": 0.02, "drift_threshold": 0.005,
                 "min_order_notional": 5, "urgency": "medium", "sell_unlisted": False},
        "targets": {"SPY": 0.4, "BND": 0.3, "GLD": 0.1, "VTI": 0.15},
        "overrides": {"GLD": {"urgency": "low"}},
    }
    _write(path, render_plan(data, str(path)), force)
    ctx.obj.terminal(False).info(f"wrote {path}")


@plan_app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the plan.")] = Path("plan.toml"),
    force: ForceOpt = False,
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: LiveOpt = False,
) -> None:
    """Write the current holdings as a plan (weights of equity, 4 decimals)."""
    from alchemiser_cli.brokers.factory import open_broker
    from alchemiser_cli.brokers.port import BrokerError
    from alchemiser_cli.domain.errors import BrokerUnavailableError

    app: AppContext = ctx.obj
    mode = broker_mode(sim, paper, live)
    settings = app.settings()

    async def main() -> dict[str, Decimal]:
        async with open_broker(mode, settings) as opened:
            try:
                account = await opened.broker.get_account()
                positions = await opened.broker.get_positions()
            except BrokerError as exc:
                raise BrokerUnavailableError(f"cannot read holdings: {exc}") from exc
        if account.equity <= 0:
            raise BrokerUnavailableError("account equity is not positive")
        weights = {}
        for p in positions:
            value = p.market_value if p.market_value is not None else p.qty * p.avg_entry_price
            weights[p.symbol] = (value / account.equity).quantize(Decimal("0.0001"))
        return weights

    weights = run_async(mode, main, settings)
    data = {"plan": {"name": "snapshot", "cash_buffer": 0.0, "drift_threshold": 0.005,
                     "min_order_notional": 5, "urgency": "medium"},
            "targets": {s: float(w) for s, w in sorted(weights.items())}}
    if not weights:
        raise UsageError("no positions to snapshot; nothing written")
    _write(path, render_plan(data, str(path)), force)
    app.terminal(False).info(f"wrote {path} ({len(weights)} symbols)")
