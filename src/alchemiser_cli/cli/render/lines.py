"""The stable one-line form of each event, for output that is not a terminal (cron)."""

from __future__ import annotations

from alchemiser_cli.cli.render.formats import fmt, price, qty
from alchemiser_cli.domain.events import (
    Event,
    OrderDone,
    OrderSubmitFailed,
    OrderSubmitting,
    PhaseStarted,
    QuoteTaken,
    RunStarted,
    StepFinished,
    ValidationDone,
)


def plain_line(event: Event) -> str | None:
    """One line per event worth a line (None: not shown)."""
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
        return (f"submit {event.symbol} {step}: {event.side} {qty(event.qty)} {how} "
                f"id {event.client_order_id}")
    if isinstance(event, OrderSubmitFailed):
        return f"submit {event.symbol} {event.outcome}: {event.message}"
    if isinstance(event, StepFinished):
        step = "market" if event.order_type == "market" else f"step {event.step}"
        return (f"result {event.symbol} {step}: {event.status}, filled {qty(event.filled_qty)}/"
                f"{qty(event.qty)} avg {price(event.avg_price)}, total "
                f"{qty(event.total_filled)}, {event.seconds:g}s")
    if isinstance(event, ValidationDone):
        return f"check {event.symbol} {'pass' if event.passed else 'FAIL'}: {event.message}"
    if isinstance(event, OrderDone):
        return done_line(event)
    return None


def done_line(event: OrderDone) -> str:
    tail = f" ({event.error})" if event.error else ""
    slip = "" if event.slippage_bps is None else f", slippage {fmt(event.slippage_bps)} bps"
    at = "" if event.fill_step is None else f", last fill at step {event.fill_step}"
    return (f"done {event.symbol} {event.side} {event.status}: filled "
            f"{qty(event.filled_qty)}/{qty(event.requested_qty)} avg "
            f"{price(event.avg_price)}{slip}{at}, {event.seconds:g}s{tail}")


def short_done_line(event: OrderDone) -> str:
    """The ``done`` line under a terminal's board: what an operator checks, in 80 columns."""
    from alchemiser_cli.cli.render.formats import duration

    slip = "" if event.slippage_bps is None else f", slippage {fmt(event.slippage_bps)} bps"
    tail = f" ({event.error})" if event.error else ""
    return (f"done {event.symbol} {event.side} {event.status}: {qty(event.filled_qty)}/"
            f"{qty(event.requested_qty)} avg {price(event.avg_price)}{slip}, "
            f"{duration(event.seconds)}{tail}")
