"""`alch rebalance`: the main job. Plan -> orders -> walks -> portfolio check."""


from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alchemiser_cli.cli.context import AppContext, confirm_live, run_async
from alchemiser_cli.cli.options import (
    CancelOrphansOpt,
    JsonOpt,
    LiveOpt,
    NotifyOpt,
    PaperOpt,
    SimOpt,
    YesOpt,
)
from alchemiser_cli.domain.errors import ExitCode

if TYPE_CHECKING:  # imported lazily: `alch --help` must stay fast
    from alchemiser_cli import RebalanceReport


def rebalance(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="Plan file (TOML).")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the orders, notional and estimated cost; place nothing.")] = False,
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: LiveOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    cancel_orphans: CancelOrphansOpt = False,
    notify: NotifyOpt = None,
) -> None:
    """Rebalance to the plan's target weights: sells first, then buys, then check."""
    from alchemiser_cli.api import load_plan, open_session

    app: AppContext = ctx.obj
    watch = app.watch("rebalance", notify)
    plan = load_plan(plan_file)
    app.use_plan_account(plan.account)
    mode = app.mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out)
    if not dry_run:
        confirm_live(mode, yes, term, f"rebalance to {plan_file}")

    async def main() -> "RebalanceReport":
        with term.live_events(f"alch rebalance {plan_file} [{mode}]") as observer:
            async with open_session(mode, settings=settings, observer=watch.observe(observer),
                                    live=True, lock=not dry_run) as session:  # confirmed above
                if dry_run:
                    return await session.dry_run(plan)
                return await session.rebalance(plan, cancel_orphans=cancel_orphans)

    report = run_async(mode, main, settings)
    code = report.exit_code
    summary = {
        "event": "summary", "ok": code is ExitCode.OK, "dry_run": report.dry_run,
        "exit_code": int(code), "reached_plan": report.reached_plan,
        "short_of_plan": list(report.short_of_plan),
        "orders": len(report.results),
        "filled": sum(1 for r in report.results if r.ok),
        "failed": sum(1 for r in report.results if not r.ok),
        "turnover": str(report.turnover), "estimated_cost": str(report.estimated_cost),
        "check_passed": report.check_passed,
    }
    if json_out:
        term.json(summary)
    else:
        verdict = "dry run, nothing placed" if report.dry_run else (
            "ok" if code is ExitCode.OK else
            f"SHORT OF PLAN ({', '.join(report.short_of_plan)}: not enough cash)"
            if code is ExitCode.SHORT_OF_PLAN else "FAILED")
        term.line(f"rebalance {verdict}: {summary['orders']} order(s), {summary['filled']} filled,"
                  f" {summary['failed']} failed; turnover {report.turnover:.2f}; "
                  f"check {'passed' if report.check_passed else 'FAILED'}")
    if not report.ok:
        for r in report.results:
            if r.error:
                term.error(f"{r.intent.symbol}: {r.error}")
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))

