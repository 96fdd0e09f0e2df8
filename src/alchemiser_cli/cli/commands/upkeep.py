"""`alch prune` and `alch fills`: keep the journal small, and take fills to accounting."""


from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alchemiser_cli.cli.commands.history import BrokerFilterOpt, default_brokers, parse_since
from alchemiser_cli.cli.context import AppContext
from alchemiser_cli.cli.options import JsonOpt, WideOpt
from alchemiser_cli.domain.errors import UsageError

FILL_COLUMNS = ("time", "account", "broker", "symbol", "side", "qty", "price", "order_id",
                "client_order_id", "run_id")


def prune(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(
        "--older-than", help="Delete runs that started before this: 90d, 12w, or an ISO date.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would go.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete old runs and everything they journaled (runs still running are kept)."""
    from alchemiser_cli.api import prune_journal

    app: AppContext = ctx.obj
    bound = parse_since(older_than, datetime.now(UTC), option="--older-than", examples="90d, 12w")
    assert bound is not None
    result = prune_journal(app.settings(), bound, dry_run=dry_run)
    term = app.terminal(json_out)
    if json_out:
        term.summary(True, 0, command="prune", dry_run=dry_run, runs=result.runs,
                     events=result.events, orders=result.orders, before=result.before)
        return
    verb = "would delete" if dry_run else "deleted"
    term.line(f"{verb} {result.runs} run(s), {result.events} event(s) and {result.orders} "
              f"order record(s) started before {result.before[:19]}")


def fills(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Only runs since: 30d, 24h, or an ISO date.")
                     ] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
    json_out: JsonOpt = False,
    output: Annotated[Path | None, typer.Option(help="Write to this file (atomically).")] = None,
    broker: BrokerFilterOpt = None,
    wide: WideOpt = False,
) -> None:
    """Export fills for accounting: time, account, symbol, side, qty, price, order and run."""
    import csv
    import io

    from alchemiser_cli.api import export_fills, journal_brokers

    if csv_out and json_out:
        raise UsageError("choose one of --csv and --json")
    app: AppContext = ctx.obj
    settings = app.settings()
    rows = export_fills(settings, parse_since(since, datetime.now(UTC), examples="30d, 24h"),
                        brokers=default_brokers(broker, journal_brokers(settings)))
    records = [{"time": r.at, "account": r.account or "", "broker": r.broker,
                "symbol": r.symbol, "side": r.side, "qty": r.qty, "price": r.price,
                "order_id": r.order_id, "client_order_id": r.client_order_id,
                "run_id": r.run_id} for r in rows]
    if csv_out or (output is not None and not json_out):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FILL_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
    elif json_out:
        from alchemiser_cli.cli.render.jsonout import JsonWriter, decimals

        lines: list[str] = []
        json_lines = JsonWriter(lines.append)
        for r in records:
            fields = {**r, "qty": decimals(r["qty"]), "price": decimals(r["price"])}
            json_lines.emit("fill", {k: v for k, v in fields.items() if k != "time"},
                            at=str(r["time"]))
        text = "".join(line + "\n" for line in lines)
    else:
        from decimal import Decimal

        from alchemiser_cli.cli.render.formats import price, qty
        from alchemiser_cli.cli.render.tables import Column, TableView

        term = app.terminal(False, wide=wide)
        term.show(TableView("Fills", (
            Column("Time (UTC)"), Column("Account", wide=True), Column("Broker"),
            Column("Symbol"), Column("Side"), Column("Qty", True), Column("Price", True),
            Column("Run")), [
            [r["time"][:16].replace("T", " "), r["account"] or "-", r["broker"], r["symbol"],
             r["side"], qty(Decimal(r["qty"])), price(Decimal(r["price"])), r["run_id"]]
            for r in records]))
        return
    if output is not None:
        from alchemiser_cli.cli.files import write_atomically

        write_atomically(output, text)
        app.terminal(json_out).info(f"{len(records)} fill(s) written to {output}")
    else:
        app.terminal(json_out).stdout.write(text)
