"""`alch sim`: inspect and steer the offline simulator (state, faults, reset)."""


import json
from typing import Annotated

import typer

from alchemiser_cli.cli.context import AppContext
from alchemiser_cli.cli.options import JsonOpt, group
from alchemiser_cli.domain.errors import UsageError

sim_app = group("The offline simulator: reset it, inspect it, inject faults.")

FAULT_HELP = (
    "quote_mode=SYMBOL:MODE (MODE: normal zero_bid zero_ask both_zero crossed stale wide; "
    "SYMBOL may be *), stream_down, trade_stream_down, reject_next=N, reject_symbols=A,B, "
    "halted=A,B, fill_on_cancel=N, stuck_cancel=N, account_blocked, limit_fills, "
    "partial_probability=P, market_closed, "
    "lose_submit_response=N, transient_reads=N, crash_after_calls=N"
)


@sim_app.command("reset")
def reset(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="Random seed of the market.")] = None,
    cash: Annotated[str | None, typer.Option(help="Starting cash (replaces the demo account).")] = None,
    empty: Annotated[bool, typer.Option("--empty", help="No positions.")] = False,
) -> None:
    """Start a fresh simulated account (the demo portfolio unless --empty/--cash)."""
    from alchemiser_cli.brokers.sim.state import demo_state, save_state
    from alchemiser_cli.domain.money import parse_decimal

    app: AppContext = ctx.obj
    settings = app.settings()
    state = demo_state(seed if seed is not None else settings.sim.seed)
    if empty:
        state.positions = {}
    if cash is not None:
        try:
            value = parse_decimal(cash, "--cash")
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        if value < 0:
            raise UsageError("--cash must not be negative")
        state.cash = str(value)
    path = settings.data_dir / "sim" / "state.json"
    save_state(path, state)
    app.terminal(False).info(f"simulator reset: {path}")


@sim_app.command("status")
def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show the simulated account: cash, positions, open orders, active faults."""
    from dataclasses import asdict

    from alchemiser_cli.brokers.sim.state import load_state

    app: AppContext = ctx.obj
    settings = app.settings()
    state = load_state(settings.data_dir / "sim" / "state.json", settings.sim.seed)
    term = app.terminal(json_out)
    open_orders = [o for o in state.orders.values()
                   if o.status not in {"filled", "canceled", "rejected", "expired"}]
    if json_out:
        term.json({"now": state.now, "cash": state.cash,
                   "positions": {k: v.qty for k, v in sorted(state.positions.items())},
                   "open_orders": [asdict(o) for o in open_orders],
                   "orders": len(state.orders), "faults": asdict(state.faults)})
        return
    term.line(f"time {state.now}  cash {state.cash}  orders {len(state.orders)} "
              f"({len(open_orders)} open)")
    term.table("Positions", ["Symbol", "Qty"],
               [[k, v.qty] for k, v in sorted(state.positions.items())])
    faults = {k: v for k, v in asdict(state.faults).items() if v not in (0, None, False, [], {})}
    faults.pop("limit_fills", None)
    if not state.faults.limit_fills:
        faults["limit_fills"] = False
    term.line("faults: " + (json.dumps(faults, sort_keys=True) if faults else "none"))


@sim_app.command("fault")
def fault(
    ctx: typer.Context,
    settings_: Annotated[list[str] | None, typer.Argument(
        metavar="NAME[=VALUE]...", help=FAULT_HELP)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every fault first.")] = False,
) -> None:
    """Switch simulator faults on (NAME or NAME=VALUE) or off (--clear)."""
    from alchemiser_cli.brokers.sim.faults import apply_fault
    from alchemiser_cli.brokers.sim.state import SimFaults, load_state, save_state

    app: AppContext = ctx.obj
    settings = app.settings()
    path = settings.data_dir / "sim" / "state.json"
    state = load_state(path, settings.sim.seed)
    if clear:
        state.faults = SimFaults()
    for item in settings_ or []:
        try:
            apply_fault(state.faults, item)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    save_state(path, state)
    app.terminal(False).info("faults updated")


@sim_app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Loopback port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind (loopback only by default).")] = "127.0.0.1",
    seed: Annotated[int | None, typer.Option(help="Random seed of the market.")] = None,
    key: Annotated[str | None, typer.Option(
        envvar="ALCH_SIM_KEY", help="API key the emulator requires (default: any).")] = None,
    secret: Annotated[str | None, typer.Option(
        envvar="ALCH_SIM_SECRET", help="API secret the emulator requires.")] = None,
) -> None:
    """Serve an Alpaca-compatible emulator (REST + both WebSockets) until Ctrl-C."""
    import asyncio

    from alchemiser_cli.brokers.sim.server import serve_forever
    from alchemiser_cli.brokers.sim.state import demo_state

    app: AppContext = ctx.obj
    settings = app.settings()
    term = app.terminal(False)
    state = demo_state(seed if seed is not None else settings.sim.seed)

    def ready(url: str) -> None:
        ws = url.replace("http://", "ws://")
        term.line(f"Alpaca emulator on {url} (Ctrl-C to stop). Point alch at it with:")
        term.line(f"  export ALCH_TRADING_URL={url} ALCH_DATA_URL={url}")
        term.line(f"  export ALCH_DATA_STREAM_URL={ws}/v2/iex ALCH_TRADING_STREAM_URL={ws}/stream")
        term.line("  export APCA_API_KEY_ID=<any> APCA_API_SECRET_KEY=<any>   # then use --paper")

    try:
        asyncio.run(serve_forever(state, host, port, key=key, secret=secret, on_ready=ready))
    except KeyboardInterrupt:
        term.info("emulator stopped")
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
