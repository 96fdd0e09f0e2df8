"""The terminal facade: everything the operator sees goes through one object.

Three modes: Rich on a TTY (a live board, tables that fit 80 columns), plain stable
lines when piped (cron), and ``--json``: the JSON contract (:mod:`.jsonout`) on stdout.
Diagnostics go to stderr. ``NO_COLOR`` and ``FORCE_COLOR`` are honoured.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from alchemiser_cli.cli.render import audit, checklist
from alchemiser_cli.cli.render.board import OrderBoard
from alchemiser_cli.cli.render.jsonout import JsonWriter
from alchemiser_cli.cli.render.lines import plain_line, short_done_line
from alchemiser_cli.cli.render.metrics import metric_rows
from alchemiser_cli.cli.render.tables import TableView, check_view, plain_lines, plan_view
from alchemiser_cli.cli.text import escape_controls
from alchemiser_cli.domain.events import Event, Notice, Observer, PlanReady, PortfolioChecked
from alchemiser_cli.logs import protect_secrets, redact

ALERT = {"FAIL", "SHORT", "FAILED", "✗"}


class Terminal:
    """Output facade: stdout for data, stderr for diagnostics."""

    def __init__(self, *, json_mode: bool = False, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None, is_tty: bool | None = None,
                 secrets: Sequence[str] = (), quiet: bool = False, wide: bool = False,
                 stdin: IO[str] | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self.quiet = quiet
        self.wide = wide
        self.json_mode = json_mode
        self.is_tty = self.stdout.isatty() if is_tty is None else is_tty
        if os.environ.get("FORCE_COLOR") and is_tty is None:
            self.is_tty = True
        protect_secrets(secrets)
        no_color = bool(os.environ.get("NO_COLOR"))
        self.out = Console(file=self.stdout, force_terminal=self.is_tty and not json_mode,
                           no_color=no_color, highlight=False, soft_wrap=not self.is_tty)
        self.err = Console(file=self.stderr, no_color=no_color, highlight=False, soft_wrap=True)
        self.writer = JsonWriter(self.line)

    @property
    def rich(self) -> bool:
        return self.is_tty and not self.json_mode

    @staticmethod
    def _clean(text: str) -> str:
        return escape_controls(redact(text))

    def require_output(self) -> None:
        """From now on a write to stdout that fails stops the command (exit 3) instead of
        being dropped: a command that trades must not go on unseen."""
        if hasattr(self.stdout, "strict"):
            self.stdout.strict = True

    # -- plain output -------------------------------------------------------------------------
    def line(self, text: str) -> None:
        self.stdout.write(self._clean(text) + "\n")
        self.stdout.flush()

    def say(self, text: str) -> None:
        """A sentence: on a terminal wrapped between words (never inside a number)."""
        if self.rich:
            self.out.print(Text(self._clean(text)))
        else:
            self.line(text)

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

    # -- the JSON contract ----------------------------------------------------------------------
    def record(self, event: str, fields: Mapping[str, Any]) -> None:
        self.writer.record(event, fields)

    def summary(self, ok: bool, exit_code: int, **fields: Any) -> None:
        self.writer.summary(ok, exit_code, **fields)

    # -- questions ----------------------------------------------------------------------------
    def can_ask(self) -> bool:
        """A question needs a person: stdin and stdout both on a terminal."""
        return bool(self.stdin.isatty() and self.is_tty and not self.json_mode)

    async def ask(self, prompt: str) -> str:
        """Ask on stderr and read one line typed on the terminal, without stopping the
        event loop (streams stay alive while the operator reads the plan)."""
        self.stderr.write(prompt)
        self.stderr.flush()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        fd = self.stdin.fileno()

        def readable() -> None:
            if not answer.done():
                answer.set_result(self.stdin.readline())

        loop.add_reader(fd, readable)
        try:
            return (await answer).strip()
        finally:
            loop.remove_reader(fd)

    # -- a run as it happens ------------------------------------------------------------------
    @contextmanager
    def live_events(self, title: str, *, done_lines: bool = False) -> Iterator[Observer]:
        """An observer that shows the run: live board, plain lines, or JSON lines.

        ``done_lines``: on a terminal, end with each order's ``done`` line (``place``).
        """
        if self.json_mode:
            yield lambda event: self.writer.event(event.to_dict())
            return
        if self.quiet:  # warnings and errors only; the command prints its final line
            def quiet(event: Event) -> None:
                if isinstance(event, Notice) and event.level != "info":
                    self.warn(event.message)
            yield quiet
            return
        board = OrderBoard(title, wide=self.wide)
        after: list[RenderableType] = []
        if not self.is_tty:
            def plain(event: Event) -> None:
                board.apply(event)
                if isinstance(event, PlanReady | PortfolioChecked):
                    self.event_table(event, board.reasons())
                    return
                if isinstance(event, Notice):
                    self.warn(event.message) if event.level != "info" else self.info(event.message)
                    return
                text = plain_line(event)
                if text is not None:
                    self.line(text)
            yield plain
            return
        with Live(get_renderable=board.renderable, console=self.out, auto_refresh=True,
                  refresh_per_second=4, transient=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            def observe(event: Event) -> None:
                if isinstance(event, Notice):
                    live.console.print(Text(f"{event.level}: {self._clean(event.message)}",
                                            style="yellow"))
                    return
                board.apply(event)
                if isinstance(event, PlanReady):
                    live.console.print(self._rich_view(plan_view(event)))
                elif isinstance(event, PortfolioChecked):  # under the final board
                    after.append(self._rich_view(check_view(event.rows, board.reasons())))
                live.refresh()
            try:
                yield observe
            finally:
                if board.finished is None:
                    board.finished = time.monotonic()
                live.refresh()
        for renderable in after:
            self.out.print(renderable)
        if done_lines:
            for done in board.done_events:
                self.say(short_done_line(done))

    def event_table(self, event: PlanReady | PortfolioChecked,
                    reasons: Mapping[str, str] | None = None) -> None:
        view = plan_view(event) if isinstance(event, PlanReady) else check_view(
            event.rows, reasons or {})
        self.show(view)

    # -- tables ---------------------------------------------------------------------------
    def show(self, view: TableView) -> None:
        """A table in the layout the terminal asked for (narrow unless --wide)."""
        if self.rich:
            self.out.print(self._rich_view(view))
            return
        for text in plain_lines(view.narrowed(self.wide)):
            self.line(text)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
              json_rows: Sequence[Mapping[str, Any]] | None = None, *, event: str = "row",
              numbers: Sequence[str] = ()) -> None:
        """A simple table; with --json, one ``event`` line per row."""
        if self.json_mode:
            for obj in json_rows if json_rows is not None else [
                    dict(zip(columns, r, strict=True)) for r in rows]:
                self.record(event, obj)
            return
        from alchemiser_cli.cli.render.tables import Column

        self.show(TableView(title, tuple(Column(c, c in numbers) for c in columns),
                            [list(r) for r in rows]))

    def _rich_view(self, view: TableView) -> RenderableType:
        view = view.narrowed(self.wide)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
        for i, c in enumerate(view.columns):
            longest = max([len(c.name), *(len(r[i]) for r in view.rows)])
            table.add_column(c.name, justify="right" if c.number else "left",
                             no_wrap=c.number, min_width=longest if c.number else None)
        for r in view.rows:
            table.add_row(*(Text(self._clean(v), style="bold red" if v in ALERT else "")
                            for v in r))
        head: list[RenderableType] = [Text("")]  # a blank line between blocks
        if view.title:
            head.append(Text(self._clean(view.title), style="bold"))
        if view.caption:
            head.append(Text(self._clean(view.caption), style="dim"))
        tail = [Text(self._clean(n)) for n in view.notes]
        return Group(*head, table, *tail)

    @contextmanager
    def refreshing(self) -> Iterator[Callable[[TableView], None]]:
        """A view shown again and again (``quote --watch``): redrawn in place on a
        terminal; piped, each refresh is printed with its time at the front of every line."""
        if self.json_mode:
            raise ValueError("refreshing() is not for --json")
        if not self.rich:
            def plain(view: TableView) -> None:
                stamp = datetime.now().astimezone().strftime("%H:%M:%S")
                lines = plain_lines(view.narrowed(self.wide))
                for text in lines[1:] if view.title else lines:
                    self.line(f"{stamp}  {text}")
            yield plain
            return
        current: list[RenderableType] = [Text("")]
        with Live(get_renderable=lambda: current[0], console=self.out, auto_refresh=False,
                  transient=False, redirect_stdout=False, redirect_stderr=False) as live:
            def draw(view: TableView) -> None:
                current[0] = self._rich_view(view)
                live.refresh()
            yield draw

    # -- command views -----------------------------------------------------------------------
    def checklist(self, title: str, checks: Sequence[Any], exit_code: int) -> None:
        """Pass/fail/skip rows of `alch verify`, then a one-line verdict."""
        passed = all(c.passed for c in checks)
        said = checklist.verdict(checks)
        if self.json_mode:
            for c in checks:
                self.record("check", {"check": c.name, "status": c.status.value,
                                      "detail": c.detail})
            self.summary(passed, exit_code, verdict=said,
                         failed=[c.name for c in checks if not c.passed])
            return
        if not self.is_tty:
            width = max(len(c.name) for c in checks)
            for c in checks:
                self.line(f"{c.status.value:<4}  {c.name:<{width}}  {c.detail}")
            self.line(said)
            return
        table = Table(title=Text(title), title_justify="left", box=box.SIMPLE_HEAD,
                      pad_edge=False)
        for column in ("", "Check", "Detail"):
            table.add_column(column)
        for c in checks:
            mark, style = checklist.MARKS[c.status.value]
            table.add_row(Text(mark, style=style), c.name, self._clean(c.detail))
        self.out.print(table)
        self.out.print(Text(said, style="green" if passed else "bold red"))

    def metrics(self, m: Any) -> None:
        """`alch metrics`: rates, counters and a bar chart of fills per walk step."""
        if self.json_mode:
            self.record("metrics", metrics_fields(m))
            return
        rows = metric_rows(m)
        if not self.is_tty:
            for name, value in rows:
                self.line(f"{name}: {value}")
            self.line("fills by step: " + ", ".join(f"{k}={v}" for k, v in m.fills_by_step.items()))
            return
        table = Table(title="Execution metrics", title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("Metric")
        table.add_column("Value", justify="right")
        for name, value in rows:
            table.add_row(name, value)
        self.out.print(table)
        most = max(m.fills_by_step.values(), default=0) or 1
        chart = Table(title="Fills per walk step", title_justify="left", show_header=False,
                      box=box.SIMPLE)
        chart.add_column("Step")
        chart.add_column("Bar")
        chart.add_column("Count", justify="right")
        for step, count in m.fills_by_step.items():
            chart.add_row(step, Text("█" * round(30 * count / most), style="cyan"), str(count))
        self.out.print(chart)

    def audit(self, run: Any, events: Sequence[Mapping[str, Any]], *,
              show_events: bool = False) -> None:
        """`alch show`: the run's summary, its orders and checks; the event log on request."""
        if self.json_mode:
            self.record("run", run_fields(run))
            self.writer.run_id = run.run_id
            self.writer.events(events)
            return
        head, table, tail = audit.summary(run, events)
        for text in head:
            self.line(text)
        if table is not None:
            self.show(table)
        for text in tail:
            self.line(text)
        if show_events:
            self.line("")
            for text in audit.event_lines(events):
                self.line(text)
        elif events:
            self.info(f"{len(events)} event(s): alch show {run.run_id} --events for the log")


def metrics_fields(m: Any) -> dict[str, Any]:
    """`alch metrics` as the JSON contract has it (decimals without trailing zeros)."""
    from alchemiser_cli.cli.render.jsonout import decimals

    data = dict(m.to_dict())
    for key in ("slippage_bps_mean", "slippage_bps_median", "slippage_bps_notional_weighted",
                "eq_by_step", "markout_bps_by_step"):
        data[key] = decimals(data[key])
    return data


def run_fields(run: Any) -> dict[str, Any]:
    """A journal run as the JSON contract lists it (`runs`, `show`)."""
    return {"run_id": run.run_id, "command": run.command, "broker": run.broker,
            "account": run.account, "started_at": run.wall_started_at or run.started_at,
            "run_clock_started_at": run.started_at, "finished_at": run.finished_at,
            "status": run.status, "exit_code": run.exit_code}
