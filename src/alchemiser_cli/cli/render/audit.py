"""`alch show`: one run from the journal, summary first, the event log on request.

Works on events as the journal stored them (plain JSON), from any version of alch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from alchemiser_cli.cli.render.formats import duration, fmt, money, price, qty
from alchemiser_cli.cli.render.tables import Column, TableView


def _d(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def run_line(run: Any) -> str:
    exit_code = "-" if run.exit_code is None else run.exit_code
    account = f", account {run.account}" if getattr(run, "account", None) else ""
    started = (run.wall_started_at or run.started_at)[:19].replace("T", " ")
    return (f"run {run.run_id}: {run.command} on {run.broker}{account}, started {started}, "
            f"{run.status} (exit {exit_code})")


def summary(run: Any, events: Sequence[Mapping[str, Any]]) -> tuple[list[str], TableView | None,
                                                                    list[str]]:
    """(lines before the orders table, the table, lines after it)."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        by_kind.setdefault(str(e.get("event")), []).append(e)
    head = [run_line(run)]
    for plan in by_kind.get("plan", []):
        trades = [t for t in plan.get("trades", []) if t.get("action") != "hold"]
        head.append(f"plan {plan.get('plan')}: {len(trades)} trade(s), turnover "
                    f"{money(_d(plan.get('turnover')))}, est. cost "
                    f"{money(_d(plan.get('estimated_cost')))}"
                    + (" (dry run: nothing placed)" if plan.get("dry_run") else ""))
    done = by_kind.get("execution", [])
    steps = by_kind.get("step", [])
    fills = [s for s in steps if (_d(s.get("filled_qty")) or 0) > 0]
    quotes = by_kind.get("quote", [])
    if done or steps:
        filled = sum(e.get("status") == "filled" for e in done)
        unfilled = f", {len(done) - filled} not filled" if len(done) > filled else ""
        head.append(f"orders: {len(done)}, {filled} filled{unfilled}; {len(steps)} step(s), "
                    f"{len(fills)} with fills; {len(quotes)} quote(s)")
    table = None
    if done:
        checks = {r.get("symbol"): r for c in by_kind.get("portfolio_check", [])
                  for r in c.get("rows", [])}
        validations = {v.get("symbol"): v for v in by_kind.get("validation", [])}
        rows = []
        for e in done:
            symbol = e.get("symbol")
            check = checks.get(symbol)
            if check is not None:
                verdict = "FAIL" if not check.get("passed") else (
                    "SHORT" if check.get("short") else "pass")
            elif symbol in validations:
                ok = validations[symbol].get("passed") and e.get("status") == "filled"
                verdict = "pass" if ok else "FAIL"
            else:
                verdict = "-"
            slip = _d(e.get("slippage_bps"))
            rows.append([str(symbol), str(e.get("side")), qty(_d(e.get("requested_qty"))),
                         qty(_d(e.get("filled_qty"))), price(_d(e.get("avg_price"))),
                         fmt(slip), str(e.get("steps_used", "-")), str(e.get("fill_step") or "-"),
                         duration(e.get("seconds")), str(e.get("status")), verdict,
                         str(e.get("error") or "")])
        table = TableView("Orders", (
            Column("Symbol"), Column("Side"), Column("Qty", True), Column("Filled", True),
            Column("Avg", True), Column("Slip bps", True), Column("Steps", True, wide=True),
            Column("Last fill", wide=True), Column("Time", True, wide=True), Column("Status"),
            Column("Check"), Column("Why", optional=True)), rows)
    tail: list[str] = []
    for c in by_kind.get("portfolio_check", []):
        failed = [r.get("symbol") for r in c.get("rows", []) if not r.get("passed")]
        short = [r.get("symbol") for r in c.get("rows", []) if r.get("short")]
        tail.append("portfolio check: " + ("passed" if c.get("passed") else
                                           f"FAILED ({', '.join(map(str, failed))})")
                    + (f"; short of plan: {', '.join(map(str, short))}" if short else ""))
    for n in by_kind.get("notice", []):
        tail.append(f"{n.get('level')}: {n.get('message')}")
    for n in by_kind.get("leftover_cancelled", []):
        tail.append(f"leftover {n.get('client_order_id')} of run {n.get('run_id')}: "
                    f"{n.get('status')}, filled {qty(_d(n.get('filled_qty')))}")
    for f in by_kind.get("run_finished", []):
        error = (f.get("summary") or {}).get("error")
        if error:
            tail.append(f"stopped: {error}")
    return head, table, tail


def event_lines(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The event log: time, event, then its fields as key=value (JSON values)."""
    out = []
    for e in events:
        details = " ".join(f"{k}={_compact(v)}" for k, v in e.items()
                           if k not in ("event", "at") and v not in (None, "", [], {}))
        stamp = str(e.get("at") or "")[11:19]  # HH:MM:SS of the ISO timestamp
        out.append(f"{stamp:<8} {e.get('event', ''):<18} {details}".rstrip())
    return out


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
