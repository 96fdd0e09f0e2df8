"""`alch plan init` and `alch plan snapshot`: write plan files (TOML with tomli-w, CSV, JSON)."""


from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from alchemiser_cli.cli.context import AppContext, run_async
from alchemiser_cli.cli.options import PaperOpt, ReadLiveOpt, SimOpt, group
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
    from alchemiser_cli.api import parse_plan_text

    parse_plan_text(text, str(path))  # never write a plan alch itself would refuse
    from alchemiser_cli.cli.files import write_atomically

    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite")
    write_atomically(path, text, option="PATH")


class Format(StrEnum):
    TOML = "toml"
    CSV = "csv"
    JSON = "json"


FormatOpt = Annotated[Format | None, typer.Option(
    "--format", help="toml (default; or from PATH's extension), csv or json.")]

STARTER: dict[str, Any] = {
    "plan": {"name": "my-plan", "cash_buffer": 0.02, "drift_threshold": 0.005,
             "min_order_notional": 5, "urgency": "medium", "sell_unlisted": False},
    "targets": {"SPY": 0.4, "BND": 0.3, "GLD": 0.1, "VTI": 0.15},
    "overrides": {"GLD": {"urgency": "low"}},
}


def render_any(data: dict[str, Any], name: str, fmt: Format) -> str:
    """The plan in ``fmt``. CSV carries only the targets (everything else is default)."""
    import json

    if fmt is Format.CSV:
        return "symbol,weight\n" + "".join(f"{s},{w}\n" for s, w in data["targets"].items())
    if fmt is Format.JSON:
        return json.dumps(data, indent=2) + "\n"
    return render_plan(data, name)


def choose_format(path: Path, fmt: Format | None) -> Format:
    """alch reads a plan by its file's extension, so the two must agree."""
    by_suffix = {".csv": Format.CSV, ".json": Format.JSON}
    implied = by_suffix.get(path.suffix.lower(), Format.TOML)
    if fmt is not None and fmt is not implied:
        raise UsageError(f"{path} would be read as {implied.value.upper()}: name it "
                         f"{path.with_suffix('.' + fmt.value).name} for --format {fmt.value}")
    return implied


@plan_app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the plan.")] = Path("plan.toml"),
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Write a commented starter plan."""
    chosen = choose_format(path, fmt)
    data = STARTER if chosen is not Format.CSV else {"targets": STARTER["targets"]}
    _write(path, render_any(data, str(path), chosen), force)
    ctx.obj.terminal(False).info(f"wrote {path}")


@plan_app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the plan.")] = Path("plan.toml"),
    force: ForceOpt = False,
    fmt: FormatOpt = None,
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: ReadLiveOpt = False,
) -> None:
    """Write the current holdings as a plan (weights of equity, 4 decimals)."""
    from alchemiser_cli.api import open_session
    from alchemiser_cli.domain.plan import Plan

    app: AppContext = ctx.obj
    mode = app.mode(sim, paper, live)
    settings = app.settings()

    async def main() -> Plan:
        async with open_session(mode, settings=settings, live=True, lock=False) as session:
            return await session.holdings_plan()

    plan = run_async(mode, main, settings)
    data = {"plan": {"name": plan.name, "cash_buffer": 0.0, "drift_threshold": 0.005,
                     "min_order_notional": 5, "urgency": "medium"},
            "targets": {s: float(w) for s, w in sorted(plan.targets.items())}}
    _write(path, render_any(data, str(path), choose_format(path, fmt)), force)
    app.terminal(False).info(f"wrote {path} ({len(plan.targets)} symbols)")
