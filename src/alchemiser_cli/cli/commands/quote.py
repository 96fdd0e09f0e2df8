"""`alch quote`: streaming-first quotes with source, age, spread and zero-side flags."""


from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext, run_async
from alchemiser_cli.cli.options import JsonOpt, PaperOpt, ReadLiveOpt, SimOpt
from alchemiser_cli.domain.errors import ExitCode, UsageError


def quote(
    ctx: typer.Context,
    symbols: Annotated[list[str], typer.Argument(help="One or more ticker symbols.")],
    watch: Annotated[bool, typer.Option("--watch", help="Keep refreshing until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes with --watch.")] = 2.0,
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: ReadLiveOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Show quotes: stream first, REST fallback; flags stale, crossed and zero-sided quotes."""
    from alchemiser_cli.api import open_session
    from alchemiser_cli.cli.render import fmt, price
    from alchemiser_cli.domain.errors import RunInterrupted
    from alchemiser_cli.domain.quotes import AssessedQuote

    app: AppContext = ctx.obj
    if interval <= 0 or interval > 3600:
        raise UsageError("--interval must be more than 0 and at most 3600 seconds")
    mode = app.mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out)

    def show(quotes: list[AssessedQuote]) -> None:
        rows = []
        objs = []
        for q in quotes:
            flags = [f for f, on in (("zero-bid", q.zero_bid), ("zero-ask", q.zero_ask)) if on]
            state = q.problem.value if q.problem else "ok"
            rows.append([q.symbol, q.source.value, price(q.bid), price(q.ask),
                         price(q.mid) if q.usable else "-",
                         fmt(q.spread_bps) if q.usable else "-", f"{q.age_seconds:.1f}s",
                         ",".join(flags) or "-", state])
            objs.append({"symbol": q.symbol, "source": q.source.value, "bid": str(q.bid),
                         "ask": str(q.ask), "mid": str(q.mid) if q.usable else None,
                         "spread_bps": str(q.spread_bps) if q.usable else None,
                         "age_seconds": q.age_seconds, "zero_bid": q.zero_bid,
                         "zero_ask": q.zero_ask, "usable": q.usable,
                         "problem": q.problem.value if q.problem else None})
        term.table("", ["Symbol", "Source", "Bid", "Ask", "Mid", "Spread bps", "Age", "Flags",
                        "State"], rows, objs)

    async def main() -> bool:
        async with open_session(mode, settings=settings, live=True, lock=False) as session:
            if not watch:
                quotes = await session.quote(symbols)
                show(quotes)
                return all(q.usable for q in quotes)
            async for quotes in session.watch_quotes(symbols, interval):
                show(quotes)
        return True

    try:
        if watch and mode.virtual_time:
            from alchemiser_cli.api import run

            ok = run(main, virtual_time=False)  # --watch refreshes on the wall clock
        else:
            ok = run_async(mode, main, settings)
    except RunInterrupted as stopped:
        if watch and stopped.exit_code is ExitCode.INTERRUPTED:
            return  # Ctrl-C is how a watch ends: nothing to report, nothing was placed
        raise
    if not ok:
        raise typer.Exit(int(ExitCode.FAILED))
