"""Tables as data: columns (which are numbers, which only ``--wide`` shows) and rows of
text. The terminal draws them with Rich or as aligned plain text; both fit 80 columns
in the narrow default with the figures an operator must check, never truncated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alchemiser_cli.cli.render.formats import fmt, money, pct, price, qty
from alchemiser_cli.domain.events import CheckRow, PlanReady


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    number: bool = False  # right-aligned, never wrapped or cut
    wide: bool = False  # only with --wide
    optional: bool = False  # left out when every row is empty


@dataclass(frozen=True, slots=True)
class TableView:
    title: str
    columns: tuple[Column, ...]
    rows: list[list[str]]
    caption: str = ""  # a line under the title (totals)
    notes: list[str] = field(default_factory=list)  # lines after the table

    def narrowed(self, wide: bool) -> TableView:
        """The columns this layout shows (all of them with ``wide``)."""
        keep = [i for i, c in enumerate(self.columns) if (wide or not c.wide)
                and not (c.optional and not any(r[i] for r in self.rows))]
        return TableView(self.title, tuple(self.columns[i] for i in keep),
                         [[r[i] for i in keep] for r in self.rows], self.caption, self.notes)


def plan_view(event: PlanReady) -> TableView:
    """The trades of a rebalance: what will be bought and sold, for how much."""
    title = f"Plan {event.plan}" + (" (dry run: nothing placed)" if event.dry_run else "")
    caption = (f"equity {money(event.equity)}, cash {money(event.cash)}, turnover "
               f"{money(event.turnover)}, est. cost {money(event.estimated_cost)}")
    columns = (Column("Symbol"), Column("Action"), Column("Qty", True), Column("Price", True),
               Column("Notional", True), Column("Now", True), Column("Target", True),
               Column("Current qty", True, wide=True), Column("Target qty", True, wide=True),
               Column("Note", optional=True))
    rows = [[t.symbol, t.action.value, qty(t.qty), price(t.price), money(t.notional),
             pct(t.current_weight), pct(t.target_weight), qty(t.current_qty),
             qty(t.target_qty), t.note] for t in event.trades]
    return TableView(title, columns, rows, caption)


def check_result(row: CheckRow) -> str:
    return "FAIL" if not row.passed else ("SHORT" if row.short else "pass")


def check_view(rows: Sequence[CheckRow], reasons: Mapping[str, str]) -> TableView:
    """Each position against its fills (pass/FAIL) and against the plan (SHORT: a buy cut
    for cash), with the reason for every row that is not a pass."""
    def why(r: CheckRow) -> str:
        if r.passed:
            return "buy cut for lack of cash" if r.short else ""
        if r.symbol in reasons:
            return reasons[r.symbol]
        if r.difference:
            return f"position {qty(r.actual_qty)}, fills imply {qty(r.expected_qty)}"
        return "order did not complete"

    columns = (Column("Symbol"), Column("Target", True), Column("Achieved", True),
               Column("Target qty", True, wide=True), Column("Expected", True),
               Column("Actual", True), Column("Diff", True, wide=True), Column("Result"),
               Column("Why", optional=True))
    body = [[r.symbol, pct(r.target_weight), pct(r.achieved_weight), qty(r.target_qty),
             qty(r.expected_qty), qty(r.actual_qty), fmt(r.difference), check_result(r), why(r)]
            for r in rows]
    return TableView("Post-trade portfolio check", columns, body)


def plain_lines(view: TableView) -> list[str]:
    """Aligned columns of plain text (numbers right-aligned), for pipes and logs."""
    out = [line for line in (view.title, view.caption) if line]
    names = [c.name for c in view.columns]
    widths = [max([len(n), *(len(r[i]) for r in view.rows)]) for i, n in enumerate(names)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if col.number else c.ljust(w)
                         for c, w, col in zip(cells, widths, view.columns, strict=True)).rstrip()

    out.append(line(names))
    out.extend(line(r) for r in view.rows)
    out.extend(view.notes)
    return out


def quote_view(quotes: Sequence[Any], title: str = "") -> TableView:
    """Quotes: where each came from, the touch, spread, age and whether it is usable."""
    rows = []
    for q in quotes:
        flags = [f for f, on in (("zero-bid", q.zero_bid), ("zero-ask", q.zero_ask)) if on]
        rows.append([q.symbol, q.source.value, price(q.bid), price(q.ask),
                     price(q.mid) if q.usable else "-",
                     fmt(q.spread_bps, 2) if q.usable else "-", f"{q.age_seconds:.1f}s",
                     ",".join(flags), q.problem.value if q.problem else "ok"])
    return TableView(title, (Column("Symbol"), Column("Source"), Column("Bid", True),
                             Column("Ask", True), Column("Mid", True, wide=True),
                             Column("Spread bps", True), Column("Age", True),
                             Column("Flags", optional=True), Column("State")), rows)


def quote_fields(q: Any) -> dict[str, Any]:
    """One quote as the JSON contract has it (full precision)."""
    return {"symbol": q.symbol, "source": q.source.value, "bid": q.bid, "ask": q.ask,
            "mid": q.mid if q.usable else None,
            "spread_bps": q.spread_bps if q.usable else None, "age_seconds": q.age_seconds,
            "zero_bid": q.zero_bid, "zero_ask": q.zero_ask, "usable": q.usable,
            "problem": q.problem.value if q.problem else None}
