"""The live run board on a terminal: one row per order, redrawn as events arrive and
every quarter second in between, so a resting order shows how long it has rested and
when its next step comes, and the header shows the run id and the elapsed time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from alchemiser_cli.cli.render.formats import duration, fmt, price, qty, status_word
from alchemiser_cli.cli.render.tables import check_result
from alchemiser_cli.domain.events import (
    Event,
    OrderAccepted,
    OrderDone,
    OrderProgress,
    OrderSubmitFailed,
    OrderSubmitting,
    PhaseStarted,
    PortfolioChecked,
    RunFinished,
    RunStarted,
    StepFinished,
    ValidationDone,
)

#: Order states in which an order rests at the broker (the countdown runs).
RESTING = {"new", "accepted", "pending_new", "partially_filled", "accepted_for_bidding"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STYLES = {"filled": "green", "failed": "red", "not_placed": "red", "partial": "yellow",
          "partially_filled": "yellow", "rejected": "red", "submit rejected": "red",
          "canceled": "yellow", "expired": "yellow", "submit unknown": "bold red",
          "unknown": "bold red"}


@dataclass
class BoardRow:
    symbol: str
    phase: str = ""
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
    validated: bool | None = None
    check: str = ""  # the portfolio check's verdict, when there is one
    error: str | None = None
    resting_since: float | None = None  # when the current order reached the broker
    wait: float | None = None  # how long the walk lets it rest per step
    done: bool = False

    @property
    def filled(self) -> Decimal:
        return self.filled_before + self.filled_now

    def verdict(self) -> str:
        """pass only when the position checked out *and* the order completed; the
        portfolio check's own word when there is one (so the two never disagree)."""
        if self.check:
            return self.check
        if self.validated is None:
            return ""
        return "pass" if self.validated and self.status == "filled" else "FAIL"


@dataclass
class OrderBoard:
    """The live table's state, fed by core events (thread-safe: Rich redraws it from
    its refresh thread)."""

    title: str
    wide: bool = False
    now: Callable[[], float] = time.monotonic
    rows: dict[str, BoardRow] = field(default_factory=dict)
    phase: str = ""
    run_id: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    done_events: list[OrderDone] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def row(self, symbol: str) -> BoardRow:
        if symbol not in self.rows:
            self.rows[symbol] = BoardRow(symbol, phase=self.phase)
        return self.rows[symbol]

    def apply(self, event: Event) -> None:
        with self._lock:
            self._apply(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
        elif isinstance(event, RunFinished):
            self.finished = self.now()
        elif isinstance(event, PhaseStarted):
            self.phase = event.phase
        elif isinstance(event, OrderSubmitting):
            r = self.row(event.symbol)
            if not r.side:
                r.qty = event.qty
            r.side = event.side
            r.filled_before, r.filled_now = r.filled, Decimal(0)
            r.step = "mkt" if event.order_type == "market" else str(event.step)
            r.limit, r.ratio, r.status = event.limit_price, event.ratio, "submitting"
            r.wait, r.resting_since = event.wait_seconds, None
        elif isinstance(event, OrderAccepted):
            r = self.row(event.symbol)
            r.status, r.resting_since = event.status, self.now()
        elif isinstance(event, OrderProgress | StepFinished):
            r = self.row(event.symbol)
            r.status, r.filled_now = event.status, event.filled_qty
        elif isinstance(event, OrderSubmitFailed):
            r = self.row(event.symbol)
            r.status, r.error = f"submit {event.outcome}", event.message
        elif isinstance(event, ValidationDone):
            self.row(event.symbol).validated = event.passed
        elif isinstance(event, OrderDone):
            r = self.row(event.symbol)
            r.side = r.side or event.side
            r.qty = event.requested_qty or r.qty
            r.avg, r.slippage, r.status = event.avg_price, event.slippage_bps, event.status
            r.error, r.done = event.error, True
            self.done_events.append(event)
        elif isinstance(event, PortfolioChecked):
            for c in event.rows:
                if c.symbol in self.rows:
                    self.rows[c.symbol].check = check_result(c)

    def reasons(self) -> dict[str, str]:
        """Why each order that did not complete ended as it did (for the check table)."""
        with self._lock:
            return {s: r.error for s, r in self.rows.items() if r.error}

    # -- drawing ----------------------------------------------------------------------------
    def _progress(self, r: BoardRow, now: float) -> tuple[str, str]:
        """(time resting, what comes next and when) of a resting order."""
        if r.done or r.resting_since is None or r.status not in RESTING:
            return "", ""
        rested = now - r.resting_since
        if not r.wait:
            return duration(rested), ""
        left = r.wait - (rested % r.wait)
        word = "cancel" if r.step == "mkt" or r.ratio is None else "next"
        return duration(rested), f"{word} {duration(left)}"

    def header(self, now: float) -> Text:
        elapsed = (self.finished or now) - self.started
        spin = "" if self.finished else SPINNER[int(now * 8) % len(SPINNER)] + " "
        run = f"run {self.run_id} · " if self.run_id else ""
        done = sum(r.done for r in self.rows.values())
        orders = f" · {done}/{len(self.rows)} orders done" if self.rows else ""
        return Text.assemble("\n", (self.title, "bold"), "\n",
                             (f"{spin}{run}elapsed {duration(elapsed)}{orders}", "dim"))

    def renderable(self) -> RenderableType:
        with self._lock:
            now = self.now()
            if not self.rows:
                return self.header(now)
            return Group(self.header(now), self.table(now))

    #: (name, a number, only with --wide)
    COLUMNS = (("Phase", False, True), ("Symbol", False, False), ("Side", False, False),
               ("Qty", True, False), ("Filled", True, False), ("Step", True, False),
               ("Ratio", True, True), ("Limit", True, False), ("Avg", True, False),
               ("Slip bps", True, True), ("Resting", True, True), ("Status", False, False),
               ("Check", False, False))

    def table(self, now: float) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
        shown = [c for c in self.COLUMNS if self.wide or not c[2]]
        for name, number, _ in shown:
            table.add_column(name, justify="right" if number else "left",
                             no_wrap=name != "Status")
        for r in self.rows.values():
            rested, upcoming = self._progress(r, now)
            verdict = r.verdict()
            status = status_word(r.status) + (f", {upcoming}" if upcoming else "")
            cells = {
                "Phase": Text(r.phase), "Symbol": Text(r.symbol), "Side": Text(r.side),
                "Qty": Text(qty(r.qty) if r.side else ""), "Filled": Text(qty(r.filled)),
                "Step": Text(r.step), "Ratio": Text(fmt(r.ratio)), "Limit": Text(price(r.limit)),
                "Avg": Text(price(r.avg)), "Slip bps": Text(fmt(r.slippage)),
                "Resting": Text(rested),
                "Status": Text(status, style=STYLES.get(r.status, "")),
                "Check": Text(verdict, style="green" if verdict == "pass" else "bold red"),
            }
            table.add_row(*(cells[name] for name, _, _ in shown))
        return table
