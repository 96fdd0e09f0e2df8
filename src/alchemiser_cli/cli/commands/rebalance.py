"""`alch rebalance`: the main job. Plan -> orders -> walks -> portfolio check."""


from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alchemiser_cli.cli.context import AppContext, broker_mode, confirm_live, run_async
from alchemiser_cli.cli.options import (
    CancelOrphansOpt,
    JsonOpt,
    LiveOpt,
    PaperOpt,
    SimOpt,
    YesOpt,
)
from alchemiser_cli.domain.errors import ExitCode, UsageError

if TYPE_CHECKING:  # imported lazily: `alch --help` must stay fast
    from alchemiser_cli.core.rebalance import RebalanceReport


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
) -> None:
    """Rebalance to the plan's target weights: sells first, then buys, then check."""
    from alchemiser_cli.core.rebalance import RebalanceReport, RebalanceRunner
    from alchemiser_cli.core.session import open_runtime
    from alchemiser_cli.domain.plan import PlanError, load_plan

    app: AppContext = ctx.obj
    try:
        plan = load_plan(plan_file)
    except PlanError as exc:
        raise UsageError(str(exc)) from exc
    mode = broker_mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out)
    if not dry_run:
        confirm_live(mode, yes, term, f"rebalance to {plan_file}")

    async def main() -> RebalanceReport:
        with term.live_events(f"alch rebalance {plan_file} [{mode}]") as observer:
            async with open_runtime(mode, settings, command="rebalance", observer=observer,
                                    lock=not dry_run) as rt:
                report = await RebalanceRunner(rt, plan, dry_run=dry_run,
                                               cancel_orphans=cancel_orphans).run()
                rt.exit_code = exit_code_for(report)
                rt.status = {ExitCode.BROKER: "unknown_state", ExitCode.FAILED: "failed",
                             ExitCode.SHORT_OF_PLAN: "short_of_plan"}.get(rt.exit_code, "ok")
                return report

    report = run_async(mode, main, settings)
    code = exit_code_for(report)
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


def exit_code_for(report: "RebalanceReport") -> ExitCode:
    """0 only when the portfolio reached the plan; see the README's exit-code table."""
    if report.unknown_state:
        return ExitCode.BROKER
    if not report.ok:
        return ExitCode.FAILED
    if not report.reached_plan:
        return ExitCode.SHORT_OF_PLAN
    return ExitCode.OK
