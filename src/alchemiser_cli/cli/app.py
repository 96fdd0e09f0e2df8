"""The `alch` command: Typer app, global options and the one error boundary.

Every failure becomes one line on stderr and a documented exit code
(:class:`~alchemiser_cli.domain.errors.ExitCode`); never a traceback unless
``ALCH_DEBUG=1``.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from alchemiser_cli import __version__
from alchemiser_cli.cli.context import CURRENT, AppContext
from alchemiser_cli.cli.lazy import LazyGroup
from alchemiser_cli.cli.text import escape_controls
from alchemiser_cli.domain.errors import AlchError, ExitCode

app = typer.Typer(
    name="alch",
    cls=LazyGroup,  # each command is imported only when it runs (see cli/lazy.py)
    help="Rebalance an Alpaca portfolio by walking the book. Offline simulator: add --sim.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
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
    account: Annotated[str | None, typer.Option(
        "--account", envvar="ALCH_ACCOUNT", show_envvar=True,
        help="Work on this [accounts.NAME] of the config (its credentials, feed, alerts).")
    ] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Only errors, warnings and each command's final result.")] = False,
    no_color: Annotated[bool, typer.Option(
        "--no-color", help="No colours (as NO_COLOR=1 does).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Rebalance an Alpaca portfolio by walking the book. Offline simulator: add --sim."""
    if no_color:
        os.environ["NO_COLOR"] = "1"
    ctx.obj = AppContext(config_file=config, data_dir=data_dir, account=account, quiet=quiet)



def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app inside the error boundary."""
    code = run(argv)
    try:
        sys.stdout.flush()
    except OSError:  # nowhere to write (already reported): let the interpreter exit cleanly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run one command with stdout and stderr redacted; return its exit code."""
    from alchemiser_cli.logs import RedactingStream, register_environment_secrets

    register_environment_secrets(os.environ)
    real_out, real_err = sys.stdout, sys.stderr
    out, err = RedactingStream(real_out), RedactingStream(real_err)
    sys.stdout, sys.stderr = out, err
    try:
        CURRENT.clear()
        args = hoist_global_options(sys.argv[1:] if argv is None else argv)
        code, error = _run(args)
        out.strict = False  # the command is over: what is left to say may be dropped
        if wants_json(args):
            _json_summary(code, error)
        out.flush()
        watch = CURRENT[0].run_watch if CURRENT else None
        if watch is not None:  # a command whose runs may alert: after everything else
            from alchemiser_cli.cli.alerts import send

            send(watch, CURRENT[0].loaded_settings(), CURRENT[0].account, code)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    if out.failure is not None and out.failure.errno != errno.EPIPE and code == ExitCode.OK:
        err.write(f"error: could not write the output: {out.failure.strerror or out.failure}\n")
        code = int(ExitCode.CONFIG)
    return code


#: Global options, accepted after the command too (they are moved in front of it).
GLOBAL_WITH_VALUE = frozenset({"--config", "--data-dir", "--account"})
GLOBAL_FLAGS = frozenset({"--quiet", "-q", "--no-color"})


def hoist_global_options(argv: list[str]) -> list[str]:
    """``alch rebalance plan.toml --account taxable`` as ``alch --account taxable rebalance
    plan.toml``: global options after the command move before it (up to a ``--``)."""
    head: list[str] = []
    hoisted: list[str] = []
    tail: list[str] = []
    command_seen = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            tail.extend(argv[i:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_WITH_VALUE or arg in GLOBAL_FLAGS:
            group = argv[i:i + 2] if name in GLOBAL_WITH_VALUE and "=" not in arg else [arg]
            (hoisted if command_seen else head).extend(group)
            i += len(group)
            continue
        if command_seen:
            tail.append(arg)
        else:
            command_seen = not arg.startswith("-")
            (tail if command_seen else head).append(arg)
        i += 1
    return head + hoisted + tail


def wants_json(argv: list[str]) -> bool:
    """``--json`` was asked for (even when the command line is otherwise wrong)."""
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


def _json_summary(code: int, error: str | None) -> None:
    """The JSON contract's last line, for every command: the command's own summary if it
    wrote one, else one from the exit code and the error (with the run id, if a run began).
    """
    from alchemiser_cli.cli.render.jsonout import JsonWriter

    def write(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    context = CURRENT[0] if CURRENT else None
    term = context.term if context is not None else None
    writer = term.writer if term is not None and term.json_mode else JsonWriter(write)
    fields = {} if error is None else {"error": error}
    writer.summary(code == ExitCode.OK, code, **fields)


def _run(argv: list[str]) -> tuple[int, str | None]:
    """The command's exit code, and the error it reported (None: no error)."""
    def fail(message: str, code: int) -> tuple[int, str]:
        sys.stderr.write(f"error: {message}\n")
        return code, message

    debug = os.environ.get("ALCH_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="alch", standalone_mode=False)
        if result == ExitCode.INTERRUPTED:  # Ctrl-C outside a run: typer returns 130
            return fail("interrupted by SIGINT", int(ExitCode.INTERRUPTED))
        return (int(result) if isinstance(result, int) else 0), None
    except typer.Exit as exc:
        return int(exc.exit_code), None
    except typer.Abort:
        return fail("aborted", int(ExitCode.INTERRUPTED))
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `alch` or `alch sim` alone: show help
            sys.stdout.write(exc.format_message() + "\n")
            return int(ExitCode.OK), None
        # Usage errors (bad option, missing argument, bad value) from the parser.
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "alch") or "alch"
        # typer wraps some messages; a mistyped command or value is echoed without its
        # escape sequences (`alch $'\x1b[31mfoo'`)
        message = escape_controls(" ".join(exc.format_message().split()))
        option = getattr(exc, "option_name", "") or ""
        if option[1:2].isdigit():  # `place AAPL buy -5`: a negative number, not an option
            message = f"{option} is not a valid amount: quantities and amounts are positive"
        return fail(f"{message} (see '{path} --help')", int(ExitCode.USAGE))
    except AlchError as exc:
        if debug:
            _traceback()
        return fail(escape_controls(str(exc)), int(exc.exit_code))
    except KeyboardInterrupt:
        return fail("interrupted by SIGINT", int(ExitCode.INTERRUPTED))
    except Exception as exc:
        if debug:
            _traceback()
        return fail(f"internal error: {type(exc).__name__}: {escape_controls(str(exc))} "
                    "(run with ALCH_DEBUG=1 for a traceback)", int(ExitCode.INTERNAL))


def _traceback() -> None:
    """ALCH_DEBUG=1: the traceback, through the same redaction as every other output."""
    import traceback

    sys.stderr.write(traceback.format_exc())
