"""The `alch` command: Typer app, global options and the one error boundary.

Every failure becomes one line on stderr and a documented exit code
(:class:`~alchemiser_cli.domain.errors.ExitCode`); never a traceback unless
``ALCH_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from alchemiser_cli import __version__
from alchemiser_cli.cli.context import AppContext
from alchemiser_cli.cli.lazy import LazyGroup
from alchemiser_cli.domain.errors import AlchError, ExitCode

INTERRUPTED_MESSAGE = "error: interrupted; open orders of this run were cancelled\n"

app = typer.Typer(
    name="alch",
    cls=LazyGroup,  # each command is imported only when it runs (see cli/lazy.py)
    help="Rebalance an Alpaca portfolio by walking the book. Offline simulator: add --sim.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"alch {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="ALCH_CONFIG", help="Config file (TOML).", show_envvar=True)] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", envvar="ALCH_DATA_DIR",
        help="Where the journal, locks and simulator state live.", show_envvar=True)] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Rebalance an Alpaca portfolio by walking the book. Offline simulator: add --sim."""
    ctx.obj = AppContext(config_file=config, data_dir=data_dir)



def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app inside the error boundary."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    debug = os.environ.get("ALCH_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="alch", standalone_mode=False)
        if result == ExitCode.INTERRUPTED:  # typer returns Ctrl-C as 130; commands return None
            sys.stderr.write(INTERRUPTED_MESSAGE)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        return int(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `alch` or `alch sim` alone: show help
            sys.stdout.write(exc.format_message() + "\n")
            return int(ExitCode.OK)
        # Usage errors (bad option, missing argument, bad value) from the parser.
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "alch") or "alch"
        message = " ".join(exc.format_message().split())  # typer wraps some messages
        sys.stderr.write(f"error: {message} (see '{path} --help')\n")
        return int(ExitCode.USAGE)
    except AlchError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED_MESSAGE)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(
            f"error: internal error: {type(exc).__name__}: {exc} "
            "(run with ALCH_DEBUG=1 for a traceback)\n")
        return int(ExitCode.INTERNAL)
