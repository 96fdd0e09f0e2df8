"""`alch accounts`: the configured accounts, credentials redacted, optionally checked."""


from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext, run_async
from alchemiser_cli.cli.options import JsonOpt
from alchemiser_cli.domain.errors import ExitCode


def accounts(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option(
        "--check", help="Also connect to each account and read its status.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List the configured accounts: mode, where credentials come from, feed, alerts."""
    from dataclasses import asdict

    from alchemiser_cli import BrokerMode
    from alchemiser_cli.api import AccountInfo, list_accounts, probe_account

    app: AppContext = ctx.obj
    settings = app.settings()
    infos = list_accounts(settings)
    if check:
        checked = []
        for info in infos:  # one account at a time: each has its own streams and budget
            async def one(info: AccountInfo = info) -> AccountInfo:
                return await probe_account(settings, info)

            checked.append(run_async(BrokerMode.PAPER, one, settings))
        infos = checked
    term = app.terminal(json_out)
    if not infos:
        term.info("no accounts configured (add [accounts.NAME] tables to the config)")
    rows = [[i.name, i.mode, i.credentials, i.key or "MISSING", i.feed,
             f"{i.notify} on {i.notify_on}" if i.notify else "-",
             i.problem or i.reachable or ("-" if not check else "")] for i in infos]
    term.table("Accounts", ["Account", "Mode", "Credentials", "Key", "Feed", "Alerts", "State"],
               rows, [asdict(i) for i in infos], event="account")
    # a missing or refused key is a configuration problem (3); an account that could not be
    # reached for another reason is a broker problem (4)
    bad = any(i.problem is not None or (check and not (i.reachable or "").startswith("reachable"))
              for i in infos)
    if bad:
        raise typer.Exit(int(ExitCode.CONFIG if any(i.problem for i in infos)
                             else ExitCode.BROKER))
