"""`alch verify-migration` (alias `alch verify`): a preflight checklist of every component."""


from typing import TYPE_CHECKING, Annotated

import typer

from alchemiser_cli.cli.context import AppContext, broker_mode, run_async
from alchemiser_cli.cli.options import JsonOpt, NotifyOpt, PaperOpt, ReadLiveOpt, SimOpt
from alchemiser_cli.domain.errors import ConfigError, ExitCode

if TYPE_CHECKING:  # imported lazily: `alch --help` must stay fast
    from alchemiser_cli.api import Check


def verify(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Option("--symbol", help="Probe symbol for the quote checks.")] = "SPY",
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: ReadLiveOpt = False,
    json_out: JsonOpt = False,
    notify: NotifyOpt = None,
) -> None:
    """Check config, credentials, account, clock, quotes, streams, journal and lock (exit 0 if all pass)."""
    from alchemiser_cli.api import failed_config_checks, verify_exit_code
    from alchemiser_cli.api import verify as run_checks

    app: AppContext = ctx.obj
    app.watch("verify", notify)
    try:
        mode = app.mode(sim, paper, live)
        settings = app.settings()
    except ConfigError as exc:
        mode = broker_mode(sim, paper, live)
        checks = failed_config_checks(exc)
    else:
        async def main() -> "list[Check]":
            return await run_checks(mode, settings=settings, symbol=symbol)

        checks = run_async(mode, main, settings)
    term = app.terminal(json_out)
    code = verify_exit_code(checks)
    term.checklist(f"alch verify [{mode}]", checks, int(code))
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))
