"""`alch quote`: streaming-first quotes with source, age, spread and zero-side flags."""


from datetime import datetime
from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext, run_async
from alchemiser_cli.cli.options import JsonOpt, PaperOpt, ReadLiveOpt, SimOpt, WideOpt
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
    wide: WideOpt = False,
) -> None:
    """Show quotes: stream first, REST fallback; flags stale, crossed and zero-sided quotes."""
    from alchemiser_cli.api import open_session
    from alchemiser_cli.cli.render.tables import quote_fields, quote_view
    from alchemiser_cli.domain.errors import RunInterrupted
    from alchemiser_cli.domain.quotes import AssessedQuote

    app: AppContext = ctx.obj
    if interval <= 0 or interval > 3600:
        raise UsageError("--interval must be more than 0 and at most 3600 seconds")
    mode = app.mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out, wide=wide)

    def records(quotes: list[AssessedQuote]) -> None:
        for q in quotes:
            term.record("quote", quote_fields(q))

    async def main() -> bool:
        async with open_session(mode, settings=settings, live=True, lock=False,
                                observer=term.writer.follow) as session:
            if not watch:
                quotes = await session.quote(symbols)
                records(quotes) if json_out else term.show(quote_view(quotes))
                return all(q.usable for q in quotes)
            if json_out:
                async for quotes in session.watch_quotes(symbols, interval):
                    records(quotes)
                return True
            with term.refreshing() as draw:
                async for quotes in session.watch_quotes(symbols, interval):
                    stamp = datetime.now().astimezone().strftime("%H:%M:%S")
                    draw(quote_view(quotes, f"quotes at {stamp}, every {interval:g}s "
                                            "(Ctrl-C to stop)"))
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
        if json_out:
            term.summary(False, int(ExitCode.FAILED), command="quote",
                         error="a quote is not usable")
        raise typer.Exit(int(ExitCode.FAILED))
