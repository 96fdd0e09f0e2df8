"""Market-data REST: latest quotes, trades and bars (one symbol or many), bars, snapshots.

Shapes: alpaca-py data/historical/stock.py and data/mappings.py (``{"quotes": {SYM: {...}}}``
for many symbols, ``{"symbol": SYM, "quote": {...}}`` for one; ``bars`` pages with
``next_page_token``; snapshot keys per data/mappings.py SNAPSHOT_MAPPING); the legacy
alpaca-trade-api rest.py reads ``resp['quote']`` for one symbol. A ``feed=sip`` request
without a SIP subscription answers 403 ``subscription does not permit querying recent SIP
data`` (docs.alpaca.markets/docs/market-data-faq). Trades and bars are synthesised from
the simulated mid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.sim.broker import SimBroker
from alchemiser_cli.brokers.sim.calendar import NEW_YORK
from alchemiser_cli.brokers.sim.emulator.app import emulator_of
from alchemiser_cli.brokers.sim.emulator.wire import error, iso
from alchemiser_cli.brokers.sim.market import Draws
from alchemiser_cli.domain.money import round_to_tick

ROUTES = web.RouteTableDef()
FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")
TIMEFRAMES = {"Min": 60, "T": 60, "Hour": 3600, "H": 3600, "Day": 86400, "D": 86400,
              "Week": 7 * 86400, "W": 7 * 86400, "Month": 30 * 86400, "M": 30 * 86400}
SIP_REFUSED = "subscription does not permit querying recent SIP data"


def feed_problem(request: web.Request) -> web.Response | None:
    feed = request.query.get("feed", "iex")
    if feed not in FEEDS:
        return error(400, None, f"invalid feed: {feed}")
    if feed == "sip" and emulator_of(request).http.sip_refused:
        return error(403, None, SIP_REFUSED)
    return None


def quote_json(sim: SimBroker, symbol: str) -> dict[str, Any]:
    q = sim._quote(symbol)
    return {"t": iso(q.timestamp), "ax": "V", "ap": float(q.ask), "as": int(q.ask_size),
            "bx": "V", "bp": float(q.bid), "bs": int(q.bid_size), "c": ["R"], "z": "C"}


def trade_json(sim: SimBroker, symbol: str) -> dict[str, Any]:
    now = sim._clock.now()
    return {"t": iso(now), "x": "V", "p": float(round_to_tick(sim.mid(symbol))), "s": 100,
            "c": ["@"], "i": int(now.timestamp() * 1000) % 10**12, "z": "C"}


def bar_json(sim: SimBroker, symbol: str, start: datetime, seconds: int) -> dict[str, Any]:
    """A deterministic bar around the current mid (seeded by symbol and start time)."""
    mid = sim.mid(symbol)
    rng = Draws(sim.state.seed, "bar", symbol, int(start.timestamp()), seconds)
    drift = Decimal(str(round(0.002 * rng.gauss(), 6)))
    close = round_to_tick(mid * (1 + drift))
    open_ = round_to_tick(mid * (1 + Decimal(str(round(0.002 * rng.gauss(), 6)))))
    grid = Decimal("0.01") if mid >= 1 else Decimal("0.0001")  # the price's own tick
    pad = (mid * Decimal("0.001")).quantize(grid, rounding=ROUND_UP)
    high = max(open_, close) + pad
    low = min(open_, close) - pad
    volume = 1_000 + int(rng.random() * 49_000)
    return {"t": iso(start), "o": float(open_), "h": float(high), "l": float(low),
            "c": float(close), "v": volume, "n": volume // 100,
            "vw": float(round_to_tick((high + low + close) / 3))}


def _symbols(request: web.Request) -> list[str]:
    return [s.strip().upper() for s in request.query.get("symbols", "").split(",") if s.strip()]


def _known(sim: SimBroker, symbols: list[str]) -> list[str]:
    return [s for s in symbols if sim.spec(s) is not None]


def _latest_many(key: str, make: Callable[[SimBroker, str], dict[str, Any]]
                 ) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        if (problem := feed_problem(request)) is not None:
            return problem
        if not _symbols(request):
            return error(400, None, "missing symbols")
        sim = emulator_of(request).sim
        known = _known(sim, _symbols(request))
        if key == "quotes":  # through the simulator's read path, so its read faults apply
            for symbol in known:
                await sim.latest_quote(symbol)
        return web.json_response({key: {s: make(sim, s) for s in known}})
    return handler


def _latest_one(key: str, make: Callable[[SimBroker, str], dict[str, Any]]
                ) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        if (problem := feed_problem(request)) is not None:
            return problem
        sim = emulator_of(request).sim
        symbol = request.match_info["symbol"].upper()
        if sim.spec(symbol) is None:
            return error(404, None, f"no {key} found for {symbol}")
        return web.json_response({"symbol": symbol, key: make(sim, symbol)})
    return handler


def _latest_bar(sim: SimBroker, symbol: str) -> dict[str, Any]:
    now = sim._clock.now().replace(second=0, microsecond=0)
    return bar_json(sim, symbol, now - timedelta(minutes=1), 60)


ROUTES.get("/v2/stocks/quotes/latest")(_latest_many("quotes", quote_json))
ROUTES.get("/v2/stocks/trades/latest")(_latest_many("trades", trade_json))
ROUTES.get("/v2/stocks/bars/latest")(_latest_many("bars", _latest_bar))
ROUTES.get("/v2/stocks/{symbol}/quotes/latest")(_latest_one("quote", quote_json))
ROUTES.get("/v2/stocks/{symbol}/trades/latest")(_latest_one("trade", trade_json))
ROUTES.get("/v2/stocks/{symbol}/bars/latest")(_latest_one("bar", _latest_bar))


def _timeframe(raw: str) -> int:
    digits = "".join(c for c in raw if c.isdigit()) or "1"
    unit = raw[len(digits):] if raw.startswith(digits) else raw
    if unit not in TIMEFRAMES:
        raise ValueError(f"invalid timeframe {raw}")
    return int(digits) * TIMEFRAMES[unit]


def _bar_series(sim: SimBroker, symbol: str, query: Any) -> list[dict[str, Any]]:
    seconds = _timeframe(query.get("timeframe", "1Min"))
    now = sim._clock.now()
    day_start = now.astimezone(NEW_YORK).replace(hour=0, minute=0, second=0, microsecond=0)
    start = datetime.fromisoformat(query["start"].replace("Z", "+00:00")) if query.get(
        "start") else day_start
    end = datetime.fromisoformat(query["end"].replace("Z", "+00:00")) if query.get(
        "end") else now
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    limit = min(int(query.get("limit", "1000")), 10000)
    first = datetime.fromtimestamp(start.timestamp() // seconds * seconds, UTC)
    bars: list[dict[str, Any]] = []
    t = first
    while t + timedelta(seconds=seconds) <= min(end, now) and len(bars) < limit:
        if t >= start:
            bars.append(bar_json(sim, symbol, t, seconds))
        t += timedelta(seconds=seconds)
    return bars if query.get("sort", "asc") == "asc" else bars[::-1]


@ROUTES.get("/v2/stocks/bars")
async def bars(request: web.Request) -> web.Response:
    if (problem := feed_problem(request)) is not None:
        return problem
    sim = emulator_of(request).sim
    try:
        series = {s: _bar_series(sim, s, request.query) for s in _known(sim, _symbols(request))}
    except ValueError as exc:
        return error(400, None, str(exc))
    return web.json_response({"bars": series, "next_page_token": None})


@ROUTES.get("/v2/stocks/{symbol}/bars")
async def symbol_bars(request: web.Request) -> web.Response:
    if (problem := feed_problem(request)) is not None:
        return problem
    sim = emulator_of(request).sim
    symbol = request.match_info["symbol"].upper()
    try:
        series = _bar_series(sim, symbol, request.query) if sim.spec(symbol) else []
    except ValueError as exc:
        return error(400, None, str(exc))
    return web.json_response({"bars": series, "symbol": symbol, "next_page_token": None})


def snapshot_json(sim: SimBroker, symbol: str) -> dict[str, Any]:
    now = sim._clock.now()
    minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    day = now.astimezone(NEW_YORK).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"latestTrade": trade_json(sim, symbol), "latestQuote": quote_json(sim, symbol),
            "minuteBar": bar_json(sim, symbol, minute, 60),
            "dailyBar": bar_json(sim, symbol, day, 86400),
            "prevDailyBar": bar_json(sim, symbol, day - timedelta(days=1), 86400)}


@ROUTES.get("/v2/stocks/snapshots")
async def snapshots(request: web.Request) -> web.Response:
    if (problem := feed_problem(request)) is not None:
        return problem
    sim = emulator_of(request).sim
    return web.json_response({s: snapshot_json(sim, s) for s in _known(sim, _symbols(request))})


@ROUTES.get("/v2/stocks/{symbol}/snapshot")
async def snapshot(request: web.Request) -> web.Response:
    if (problem := feed_problem(request)) is not None:
        return problem
    sim = emulator_of(request).sim
    symbol = request.match_info["symbol"].upper()
    if sim.spec(symbol) is None:
        return error(404, None, f"no snapshot found for {symbol}")
    return web.json_response({"symbol": symbol, **snapshot_json(sim, symbol)})
