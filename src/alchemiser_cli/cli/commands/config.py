"""`alch config show`: the effective configuration, where each value comes from."""


from typer import Context

from alchemiser_cli.cli.context import AppContext
from alchemiser_cli.cli.options import JsonOpt, group

config_app = group("Show the effective configuration and where each value comes from.")


@config_app.command("show")
def show(ctx: Context, json_out: JsonOpt = False) -> None:
    """Every setting with its value and source (flag, env, file, account, default); secrets
    redacted."""
    from alchemiser_cli.api import describe_settings

    app: AppContext = ctx.obj
    settings = app.settings()
    rows = describe_settings(settings, {"data_dir": app.data_dir, "account": app.account})
    term = app.terminal(json_out)
    if not json_out:
        where = settings.config_file or "none (defaults and environment only)"
        term.line(f"config file: {where}")
    term.table("", ["Key", "Value", "Source"], [[r.key, r.value, r.source] for r in rows],
               [{"key": r.key, "value": r.value, "source": r.source} for r in rows],
               event="setting")


@config_app.command("path")
def path(ctx: Context) -> None:
    """Print the config file alch reads (nothing, and exit 1, when there is none)."""
    import typer

    app: AppContext = ctx.obj
    found = app.settings().config_file
    if found is None:
        raise typer.Exit(1)
    app.terminal(False).line(str(found))
