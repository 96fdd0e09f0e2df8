"""`alch verify-migration` (alias `alch verify`): a preflight checklist of every component."""


from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext, broker_mode, run_async
from alchemiser_cli.cli.options import JsonOpt, LiveOpt, PaperOpt, SimOpt
from alchemiser_cli.domain.errors import ConfigError, ExitCode

ORDER = ["config", "credentials", "broker", "account", "market clock", "data feeds",
         "streaming quote", "REST quote", "trade stream", "walk profile", "journal", "lock"]


def verify(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Option("--symbol", help="Probe symbol for the quote checks.")] = "SPY",
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: LiveOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Check config, credentials, account, clock, quotes, streams, journal and lock (exit 0 if all pass)."""
    from alchemiser_cli.core.verify import Check, CheckStatus, broker_checks, local_checks

    app: AppContext = ctx.obj
    mode = broker_mode(sim, paper, live)
    probe = symbol.strip().upper()
    try:
        settings = app.settings()
    except ConfigError as exc:
        checks = [Check("config", CheckStatus.FAIL, str(exc))] + [
            Check(name, CheckStatus.SKIP, "configuration invalid") for name in ORDER[1:]]
    else:
        async def main() -> list[Check]:
            return await broker_checks(mode, settings, probe,
                                       settings.quotes.stream_timeout_seconds)

        found = local_checks(mode, settings) + run_async(mode, main, settings)
        by_name = {c.name: c for c in found}
        checks = [by_name[name] for name in ORDER]
    term = app.terminal(json_out)
    term.checklist(f"alch verify [{mode}]", checks)
    if any(c.credentials_problem and not c.passed for c in checks):
        raise typer.Exit(int(ExitCode.CONFIG))  # missing or refused keys: a configuration problem
    if not all(c.passed for c in checks):
        raise typer.Exit(int(ExitCode.FAILED))
