"""`alch place`: one order through the placement core (walk the book, then check)."""


from typing import TYPE_CHECKING, Annotated

import typer

from alchemiser_cli.cli.context import (
    AppContext,
    Relay,
    confirm_live,
    require_confirmable,
    run_async,
)
from alchemiser_cli.cli.options import (
    CancelOrphansOpt,
    JsonOpt,
    LiveOpt,
    NotifyOpt,
    PaperOpt,
    SimOpt,
    WideOpt,
    YesOpt,
)
from alchemiser_cli.domain.errors import ExitCode, UsageError
from alchemiser_cli.domain.intents import CloseType, Side, Urgency

if TYPE_CHECKING:  # imported lazily: `alch --help` must stay fast
    from alchemiser_cli.domain.intents import OrderIntent
    from alchemiser_cli.domain.quotes import AssessedQuote
    from alchemiser_cli.domain.results import ExecutionResult


def place(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Ticker symbol, e.g. AAPL.")],
    side: Annotated[Side, typer.Argument(help="buy or sell.", case_sensitive=False)],
    qty: Annotated[str | None, typer.Argument(help="Shares (fractional where allowed).")] = None,
    notional: Annotated[str | None, typer.Option(help="Dollar amount instead of a quantity.")] = None,
    urgency: Annotated[Urgency, typer.Option(help="Walk profile: low, medium or high (market now).",
                                             case_sensitive=False)] = Urgency.MEDIUM,
    close: Annotated[CloseType, typer.Option(
        help="Sell as a close: partial, or full (sells the whole position; ends at 0).",
        case_sensitive=False)] = CloseType.NONE,
    sim: SimOpt = False,
    paper: PaperOpt = False,
    live: LiveOpt = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    cancel_orphans: CancelOrphansOpt = False,
    notify: NotifyOpt = None,
) -> None:
    """Place one order: walk the book (limits from the near touch toward the mid, then market)."""
    from alchemiser_cli.api import open_session
    from alchemiser_cli.domain.intents import IntentError, OrderIntent
    from alchemiser_cli.domain.money import MAX_NOTIONAL, MAX_QUANTITY, parse_amount

    app: AppContext = ctx.obj
    watch = app.watch("place", notify)
    try:
        intent = OrderIntent(
            symbol=symbol, side=side,
            quantity=None if qty is None else parse_amount(qty, "QTY", MAX_QUANTITY),
            notional=None if notional is None else parse_amount(notional, "--notional",
                                                                MAX_NOTIONAL),
            close_type=close, urgency=urgency,
        )
    except (IntentError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    mode = app.mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out, wide=wide)
    term.require_output()  # a failed write stops the order: the operator must see it
    ask = require_confirmable(mode, yes, term)  # exit 6 here, before anything

    async def main() -> "ExecutionResult":
        relay = Relay()
        async with open_session(mode, settings=settings, observer=watch.observe(relay),
                                live=True) as session:
            if ask:  # the order, the market and the account, then the typed confirmation
                [quote] = await session.quote([intent.symbol])
                await confirm_live(term, await session.account(), preview(intent, quote))
            with term.live_events(f"alch place {intent.describe()} [{mode}]",
                                  done_lines=True) as relay.target:
                return await session.place(intent, cancel_orphans=cancel_orphans)

    result = run_async(mode, main, settings)
    if json_out:
        term.summary(result.ok, int(result.exit_code), command="place",
                     symbol=result.intent.symbol, side=result.intent.side.value,
                     status=result.status.value, requested_qty=result.requested_qty,
                     filled_qty=result.filled_qty, avg_price=result.avg_price,
                     slippage_bps=result.slippage_bps, error=result.error)
    if result.error:
        term.error(result.error)
    if result.exit_code is not ExitCode.OK:
        raise typer.Exit(int(result.exit_code))


def preview(intent: "OrderIntent", quote: "AssessedQuote") -> str:
    """What a live order will do, at today's prices."""
    from alchemiser_cli.cli.render.formats import money, price

    text = f"{intent.describe()}: bid {price(quote.bid)}, ask {price(quote.ask)}"
    far = quote.ask if intent.side.value == "buy" else quote.bid
    if intent.notional is not None:
        return f"{text}, about {money(intent.notional)}"
    if intent.quantity is not None and quote.usable:
        return f"{text}, about {money(intent.quantity * far)}"  # at the far touch
    return text
