"""`alch rebalance`: the main job. Plan -> orders -> walks -> portfolio check."""


from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alchemiser_cli.cli.context import (
    AppContext,
    Relay,
    confirm_live,
    require_confirmable,
    run_async,
)
from alchemiser_cli.cli.options import (
    CancelOrphansOpt,
    JsonOpt,
    LiveOpt,
    NotifyOpt,
    PaperOpt,
    SimOpt,
    WideOpt,
    YesOpt,
)
from alchemiser_cli.domain.errors import ExitCode

if TYPE_CHECKING:  # imported lazily: `alch --help` must stay fast
    from alchemiser_cli import RebalanceReport


def rebalance(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="Plan file (TOML, CSV or JSON).")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the orders, notional and estimated cost; place nothing.")] = False,
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: LiveOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    cancel_orphans: CancelOrphansOpt = False,
    notify: NotifyOpt = None,
) -> None:
    """Rebalance to the plan's target weights: sells first, then buys, then check."""
    from alchemiser_cli.api import load_plan, open_session
    from alchemiser_cli.cli.render.formats import money

    app: AppContext = ctx.obj
    watch = app.watch("rebalance", notify)
    plan = load_plan(plan_file)
    app.use_plan_account(plan.account)
    mode = app.mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out, wide=wide)
    if not dry_run:
        term.require_output()  # a failed write stops the run: the operator must see it
    ask = not dry_run and require_confirmable(mode, yes, term)  # exit 6 here, before anything
    title = f"alch rebalance {plan_file} [{mode}]"

    async def main() -> "RebalanceReport":
        relay = Relay()
        async with open_session(mode, settings=settings, observer=watch.observe(relay),
                                live=True, lock=not dry_run) as session:
            approved = None
            if ask:  # show what would trade, on which account, then ask
                with term.live_events(f"{title}: preview") as relay.target:
                    approved = await session.dry_run(plan)
                relay.target = None
                orders = sum(t.action.value != "hold" for t in approved.trades)
                await confirm_live(term, await session.account(),
                                   f"rebalance to {plan_file}: {orders} order(s), turnover "
                                   f"{money(approved.turnover)}, est. cost "
                                   f"{money(approved.estimated_cost)}")
            with term.live_events(title) as relay.target:
                if dry_run:
                    return await session.dry_run(plan)
                return await session.rebalance(plan, cancel_orphans=cancel_orphans,
                                               approved=approved)

    report = run_async(mode, main, settings)
    code = report.exit_code
    filled = sum(1 for r in report.results if r.ok)
    failed = len(report.results) - filled
    if json_out:
        term.summary(code is ExitCode.OK, int(code), command="rebalance",
                     dry_run=report.dry_run, reached_plan=report.reached_plan,
                     short_of_plan=list(report.short_of_plan), orders=len(report.results),
                     filled=filled, failed=failed, turnover=report.turnover,
                     estimated_cost=report.estimated_cost, check_passed=report.check_passed)
    else:
        verdict = "dry run, nothing placed" if report.dry_run else (
            "ok" if code is ExitCode.OK else
            f"SHORT OF PLAN ({', '.join(report.short_of_plan)}: not enough cash)"
            if code is ExitCode.SHORT_OF_PLAN else "FAILED")
        term.say(f"rebalance {verdict}: {len(report.results)} order(s), {filled} filled,"
                  f" {failed} failed; turnover {money(report.turnover)}; "
                  f"check {'passed' if report.check_passed else 'FAILED'}")
    if not report.ok:
        for r in report.results:
            if r.error:
                term.error(f"{r.intent.symbol}: {r.error}")
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))
