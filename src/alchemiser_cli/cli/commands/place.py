"""`alch place`: one order through the placement core (walk the book, then check)."""


from typing import TYPE_CHECKING, Annotated

import typer

from alchemiser_cli.cli.context import AppContext, broker_mode, confirm_live, run_async
from alchemiser_cli.cli.options import JsonOpt, LiveOpt, PaperOpt, SimOpt, YesOpt
from alchemiser_cli.domain.errors import ExitCode, UsageError
from alchemiser_cli.domain.intents import CloseType, Side, Urgency

if TYPE_CHECKING:  # imported lazily: `alch --help` must stay fast
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
) -> None:
    """Place one order: walk the book (limits from the near touch toward the mid, then market)."""
    from alchemiser_cli.core.placement import client_order_id_base
    from alchemiser_cli.core.preflight import require_tradable_session
    from alchemiser_cli.core.session import open_runtime
    from alchemiser_cli.domain.intents import IntentError, OrderIntent
    from alchemiser_cli.domain.money import parse_decimal

    app: AppContext = ctx.obj
    try:
        intent = OrderIntent(
            symbol=symbol, side=side,
            quantity=None if qty is None else parse_decimal(qty, "QTY"),
            notional=None if notional is None else parse_decimal(notional, "--notional"),
            close_type=close, urgency=urgency,
        )
    except (IntentError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    mode = broker_mode(sim, paper, live)
    settings = app.settings()
    term = app.terminal(json_out)
    confirm_live(mode, yes, term, intent.describe())

    async def main() -> "ExecutionResult":
        with term.live_events(f"alch place {intent.describe()} [{mode}]") as observer:
            async with open_runtime(mode, settings, command="place", observer=observer,
                                    lock=True) as rt:
                await require_tradable_session(rt.broker)
                result = await rt.placement.place(
                    intent, id_base=client_order_id_base(rt.run_id, intent.symbol))
                rt.exit_code = exit_code_for(result)
                rt.status = result.status.value
                return result

    result = run_async(mode, main, settings)
    if result.error:
        term.error(result.error)
    code = exit_code_for(result)
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))


def exit_code_for(result: "ExecutionResult") -> ExitCode:
    from alchemiser_cli.domain.orders import OrderStatus
    from alchemiser_cli.domain.results import ExecutionStatus

    if result.status is ExecutionStatus.FILLED:
        return ExitCode.OK
    if result.status is ExecutionStatus.NOT_PLACED:
        return ExitCode.REFUSED
    if any(s.status is OrderStatus.UNKNOWN for s in result.steps):
        return ExitCode.BROKER  # an order may still be working: stopped, look at it
    return ExitCode.FAILED
