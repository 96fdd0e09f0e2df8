"""Options shared by commands (kept import-light so `alch --help` stays fast)."""


from enum import StrEnum
from typing import Annotated

import typer


class BrokerName(StrEnum):
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"



def group(help_text: str) -> typer.Typer:
    """A sub-command group with the root's settings (plain help, -h, no completion)."""
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None,
                       context_settings={"help_option_names": ["-h", "--help"]})


JsonOpt = Annotated[
    bool, typer.Option("--json", help="One JSON object per line on stdout (for machines).")
]
SimOpt = Annotated[
    bool, typer.Option("--sim", help="Use the offline simulator (no keys, virtual time).")
]
PaperOpt = Annotated[
    bool, typer.Option("--paper", help="Use Alpaca paper trading (the default).")
]
LiveOpt = Annotated[
    bool, typer.Option("--live", help="Trade real money on Alpaca (asks for confirmation).")
]
ReadLiveOpt = Annotated[
    bool, typer.Option("--live", help="Use the live Alpaca account (this command only reads).")
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Confirm --live without a prompt (needed under cron).")
]
CancelOrphansOpt = Annotated[
    bool, typer.Option(
        "--cancel-orphans",
        help="Also cancel alch orders placed elsewhere (another machine or data directory) "
             "that are older than execution.orphan_min_age_seconds (default 15 minutes); "
             "without it, such orders refuse the run (exit 9).")
]
NotifyOpt = Annotated[
    list[str] | None, typer.Option(
        "--notify", metavar="URL",
        help="Also send the run's outcome to this apprise URL (Slack, e-mail, JSON webhook...),"
             " as notify_on says (default: on failure); repeat for several.")
]
WideOpt = Annotated[
    bool, typer.Option("--wide", help="Every column (the default fits 80 columns).")
]
