"""``/v2/account``, ``/v2/clock`` and ``/v2/calendar``."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from aiohttp import web

from alchemiser_cli.brokers.sim.calendar import NEW_YORK, ny_timestamp, trading_days
from alchemiser_cli.brokers.sim.emulator.app import emulator_of
from alchemiser_cli.brokers.sim.emulator.wire import ACCOUNT_ID, error, num

ROUTES = web.RouteTableDef()


@ROUTES.get("/v2/account")
async def account(request: web.Request) -> web.Response:
    """TradeAccount (alpaca-py trading/models.py; recorded response in
    tests/trading/trading_client/test_account_routes.py; OpenAPI Account). The PDT fields
    are gone since 2026-07-06 (OpenAPI Account x-deprecation "sunset": 2026-07-06; alpaca-py
    trading/models.py TradeAccount; QuantConnect/Lean.Brokerages.Alpaca#68)."""
    sim = emulator_of(request).sim
    a = await sim.get_account()
    long_value = sim.long_market_value()
    multiplier = Decimal(sim.state.faults.margin_multiplier)
    non_marginable = Decimal(sim.state.cash) - sim._reserved_cash()
    return web.json_response({
        "id": ACCOUNT_ID, "account_number": "PA0SIMULATOR", "status": a.status,
        "crypto_status": "INACTIVE", "currency": "USD",
        "cash": num(a.cash), "buying_power": num(a.buying_power),
        "regt_buying_power": num(a.buying_power),
        "non_marginable_buying_power": num(non_marginable),
        "options_buying_power": num(non_marginable), "options_approved_level": 0,
        "options_trading_level": 0, "equity": num(a.equity), "last_equity": num(a.equity),
        "portfolio_value": num(a.equity), "long_market_value": num(long_value),
        "short_market_value": "0", "position_market_value": num(long_value),
        "initial_margin": num(long_value / 2 if multiplier > 1 else Decimal(0)),
        "maintenance_margin": num(long_value * Decimal("0.3") if multiplier > 1 else Decimal(0)),
        "last_maintenance_margin": "0", "multiplier": num(multiplier), "sma": "0",
        "accrued_fees": "0", "pending_transfer_in": "0", "pending_transfer_out": "0",
        "balance_asof": sim._clock.now().astimezone(NEW_YORK).date().isoformat(),
        "trading_blocked": a.trading_blocked, "transfers_blocked": False,
        "account_blocked": a.account_blocked, "trade_suspended_by_user": False,
        "shorting_enabled": multiplier > 1, "created_at": "2026-01-02T14:00:00Z",
    })


@ROUTES.get("/v2/clock")
async def clock(request: web.Request) -> web.Response:
    """``2022-05-16T16:32:24.14373588-04:00`` (alpaca-py test_clock_calendar_routes.py)."""
    c = await emulator_of(request).sim.get_clock()
    return web.json_response({"timestamp": ny_timestamp(c.timestamp), "is_open": c.is_open,
                              "next_open": ny_timestamp(c.next_open),
                              "next_close": ny_timestamp(c.next_close)})


@ROUTES.get("/v2/calendar")
async def calendar(request: web.Request) -> web.Response:
    """Trading days with open/close and session times (recorded response in alpaca-py
    tests/trading/trading_client/test_clock_calendar_routes.py)."""
    sim = emulator_of(request).sim
    today = sim._clock.now().astimezone(NEW_YORK).date()
    try:
        start = date.fromisoformat(request.query.get("start", "")[:10] or today.isoformat())
        end = date.fromisoformat(request.query.get("end", "")[:10]
                                 or (start + timedelta(days=30)).isoformat())
    except ValueError:
        return error(422, 40010001, "invalid date format, expected YYYY-MM-DD")
    if end < start:
        return web.json_response([])
    return web.json_response([d.to_json() for d in trading_days(start, min(end, start + timedelta(
        days=3660)))])

