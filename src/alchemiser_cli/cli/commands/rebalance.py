"""`alch rebalance`: the main job. Plan -> orders -> walks -> portfolio check."""


from pathlib import Path
from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext, broker_mode, confirm_live, run_async
from alchemiser_cli.cli.options import JsonOpt, LiveOpt, PaperOpt, SimOpt, YesOpt
from alchemiser_cli.domain.errors import ExitCode, UsageError


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
                report = await RebalanceRunner(rt, plan, dry_run=dry_run).run()
                if report.unknown_state:
                    rt.exit_code, rt.status = ExitCode.BROKER, "unknown_state"
                elif not report.ok:
                    rt.exit_code, rt.status = ExitCode.FAILED, "failed"
                return report

    report = run_async(mode, main, settings)
    summary = {
        "event": "summary", "ok": report.ok, "dry_run": report.dry_run,
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
            "ok" if report.ok else "FAILED")
        term.line(f"rebalance {verdict}: {summary['orders']} order(s), {summary['filled']} filled,"
                  f" {summary['failed']} failed; turnover {report.turnover:.2f}; "
                  f"check {'passed' if report.check_passed else 'FAILED'}")
    if not report.ok:
        for r in report.results:
            if r.error:
                term.error(f"{r.intent.symbol}: {r.error}")
        raise typer.Exit(int(ExitCode.BROKER if report.unknown_state else ExitCode.FAILED))
