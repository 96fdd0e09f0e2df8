"""The only module that uses Rich. Everything the operator sees is drawn here.

Three modes: a Rich live table on a TTY, plain stable lines when piped (cron),
and ``--json``: one JSON object per line on stdout. Diagnostics go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from alchemiser_cli.cli.text import escape_controls
from alchemiser_cli.domain.events import (
    CheckRow,
    Event,
    Notice,
    Observer,
    OrderAccepted,
    OrderDone,
    OrderProgress,
    OrderSubmitFailed,
    OrderSubmitting,
    PhaseStarted,
    PlanReady,
    PortfolioChecked,
    QuoteTaken,
    RunStarted,
    StepFinished,
    ValidationDone,
)
from alchemiser_cli.domain.money import normalize
from alchemiser_cli.logs import protect_secrets, redact


def fmt(value: Decimal | None, places: int | None = None) -> str:
    if value is None:
        return "-"
    if places is not None:
        return f"{value:.{places}f}"
    return str(normalize(value))


def price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if value < 1 else f"{value:.2f}"


@dataclass
class _Row:
    symbol: str
    side: str = ""
    qty: Decimal = Decimal(0)
    step: str = ""
    limit: Decimal | None = None
    ratio: Decimal | None = None
    status: str = "quoting"
    filled_before: Decimal = Decimal(0)
    filled_now: Decimal = Decimal(0)
    avg: Decimal | None = None
    slippage: Decimal | None = None
    check: str = ""
    phase: str = ""

    @property
    def filled(self) -> Decimal:
        return self.filled_before + self.filled_now


@dataclass
class OrderBoard:
    """State for the live table, updated from core events."""

    rows: dict[str, _Row] = field(default_factory=dict)
    phase: str = ""

    def row(self, symbol: str) -> _Row:
        if symbol not in self.rows:
            self.rows[symbol] = _Row(symbol, phase=self.phase)
        return self.rows[symbol]

    def apply(self, event: Event) -> None:
        if isinstance(event, PhaseStarted):
            self.phase = event.phase
        elif isinstance(event, OrderSubmitting):
            r = self.row(event.symbol)
            if not r.side:
                r.qty = event.qty
            r.side = event.side
            r.filled_before = r.filled
            r.filled_now = Decimal(0)
            r.step = "market" if event.order_type == "market" else str(event.step)
            r.limit, r.ratio, r.status = event.limit_price, event.ratio, "submitting"
        elif isinstance(event, OrderAccepted):
            self.row(event.symbol).status = event.status
        elif isinstance(event, (OrderProgress, StepFinished)):
            r = self.row(event.symbol)
            r.status, r.filled_now = event.status, event.filled_qty
        elif isinstance(event, OrderSubmitFailed):
            self.row(event.symbol).status = f"submit {event.outcome}"
        elif isinstance(event, ValidationDone):
            self.row(event.symbol).check = "pass" if event.passed else "FAIL"
        elif isinstance(event, OrderDone):
            r = self.row(event.symbol)
            r.side = r.side or event.side
            r.qty = event.requested_qty or r.qty
            r.avg, r.slippage, r.status = event.avg_price, event.slippage_bps, event.status

    def table(self, title: str) -> Table:
        table = Table(title=Text(title), title_justify="left")  # Text: "[sim]" is not markup
        for name, justify in (("Phase", "left"), ("Symbol", "left"), ("Side", "left"),
                              ("Step", "right"), ("Ratio", "right"), ("Limit", "right"),
                              ("Status", "left"), ("Filled", "right"), ("Avg price", "right"),
                              ("Slip bps", "right"), ("Check", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for r in self.rows.values():
            status_style = {"filled": "green", "failed": "red", "not_placed": "red",
                            "partial": "yellow", "rejected": "red"}.get(r.status, "")
            table.add_row(
                r.phase, r.symbol, r.side, r.step, fmt(r.ratio), price(r.limit),
                Text(r.status, style=status_style), f"{fmt(r.filled)}/{fmt(r.qty)}",
                price(r.avg), fmt(r.slippage), Text(r.check, style="green" if r.check == "pass"
                                                    else "bold red"),
            )
        return table


def plain_line(event: Event) -> str | None:
    """The stable one-line form of an event for non-TTY output (None: not shown)."""
    if isinstance(event, RunStarted):
        return f"run {event.run_id} ({event.command}, {event.broker})"
    if isinstance(event, PhaseStarted):
        return f"phase {event.phase}: {event.orders} order(s)"
    if isinstance(event, QuoteTaken):
        flags = "".join([
            " zero-bid(estimated)" if event.zero_bid and not event.problem else "",
            " zero-ask(estimated)" if event.zero_ask and not event.problem else "",
            f" UNUSABLE:{event.problem}" if event.problem else "",
            " (REST fallback)" if event.fallback else "",
        ])
        return (f"quote {event.symbol} {event.source} bid {price(event.bid)} ask "
                f"{price(event.ask)} age {event.age_seconds:.1f}s{flags}")
    if isinstance(event, OrderSubmitting):
        how = (f"limit {price(event.limit_price)} ({fmt(event.ratio)} of spread)"
               if event.order_type == "limit" else "market")
        step = "market" if event.order_type == "market" else f"step {event.step}"
        return (f"submit {event.symbol} {step}: {event.side} {fmt(event.qty)} {how} "
                f"id {event.client_order_id}")
    if isinstance(event, OrderSubmitFailed):
        return f"submit {event.symbol} {event.outcome}: {event.message}"
    if isinstance(event, StepFinished):
        step = "market" if event.order_type == "market" else f"step {event.step}"
        return (f"result {event.symbol} {step}: {event.status}, filled {fmt(event.filled_qty)}/"
                f"{fmt(event.qty)} avg {price(event.avg_price)}, total {fmt(event.total_filled)},"
                f" {event.seconds:g}s")
    if isinstance(event, ValidationDone):
        return f"check {event.symbol} {'pass' if event.passed else 'FAIL'}: {event.message}"
    if isinstance(event, OrderDone):
        tail = f" ({event.error})" if event.error else ""
        slip = "" if event.slippage_bps is None else f", slippage {fmt(event.slippage_bps)} bps"
        at = "" if event.fill_step is None else f", last fill at step {event.fill_step}"
        return (f"done {event.symbol} {event.side} {event.status}: filled "
                f"{fmt(event.filled_qty)}/{fmt(event.requested_qty)} avg "
                f"{price(event.avg_price)}{slip}{at}, {event.seconds:g}s{tail}")
    return None


class Terminal:
    """Output facade: stdout for data, stderr for diagnostics. Honours NO_COLOR/FORCE_COLOR."""

    def __init__(self, *, json_mode: bool = False, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None, is_tty: bool | None = None,
                 secrets: Sequence[str] = (), quiet: bool = False) -> None:
        self.stdout = stdout or sys.stdout
        self.quiet = quiet
        self.stderr = stderr or sys.stderr
        self.json_mode = json_mode
        self.is_tty = self.stdout.isatty() if is_tty is None else is_tty
        if os.environ.get("FORCE_COLOR") and is_tty is None:
            self.is_tty = True
        protect_secrets(secrets)
        no_color = bool(os.environ.get("NO_COLOR"))
        self.out = Console(file=self.stdout, force_terminal=self.is_tty and not json_mode,
                           no_color=no_color, highlight=False, soft_wrap=not self.is_tty)
        self.err = Console(file=self.stderr, no_color=no_color, highlight=False, soft_wrap=True)

    @property
    def rich(self) -> bool:
        return self.is_tty and not self.json_mode

    @staticmethod
    def _clean(text: str) -> str:
        return escape_controls(redact(text))

    def line(self, text: str) -> None:
        self.stdout.write(self._clean(text) + "\n")
        self.stdout.flush()

    def json(self, obj: dict[str, Any]) -> None:
        self.line(json.dumps(obj, sort_keys=True, default=str))

    def error(self, message: str) -> None:
        self.stderr.write(f"error: {self._clean(message)}\n")
        self.stderr.flush()

    def warn(self, message: str) -> None:
        self.stderr.write(f"warning: {self._clean(message)}\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        if self.json_mode or self.quiet:
            return
        self.stderr.write(self._clean(message) + "\n")

    def confirm(self, prompt: str) -> bool:
        self.stderr.write(f"{prompt} [y/N]: ")
        self.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        return answer in {"y", "yes"}

    @contextmanager
    def live_events(self, title: str) -> Iterator[Observer]:
        """An observer that shows the run: live table, plain lines, or JSON lines."""
        if self.json_mode:
            yield lambda event: self.json(event.to_dict())
            return
        if self.quiet:  # warnings and errors only; the command prints its final line
            def quiet(event: Event) -> None:
                if isinstance(event, Notice) and event.level != "info":
                    self.warn(event.message)
            yield quiet
            return
        if not self.is_tty:
            def plain(event: Event) -> None:
                if isinstance(event, PlanReady | PortfolioChecked):
                    self.event_table(event)
                    return
                if isinstance(event, Notice):
                    self.warn(event.message) if event.level != "info" else self.info(event.message)
                    return
                text = plain_line(event)
                if text is not None:
                    self.line(text)
            yield plain
            return
        board = OrderBoard()
        with Live(board.table(title), console=self.out, auto_refresh=False,
                  transient=False) as live:
            def observe(event: Event) -> None:
                if isinstance(event, Notice):
                    live.console.print(Text(f"{event.level}: {self._clean(event.message)}",
                                            style="yellow"))
                    return
                if isinstance(event, PlanReady):
                    plan_title, columns, rows, _ = plan_rows(event)
                    live.console.print(self._rich_table(plan_title, columns, rows))
                    return
                if isinstance(event, PortfolioChecked):
                    live.update(board.table(title), refresh=True)
                    check_title, columns, rows = check_rows(event.rows)
                    live.console.print(self._rich_table(check_title, columns, rows))
                    return
                board.apply(event)
                live.update(board.table(title), refresh=True)
            yield observe

    def checklist(self, title: str, checks: Sequence[Any]) -> None:
        """Pass/fail/skip rows of `alch verify`, then a one-line verdict."""
        passed = all(c.passed for c in checks)
        failed = sum(not c.passed for c in checks)
        verdict = "all checks passed" if passed else f"{failed} check(s) did not pass"
        if self.json_mode:
            for c in checks:
                self.json({"check": c.name, "status": c.status.value, "detail": c.detail})
            self.json({"event": "summary", "ok": passed,
                       "failed": [c.name for c in checks if not c.passed]})
            return
        if not self.is_tty:
            width = max(len(c.name) for c in checks)
            for c in checks:
                self.line(f"{c.status.value:<4}  {c.name:<{width}}  {c.detail}")
            self.line(verdict)
            return
        marks = {"pass": ("✓", "green"), "fail": ("✗", "bold red"), "skip": ("-", "yellow")}
        table = Table(title=Text(title), title_justify="left")
        for column in ("", "Check", "Detail"):
            table.add_column(column)
        for c in checks:
            mark, style = marks[c.status.value]
            table.add_row(Text(mark, style=style), c.name, self._clean(c.detail))
        self.out.print(table)
        self.out.print(Text(verdict, style="green" if passed else "bold red"))

    def metrics(self, m: Any) -> None:
        """`alch metrics`: rates, counters and a bar chart of fills per walk step."""
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.1%}"

        if self.json_mode:
            self.json(m.to_dict())
            return
        rows = [
            ["runs", str(m.runs)],
            ["quote requests", str(m.quote_requests)],
            ["streaming success rate", pct(m.streaming_success_rate)],
            ["REST fallback rate", pct(m.rest_fallback_rate)],
            ["unusable quote rate", pct(m.unusable_rate)],
            *[[f"quotes {k.replace('_', ' ')}", str(v)] for k, v in m.problems.items()],
            ["orders (filled)", f"{m.orders} ({m.orders_filled})"],
            ["median time to fill", "-" if m.median_seconds_to_fill is None
             else f"{m.median_seconds_to_fill:g}s"],
            ["slippage bps (mean / median)", f"{fmt(m.slippage_bps_mean)} / "
             f"{fmt(m.slippage_bps_median)}"],
            ["slippage bps (notional-weighted)", fmt(m.slippage_bps_weighted)],
            ["validation pass rate", f"{pct(m.validation_pass_rate)} of {m.validations}"],
            ["E/Q by step", ", ".join(f"{k}={fmt(v)}" for k, v in m.eq_by_step.items()) or "-"],
            [f"mark-out bps by step ({'/'.join(f'{h:g}s' for h in m.markout_seconds) or '-'})",
             ", ".join(f"{k}={fmt(v)}" for k, v in m.markout_bps_by_step.items()) or "-"],
        ]
        if not self.is_tty:
            for name, value in rows:
                self.line(f"{name}: {value}")
            self.line("fills by step: " + ", ".join(f"{k}={v}" for k, v in m.fills_by_step.items()))
            return
        table = Table(title="Execution metrics", title_justify="left")
        table.add_column("Metric")
        table.add_column("Value", justify="right")
        for name, value in rows:
            table.add_row(name, value)
        self.out.print(table)
        most = max(m.fills_by_step.values(), default=0) or 1
        chart = Table(title="Fills per walk step", title_justify="left", show_header=False)
        chart.add_column("Step")
        chart.add_column("Bar")
        chart.add_column("Count", justify="right")
        for step, count in m.fills_by_step.items():
            chart.add_row(step, Text("█" * round(30 * count / most), style="cyan"), str(count))
        self.out.print(chart)

    def audit(self, run: Any, events: Sequence[dict[str, Any]]) -> None:
        """`alch show`: every journaled event of one run, in order."""
        if self.json_mode:
            for e in events:
                self.json(e)
            return
        self.line(f"run {run.run_id}: {run.command} on {run.broker}, started {run.started_at}, "
                  f"{run.status} (exit {run.exit_code if run.exit_code is not None else '-'})")
        skip = {"event", "at"}
        for e in events:
            details = " ".join(f"{k}={_compact(v)}" for k, v in e.items()
                               if k not in skip and v not in (None, "", [], {}))
            stamp = str(e.get("at") or "")[11:19]  # HH:MM:SS of the ISO timestamp
            self.line(f"{stamp:<8} {e['event']:<16} {details}")

    # -- tables ------------------------------------------------------------------------
    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
              json_rows: Sequence[dict[str, Any]] | None = None) -> None:
        if self.json_mode:
            for obj in json_rows or [dict(zip(columns, r, strict=True)) for r in rows]:
                self.json(obj)
            return
        if not self.is_tty:
            if title:
                self.line(title)
            widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
                      for i, c in enumerate(columns)]
            self.line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
            for r in rows:
                self.line("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
            return
        self.out.print(self._rich_table(title, columns, rows))

    def _rich_table(self, title: str, columns: Sequence[str],
                    rows: Sequence[Sequence[str]]) -> Table:
        table = Table(title=Text(self._clean(title)) if title else None, title_justify="left")
        for c in columns:
            table.add_column(c)
        for r in rows:
            styled = [Text(self._clean(v), style="bold red" if v in ("FAIL", "SHORT") else "")
                      for v in r]
            table.add_row(*styled)
        return table

    def event_table(self, event: PlanReady | PortfolioChecked) -> None:
        if isinstance(event, PlanReady):
            title, columns, rows, objs = plan_rows(event)
            self.table(title, columns, rows, objs)
        else:
            title, columns, rows = check_rows(event.rows)
            self.table(title, columns, rows)


def _compact(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def plan_rows(event: PlanReady) -> tuple[str, list[str], list[list[str]], list[dict[str, Any]]]:
    title = (f"Plan {event.plan}: equity {event.equity:.2f}, cash {event.cash:.2f}, "
             f"turnover {event.turnover:.2f}, est. cost {event.estimated_cost:.2f}"
             + (" (dry run: nothing placed)" if event.dry_run else ""))
    columns = ["Symbol", "Action", "Qty", "Price", "Notional", "Current", "Target", "Cur wt",
               "Target wt", "Note"]
    rows, objs = [], []
    for t in event.trades:
        rows.append([t.symbol, t.action.value, fmt(t.qty), price(t.price), f"{t.notional:.2f}",
                     fmt(t.current_qty), fmt(t.target_qty), fmt(t.current_weight),
                     fmt(t.target_weight), t.note])
        objs.append({"symbol": t.symbol, "action": t.action.value, "qty": str(t.qty),
                     "price": str(t.price), "notional": str(t.notional),
                     "current_qty": str(t.current_qty), "target_qty": str(t.target_qty),
                     "current_weight": str(t.current_weight),
                     "target_weight": str(t.target_weight), "note": t.note})
    return title, columns, rows, objs


def check_rows(rows: Sequence[CheckRow]) -> tuple[str, list[str], list[list[str]]]:
    """Each position against its fills (pass/FAIL) and against the plan (SHORT: cut for cash)."""
    def result(r: CheckRow) -> str:
        return "FAIL" if not r.passed else ("SHORT" if r.short else "pass")

    return (
        "Post-trade portfolio check",
        ["Symbol", "Target wt", "Achieved wt", "Target qty", "Expected", "Actual", "Diff",
         "Result"],
        [[r.symbol, fmt(r.target_weight), fmt(r.achieved_weight), fmt(r.target_qty),
          fmt(r.expected_qty), fmt(r.actual_qty), fmt(r.difference), result(r)] for r in rows],
    )

