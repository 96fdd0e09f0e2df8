"""Parsing at the boundary: Alpaca's JSON (str/float/None) to Decimal and our enums."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import parse_decimal
from alchemiser_cli.domain.orders import (
    Account,
    Asset,
    MarketClock,
    Order,
    OrderStatus,
    OrderType,
    Position,
    TradeUpdate,
)
from alchemiser_cli.domain.quotes import Quote

_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET}


class ParseError(ValueError):
    """The broker sent something we cannot read; treated as an unknown state (fail closed)."""


def dec(raw: Any, field: str) -> Decimal:
    try:
        return parse_decimal(raw, field)
    except ValueError as exc:
        raise ParseError(str(exc)) from None


def opt_dec(raw: Any, field: str) -> Decimal | None:
    return None if raw in (None, "") else dec(raw, field)


def when(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if hasattr(raw, "to_datetime"):  # msgpack Timestamp from the data stream
        value: datetime = raw.to_datetime()
        return value
    if not isinstance(raw, str) or not raw:
        raise ParseError(f"bad timestamp {raw!r}")
    text = raw.replace("Z", "+00:00")
    if "." in text:  # Alpaca sends nanoseconds; Python keeps microseconds
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"bad timestamp {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def order(raw: dict[str, Any]) -> Order:
    try:
        kind = _TYPES.get(str(raw.get("type") or raw.get("order_type")))
        if kind is None:
            raise ParseError(f"unsupported order type {raw.get('type')!r}")
        return Order(
            id=str(raw["id"]),
            client_order_id=str(raw["client_order_id"]),
            symbol=str(raw["symbol"]),
            side=Side(str(raw["side"]).lower()),
            type=kind,
            qty=dec(raw.get("qty") or "0", "qty"),
            filled_qty=dec(raw.get("filled_qty") or "0", "filled_qty"),
            filled_avg_price=opt_dec(raw.get("filled_avg_price"), "filled_avg_price"),
            limit_price=opt_dec(raw.get("limit_price"), "limit_price"),
            status=OrderStatus.parse(str(raw["status"])),
            created_at=when(raw["created_at"]),
            updated_at=when(raw.get("updated_at") or raw["created_at"]),
        )
    except (KeyError, ValueError) as exc:
        raise ParseError(f"unreadable order: {exc}") from None


def position(raw: dict[str, Any]) -> Position:
    qty = dec(raw["qty"], "qty")
    if str(raw.get("side", "long")) == "short":
        qty = -abs(qty)
    return Position(str(raw["symbol"]), qty, dec(raw["avg_entry_price"], "avg_entry_price"),
                    opt_dec(raw.get("market_value"), "market_value"))


def account(raw: dict[str, Any]) -> Account:
    return Account(
        id=str(raw["id"]), status=str(raw["status"]),
        cash=dec(raw.get("cash"), "cash"), equity=dec(raw.get("equity"), "equity"),
        buying_power=dec(raw.get("buying_power"), "buying_power"),
        trading_blocked=bool(raw.get("trading_blocked")),
        account_blocked=bool(raw.get("account_blocked")),
        number=str(raw.get("account_number") or ""),
    )


def asset(raw: dict[str, Any]) -> Asset:
    return Asset(str(raw["symbol"]), bool(raw.get("tradable")), bool(raw.get("fractionable")),
                 str(raw.get("status", "")))


def clock(raw: dict[str, Any]) -> MarketClock:
    return MarketClock(when(raw["timestamp"]), bool(raw["is_open"]), when(raw["next_open"]),
                       when(raw["next_close"]))


def quote(symbol: str, raw: dict[str, Any]) -> Quote:
    return Quote(symbol, dec(raw.get("bp", 0), "bp"), dec(raw.get("ap", 0), "ap"),
                 dec(raw.get("bs", 0), "bs"), dec(raw.get("as", 0), "as"), when(raw["t"]))


def trade_update(raw: dict[str, Any]) -> TradeUpdate:
    """A trade_updates message; ``qty``/``price`` of a fill describe that execution only
    (Alpaca streaming docs; alpaca-py trading/models.py ``TradeUpdate``)."""
    data = raw.get("data", raw)
    execution = data.get("execution_id")
    return TradeUpdate(
        str(data["event"]), order(data["order"]), when(data["timestamp"]),
        qty=opt_dec(data.get("qty"), "qty"), price=opt_dec(data.get("price"), "price"),
        position_qty=opt_dec(data.get("position_qty"), "position_qty"),
        execution_id=None if execution in (None, "") else str(execution))
