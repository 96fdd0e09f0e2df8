"""`alch sim`: inspect and steer the offline simulator (state, faults, reset).

With ``--url`` (or ``ALCH_SIM_URL``) the same commands act on a running emulator
(``alch sim serve``) through its ``/_sim`` routes instead of the file-backed simulator.
"""


import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from alchemiser_cli.cli.context import AppContext
from alchemiser_cli.cli.options import JsonOpt, group
from alchemiser_cli.domain.errors import UsageError


class MarketHours(StrEnum):
    EXCHANGE = "exchange"
    ALWAYS = "always"


sim_app = group("The offline simulator: reset it, inspect it, inject faults.")

FAULT_HELP = (
    "quote_mode=SYMBOL:MODE (MODE: normal zero_bid zero_ask both_zero crossed stale wide; "
    "SYMBOL may be *), stream_down, trade_stream_down, reject_next=N, reject_symbols=A,B, "
    "halted=A,B, fill_on_cancel=N, stuck_cancel=N, account_blocked, limit_fills, "
    "partial_probability=P, market_closed, market_hours=always|exchange, "
    "lose_submit_response=N, transient_reads=N, crash_after_calls=N, "
    "submit_status=accepted|pending_new|new, accept_latency=S, cancel_latency=S, "
    "repeat_cancel_204, wash_trade_422, position_lag_seconds=S, drop_event=EVENT[:N], "
    "delay_events=S, margin_multiplier=M; with --url also the emulator's http_429=N, "
    "http_5xx=N, slow_seconds=S, refuse_streams, fail_path=PATH, submit_then_5xx=N, revoked, "
    "auth_error=403|401|html, sip_refused, stream_connection_limit, rate_limit=N"
)

UrlOpt = Annotated[str | None, typer.Option(
    "--url", envvar="ALCH_SIM_URL", show_envvar=True,
    help="Act on a running emulator (alch sim serve) at this URL instead of the simulator.")]


def _control(url: str) -> Any:
    from alchemiser_cli.brokers.sim.emulator.control import EmulatorControl

    return EmulatorControl(url)


@sim_app.command("reset")
def reset(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="Random seed of the market.")] = None,
    cash: Annotated[str | None, typer.Option(help="Starting cash (replaces the demo account).")] = None,
    empty: Annotated[bool, typer.Option("--empty", help="No positions.")] = False,
    url: UrlOpt = None,
) -> None:
    """Start a fresh simulated account (the demo portfolio unless --empty/--cash)."""
    from alchemiser_cli.brokers.sim.persistence import save_state
    from alchemiser_cli.brokers.sim.state import demo_state
    from alchemiser_cli.domain.money import MAX_NOTIONAL, parse_decimal

    app: AppContext = ctx.obj
    value = None
    if cash is not None:
        try:
            value = parse_decimal(cash, "--cash")
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        if value < 0:
            raise UsageError("--cash must not be negative")
        if value > MAX_NOTIONAL:
            raise UsageError(f"--cash: {cash} is more than the maximum of {MAX_NOTIONAL:,}")
    if url:
        _control(url).reset(seed=seed, cash=None if value is None else str(value), empty=empty)
        app.terminal(False).info(f"emulator reset: {url}")
        return
    settings = app.settings()
    state = demo_state(seed if seed is not None else settings.sim.seed)
    if empty:
        state.positions = {}
    if value is not None:
        state.cash = str(value)
    path = settings.data_dir / "sim" / "state.json"
    save_state(path, state)
    app.terminal(False).info(f"simulator reset: {path}")


@sim_app.command("status")
def status(
    ctx: typer.Context,
    json_out: JsonOpt = False,
    url: UrlOpt = None,
    log: Annotated[int, typer.Option(
        "--log", help="With --url: also show the emulator's last N requests.")] = 0,
) -> None:
    """Show the simulated account: cash, positions, open orders, active faults."""
    from dataclasses import asdict

    from alchemiser_cli.brokers.sim.faults import active_faults
    from alchemiser_cli.brokers.sim.persistence import load_state
    from alchemiser_cli.brokers.sim.state import SimState

    app: AppContext = ctx.obj
    term = app.terminal(json_out)
    extra: dict[str, Any] = {}
    if url:
        control = _control(url)
        raw = control.state()
        extra = {"requests": raw.pop("requests", {}), "log": control.log(log) if log else []}
        active = raw.pop("active_faults", {})
        raw.pop("http_faults", None)
        state = SimState.from_json(json.dumps(raw))
    else:
        settings = app.settings()
        state = load_state(settings.data_dir / "sim" / "state.json", settings.sim.seed)
        active = active_faults(state.faults)
    open_orders = [o for o in state.orders.values()
                   if o.status not in {"filled", "canceled", "rejected", "expired", "replaced"}]
    if json_out:
        from alchemiser_cli.cli.render.jsonout import decimals

        term.record("sim_status", {"now": state.now, "cash": decimals(state.cash),
                   "positions": decimals({k: v.qty for k, v in sorted(state.positions.items())}),
                   "open_orders": [asdict(o) for o in open_orders],
                   "orders": len(state.orders), "faults": asdict(state.faults),
                   "active_faults": active, **extra})
        return
    from decimal import Decimal

    from alchemiser_cli.cli.render.formats import money, qty

    term.line(f"time {state.now[:19].replace('T', ' ')}  cash {money(Decimal(state.cash))}  "
              f"orders {len(state.orders)} ({len(open_orders)} open)")
    term.table("Positions", ["Symbol", "Qty"],
               [[k, qty(Decimal(v.qty))] for k, v in sorted(state.positions.items())],
               numbers=("Qty",))
    term.line("faults: " + (json.dumps(active, sort_keys=True) if active else "none"))
    if url:
        counts = extra["requests"]
        term.line(f"requests: {sum(counts.values())}" + "".join(
            f"\n  {n:>5}  {route}" for route, n in sorted(counts.items())))
        for row in extra["log"]:
            left = "-" if row["remaining"] is None else row["remaining"]
            term.line(f"{row['method']} {row['path']} {row['status']} {row['ms']}ms "
                      f"remaining={left}")


@sim_app.command("fault")
def fault(
    ctx: typer.Context,
    settings_: Annotated[list[str] | None, typer.Argument(
        metavar="NAME[=VALUE]...", help=FAULT_HELP)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every fault first.")] = False,
    url: UrlOpt = None,
) -> None:
    """Switch simulator faults on (NAME or NAME=VALUE) or off (--clear)."""
    from alchemiser_cli.brokers.sim.faults import apply_fault
    from alchemiser_cli.brokers.sim.persistence import load_state, save_state
    from alchemiser_cli.brokers.sim.state import SimFaults

    app: AppContext = ctx.obj
    if url:
        _control(url).faults(list(settings_ or []), clear=clear)
        app.terminal(False).info("emulator faults updated")
        return
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
    rate_limit: Annotated[int, typer.Option(
        "--rate-limit", min=1, help="Requests per minute per account and API (Alpaca: 200).")] = 200,
    log_requests: Annotated[bool, typer.Option(
        "--log-requests", help="Print one line per REST request: method, path, status, "
                               "latency, rate-limit remaining.")] = False,
    hours: Annotated[MarketHours, typer.Option(
        "--hours", help="exchange: open only in NYSE regular sessions, as Alpaca (orders "
                        "wait until the open); always: open at any hour.")] = MarketHours.EXCHANGE,
) -> None:
    """Serve an Alpaca-compatible emulator (REST + both WebSockets) until Ctrl-C."""
    import asyncio

    from alchemiser_cli.brokers.sim.emulator import serve_forever
    from alchemiser_cli.brokers.sim.state import demo_state

    app: AppContext = ctx.obj
    settings = app.settings()
    term = app.terminal(False)
    state = demo_state(seed if seed is not None else settings.sim.seed)
    state.faults.market_hours = hours.value

    def ready(url: str) -> None:
        from datetime import UTC, datetime

        from alchemiser_cli.brokers.sim.calendar import NEW_YORK, in_session, next_open_close

        ws = url.replace("http://", "ws://")
        term.line(f"Alpaca emulator on {url} (Ctrl-C to stop). Point alch at it with:")
        term.line(f"  export ALCH_TRADING_URL={url} ALCH_DATA_URL={url}")
        term.line(f"  export ALCH_DATA_STREAM_URL={ws}/v2/iex ALCH_TRADING_STREAM_URL={ws}/stream")
        term.line("  export APCA_API_KEY_ID=<any> APCA_API_SECRET_KEY=<any>   # then use --paper")
        term.line(f"  export ALCH_SIM_URL={url}   # alch sim status/fault/reset act on it")
        now = datetime.now(UTC)
        if hours is MarketHours.EXCHANGE and not in_session(now):
            opens = next_open_close(now)[0].astimezone(NEW_YORK)
            term.line(f"The market is closed (NYSE hours; next open {opens:%Y-%m-%d %H:%M %Z}): "
                      "alch refuses to trade until then, as on Alpaca. --hours always "
                      "keeps it open.")

    try:
        asyncio.run(serve_forever(state, host, port, key=key, secret=secret, on_ready=ready,
                                  rate_limit=rate_limit,
                                  log=term.line if log_requests else None))
    except KeyboardInterrupt:
        term.info("emulator stopped")
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
