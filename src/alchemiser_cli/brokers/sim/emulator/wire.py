"""Alpaca's JSON shapes: orders, positions, assets, errors, numbers and timestamps.

Sources for the shapes: the recorded responses in alpaca-py's tests
(tests/trading/trading_client/test_order_routes.py, test_position_routes.py,
test_account_routes.py) and the models in alpaca-py's trading/models.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aiohttp import web

from alchemiser_cli.brokers.sim.calendar import next_open_close
from alchemiser_cli.brokers.sim.market import SymbolSpec
from alchemiser_cli.brokers.sim.state import SimOrderRecord
from alchemiser_cli.domain.orders import Order, OrderStatus

ACCOUNT_ID = "5f3c6a1e-0000-4000-8000-00000000a1c4"
ARCA = frozenset({"SPY", "VTI", "GLD", "TLT", "IWM", "XLE"})
NYSE = frozenset({"DELIST"})


def num(value: Decimal | None, places: int = 4) -> str | None:
    """A short decimal string like Alpaca's (``"228.5"``, ``"-23140.2"``), never ~27 digits."""
    if value is None:
        return None
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = format(rounded.normalize(), "f")
    return "0" if text in ("-0", "") else text


def qty_text(value: Decimal | None) -> str | None:
    return num(value, 9)


def iso(value: datetime | str | None) -> str | None:
    """UTC with ``Z`` and microseconds, as in alpaca-py's recorded order responses."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"alch-sim/{symbol}"))


def exchange(symbol: str) -> str:
    return "ARCA" if symbol in ARCA else "NYSE" if symbol in NYSE else "NASDAQ"


def error(status: int, code: int | None, message: str, **extra: Any) -> web.Response:
    """Alpaca's error body: ``{"code": int, "message": str}`` plus any extra fields."""
    body: dict[str, Any] = {"message": message, **extra}
    if code is not None:
        body = {"code": code, **body}
    return web.json_response(body, status=status)


def expires_at(rec: SimOrderRecord) -> str | None:
    """DAY (and IOC/FOK/OPG/CLS) orders expire at the session's close (OpenAPI TimeInForce
    day: "If unfilled after the closing auction, it is automatically canceled"); GTC after
    90 days, an assumption: Alpaca documents no limit ("good until canceled"), though a
    recorded GTC order carries an ``expires_at`` about 90 days out (ccxt/ccxt#24172)."""
    created = datetime.fromisoformat(rec.created_at)
    if rec.time_in_force == "gtc":
        return iso(created + timedelta(days=90))
    return iso(next_open_close(created)[1])


def order_json(rec: SimOrderRecord, snapshot: Order | None = None) -> dict[str, Any]:
    """An order as Alpaca sends it. ``snapshot`` (a trade update's order) overrides the
    fields that move, so a delayed event still shows the order as it was then."""
    status = snapshot.status.value if snapshot else rec.status
    filled = snapshot.filled_qty if snapshot else Decimal(rec.filled_qty)
    own_avg = Decimal(rec.filled_notional) / filled if filled else None
    avg = snapshot.filled_avg_price if snapshot else own_avg
    updated = snapshot.updated_at if snapshot else rec.updated_at
    terminal = rec.terminal_at if OrderStatus.parse(status).terminal else None
    return {
        "id": rec.id, "client_order_id": rec.client_order_id,
        "created_at": iso(rec.created_at), "updated_at": iso(updated),
        "submitted_at": iso(rec.created_at),
        "filled_at": iso(terminal) if status == "filled" else None,
        "expired_at": iso(terminal) if status == "expired" else None,
        "expires_at": expires_at(rec),
        "canceled_at": iso(terminal) if status == "canceled" else None,
        "failed_at": iso(terminal) if status == "rejected" else None,
        "replaced_at": iso(terminal) if status == "replaced" else None,
        "replaced_by": rec.replaced_by, "replaces": rec.replaces,
        "asset_id": asset_id(rec.symbol), "symbol": rec.symbol, "asset_class": "us_equity",
        "notional": None if rec.notional is None else num(Decimal(rec.notional), 2),
        "qty": None if rec.notional is not None else qty_text(Decimal(rec.qty)),
        "filled_qty": qty_text(filled), "filled_avg_price": num(avg),
        "order_class": "simple", "order_type": rec.type, "type": rec.type, "side": rec.side,
        # OpenAPI Order.position_intent (PositionIntent: buy_to_open, ..., sell_to_close)
        "position_intent": "buy_to_open" if rec.side == "buy" else "sell_to_close",
        "time_in_force": rec.time_in_force,
        "limit_price": None if rec.limit_price is None else num(Decimal(rec.limit_price)),
        "stop_price": None, "status": status, "extended_hours": rec.extended_hours,
        "legs": None, "trail_percent": None, "trail_price": None, "hwm": None,
        "subtag": None, "source": None,
    }


def asset_json(spec: SymbolSpec) -> dict[str, Any]:
    """An asset; enum values only from alpaca-py's AssetExchange/AssetStatus/AssetClass."""
    return {
        "id": asset_id(spec.symbol), "class": "us_equity", "exchange": exchange(spec.symbol),
        "symbol": spec.symbol, "name": f"{spec.symbol} (simulated)",
        "status": "active" if spec.tradable else "inactive", "tradable": spec.tradable,
        "marginable": True, "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30", "margin_requirement_short": "100",
        "shortable": False, "easy_to_borrow": False, "fractionable": spec.fractionable,
        "attributes": ["fractional_eh_enabled"] if spec.fractionable else [],
        "min_order_size": "0.000000001" if spec.fractionable else "1",
        "min_trade_increment": "0.000000001" if spec.fractionable else "1",
        "price_increment": "0.01" if spec.price >= 1 else "0.0001",
    }
