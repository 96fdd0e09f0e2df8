"""`alch metrics`, `alch runs`, `alch show`: what the journal knows, across runs."""


import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext
from alchemiser_cli.cli.options import BrokerName, JsonOpt, WideOpt
from alchemiser_cli.domain.errors import UsageError

_RELATIVE = re.compile(r"^([0-9]{1,12})([mhdw])$")
MAX_SINCE_DAYS = 36500
MAX_RUNS = 1_000_000


def parse_since(raw: str | None, now: datetime, *, option: str = "--since",
                examples: str = "7d, 24h") -> datetime | None:
    """``7d``, ``24h``, ``30m``, ``2w`` or an ISO date/datetime, to a lower bound.

    ``option`` and ``examples`` name the option the value came from in its error message.
    """
    if raw is None:
        return None
    match = _RELATIVE.match(raw.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        span = timedelta(**{unit: min(int(match.group(1)), 10**8)})  # no OverflowError
        if span > timedelta(days=MAX_SINCE_DAYS):
            raise UsageError(f"{option}: {raw!r} is more than {MAX_SINCE_DAYS} days back")
        return now - span
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise UsageError(f"{option}: {raw!r} is not like {examples} or 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


BrokerFilterOpt = Annotated[list[BrokerName] | None, typer.Option(
    "--broker", help="Only runs on this broker (sim, paper, live); repeat for several. "
                     "Default for metrics: paper and live, or sim when there is nothing else.")]


def default_brokers(chosen: list[BrokerName] | None, present: set[str]) -> list[str]:
    """Demo fills never mix with real ones: without --broker, simulator runs count only
    when the journal has nothing else."""
    if chosen:
        return [b.value for b in chosen]
    real = sorted(present - {"sim"})
    return real or ["sim"]


def metrics(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Only runs since: 7d, 24h, or an ISO date.")] = None,
    json_out: JsonOpt = False,
    prom: Annotated[bool, typer.Option("--prom", help="Prometheus text exposition format.")] = False,
    output: Annotated[Path | None, typer.Option(
        help="Write to this file atomically (for node_exporter's textfile collector).")] = None,
    broker: BrokerFilterOpt = None,
) -> None:
    """Quote-source rates, quote problems, fills per step, time to fill, slippage, checks."""
    from alchemiser_cli.api import journal_brokers, prometheus_text, read_metrics

    if prom and json_out:
        raise UsageError("choose one of --json and --prom")
    app: AppContext = ctx.obj
    settings = app.settings()
    brokers = default_brokers(broker, journal_brokers(settings))
    m = read_metrics(settings, parse_since(since, datetime.now(UTC)), brokers=brokers)
    term = app.terminal(json_out)
    if not broker and brokers != ["sim"] and "sim" in journal_brokers(settings):
        term.info("simulator runs left out (add --broker sim to see them)")
    if prom or output is not None:
        if json_out:
            from alchemiser_cli.cli.render.jsonout import JsonWriter

            lines: list[str] = []
            from alchemiser_cli.cli.render.terminal import metrics_fields

            JsonWriter(lines.append).record("metrics", metrics_fields(m))
            text = "\n".join(lines) + "\n"
        else:
            text = prometheus_text(settings, parse_since(since, datetime.now(UTC)),
                                   brokers=brokers)
        if output is not None:
            from alchemiser_cli.cli.files import write_atomically

            write_atomically(output, text)
            term.info(f"metrics written to {output}")
        else:
            term.stdout.write(text)
        return
    term.metrics(m)


def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.", min=1,
                                       max=MAX_RUNS)] = 20,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    broker: BrokerFilterOpt = None,
) -> None:
    """Recent runs from the journal: id, command, broker, status, exit code."""
    from alchemiser_cli.api import recent_runs
    from alchemiser_cli.cli.render.tables import Column, TableView
    from alchemiser_cli.cli.render.terminal import run_fields

    app: AppContext = ctx.obj
    rows = recent_runs(app.settings(), limit, brokers=[b.value for b in broker or []])
    term = app.terminal(json_out, wide=wide)
    if json_out:
        for r in rows:
            term.record("run", run_fields(r))
        return
    term.show(TableView("", (
        Column("Run"), Column("Command"), Column("Broker"), Column("Account", optional=True),
        Column("Started (UTC)"), Column("Status"), Column("Exit", True)), [
        [r.run_id, r.command, r.broker, r.account or "",
         (r.wall_started_at or r.started_at)[:19 if wide else 16].replace("T", " "), r.status,
         "-" if r.exit_code is None else str(r.exit_code)] for r in rows]))


def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id (a unique prefix works).")],
    events: Annotated[bool, typer.Option(
        "--events", help="Also the event log: every quote, submission, update, fill and check.")
    ] = False,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
) -> None:
    """Full audit of one run: every quote, step, order, fill, validation and check."""
    from alchemiser_cli.api import run_audit

    app: AppContext = ctx.obj
    run, journaled = run_audit(app.settings(), run_id)
    app.terminal(json_out, wide=wide).audit(run, journaled, show_events=events)
