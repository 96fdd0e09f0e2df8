"""Commands are imported only when used, so `alch --help` stays close to bare typer.

The registry gives each command's name and one-line help for the command list; a
test keeps those lines identical to the commands' own docstrings.
"""

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    module: str
    attribute: str
    help: str
    alias_of: str | None = None


_C = "alchemiser_cli.cli.commands."
COMMANDS: dict[str, LazyCommand] = {
    "rebalance": LazyCommand(_C + "rebalance", "rebalance",
                             "Rebalance to the plan's target weights: sells first, then buys, "
                             "then check."),
    "place": LazyCommand(_C + "place", "place",
                         "Place one order: walk the book (limits from the near touch toward "
                         "the mid, then market)."),
    "quote": LazyCommand(_C + "quote", "quote",
                         "Show quotes: stream first, REST fallback; flags stale, crossed and "
                         "zero-sided quotes."),
    "verify-migration": LazyCommand(_C + "verify", "verify",
                                    "Check config, credentials, account, clock, quotes, streams, "
                                    "journal and lock (exit 0 if all pass)."),
    "verify": LazyCommand(_C + "verify", "verify",
                          "Alias of verify-migration: the preflight checklist.",
                          alias_of="verify-migration"),
    "metrics": LazyCommand(_C + "history", "metrics",
                           "Quote-source rates, quote problems, fills per step, time to fill, "
                           "slippage, checks."),
    "runs": LazyCommand(_C + "history", "runs",
                        "Recent runs from the journal: id, command, broker, status, exit code."),
    "show": LazyCommand(_C + "history", "show",
                        "Full audit of one run: every quote, step, order, fill, validation and "
                        "check."),
    "fills": LazyCommand(_C + "upkeep", "fills",
                         "Export fills for accounting: time, account, symbol, side, qty, price, "
                         "order and run."),
    "prune": LazyCommand(_C + "upkeep", "prune",
                         "Delete old runs and everything they journaled (runs still running are "
                         "kept)."),
    "accounts": LazyCommand(_C + "accounts", "accounts",
                            "List the configured accounts: mode, where credentials come from, "
                            "feed, alerts."),
    "config": LazyCommand(_C + "config", "config_app",
                          "Show the effective configuration and where each value comes from."),
    "plan": LazyCommand(_C + "plan", "plan_app",
                        "Write plan files: a commented starter, or a snapshot of holdings."),
    "sim": LazyCommand(_C + "sim", "sim_app",
                       "The offline simulator: reset it, inspect it, inject faults."),
}

#: Shown at the end of each command's --help.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "rebalance": (
        "alch rebalance config/example-plan.toml --sim --dry-run",
        "alch rebalance plan.toml --paper",
        "alch --account taxable rebalance plan.toml --paper --json",
        "alch rebalance plan.toml --live    # shows the plan, then asks for the account's digits",
    ),
    "place": (
        "alch place AAPL buy 10 --sim",
        "alch place SPY buy --notional 500 --paper",
        "alch place TSLA sell --close full --urgency high --paper",
    ),
    "quote": ("alch quote AAPL MSFT --sim", "alch quote SPY --watch --interval 5 --paper",
              "alch quote SPY --json --paper"),
    "verify-migration": ("alch verify --sim", "alch verify --paper --symbol QQQ",
                         "alch --account taxable verify --paper --json"),
    "metrics": ("alch metrics --since 7d", "alch metrics --broker sim",
                "alch metrics --prom --output /var/lib/node_exporter/alch.prom"),
    "runs": ("alch runs --limit 5", "alch runs --broker live --json"),
    "show": ("alch show 2611241500", "alch show 2611241500 --events",
             "alch show 2611241500 --json"),
    "fills": ("alch fills --since 30d --csv --output fills.csv",
              "alch --account taxable fills --json"),
    "prune": ("alch prune --older-than 90d --dry-run", "alch prune --older-than 90d"),
    "accounts": ("alch accounts", "alch accounts --check --json"),
}
EXAMPLES["verify"] = EXAMPLES["verify-migration"]


def load(name: str) -> Any:
    """Build the click command for ``name`` (importing its module now)."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        holder = typer.Typer(add_completion=False, rich_markup_mode=None,
                             context_settings={"help_option_names": ["-h", "--help"]})
        examples = EXAMPLES.get(name, ())
        # "\b" keeps click from re-wrapping the example lines into one paragraph
        epilog = ("Examples:\n\n\b\n" + "\n".join(f"$ {e}" for e in examples)
                  if examples else None)
        holder.command(name=name, help=entry.help if entry.alias_of else None,
                       epilog=epilog)(target)
        command = typer.main.get_command(holder)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A TyperGroup whose subcommands are built on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"No such command '{name}'.{hint}")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load(cmd_name)
        return self._loaded[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _shorten(entry.help, limit)) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 10)].rstrip() + "..."
