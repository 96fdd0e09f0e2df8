"""From a plan and the account's actual state to trades. Pure and Decimal-only.

Target weights are of equity; ``cash_buffer`` of equity stays in cash. Sells
come first; buys are sized afterwards from cash actually realised
(:func:`fit_buys`). A weight of 0 is a full exit (close_type FULL, ends at 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from alchemiser_cli.domain.intents import CloseType, OrderIntent, Side, Urgency
from alchemiser_cli.domain.money import ZERO, quantize_qty
from alchemiser_cli.domain.plan import Plan

#: What the broker holds against buying power for a market buy while it is open, above the
#: ask: Alpaca values a market buy "2.5% to 4% above the current market price" for its
#: buying-power check (alpaca.markets/deprecated/docs/trading-on-alpaca/orders, "Buying
#: Power"); the upper end is taken. Buys walk concurrently and may all end as market
#: orders, so their holds must fit the buying power together.
MARKET_BUY_HOLD = Decimal("0.04")


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class MarketView:
    """What sizing needs to know about one symbol."""

    price: Decimal  # arrival mid
    bid: Decimal
    ask: Decimal
    fractionable: bool


@dataclass(frozen=True, slots=True)
class PlannedTrade:
    symbol: str
    action: Action
    current_qty: Decimal
    target_weight: Decimal
    current_weight: Decimal
    target_qty: Decimal
    qty: Decimal  # shares to trade (0 for HOLD)
    price: Decimal
    urgency: Urgency
    note: str = ""

    @property
    def notional(self) -> Decimal:
        return (self.qty * self.price).quantize(Decimal("0.01"))

    @property
    def side(self) -> Side | None:
        if self.action is Action.BUY:
            return Side.BUY
        if self.action in (Action.SELL, Action.CLOSE):
            return Side.SELL
        return None

    def intent(self) -> OrderIntent:
        side = self.side
        assert side is not None and self.qty > ZERO
        close = {Action.CLOSE: CloseType.FULL, Action.SELL: CloseType.PARTIAL}.get(
            self.action, CloseType.NONE)
        return OrderIntent(self.symbol, side, quantity=self.qty, close_type=close,
                           urgency=self.urgency)


def plan_trades(plan: Plan, equity: Decimal, positions: Mapping[str, Decimal],
                market: Mapping[str, MarketView]) -> list[PlannedTrade]:
    """Every managed symbol with its action; sells first, then buys, then holds."""
    if equity <= ZERO:
        raise ValueError("account equity is not positive; nothing to rebalance")
    investable = equity * (1 - plan.cash_buffer)
    symbols = set(plan.targets)
    if plan.sell_unlisted:
        symbols |= {s for s, q in positions.items() if q > ZERO}
    trades: list[PlannedTrade] = []
    for symbol in sorted(symbols):
        view = market[symbol]
        weight = plan.targets.get(symbol, ZERO)
        current = positions.get(symbol, ZERO)
        current_weight = (current * view.price / equity).quantize(Decimal("0.0001"))
        target = quantize_qty(weight * investable / view.price, view.fractionable)
        delta = target - current
        base = PlannedTrade(symbol, Action.HOLD, current, weight, current_weight, target, ZERO,
                            view.price, plan.urgency_for(symbol))
        if weight == ZERO and current > ZERO:
            note = "not in plan" if symbol not in plan.targets else "full exit"
            trades.append(replace(base, action=Action.CLOSE, qty=current, target_qty=ZERO,
                                  note=note))
            continue
        if delta == ZERO:
            trades.append(replace(base, note="on target"))
            continue
        effective_weight = weight * (1 - plan.cash_buffer)  # the buffer is not invested
        if abs(effective_weight - current * view.price / equity) < plan.drift_threshold:
            trades.append(replace(base, note="within drift threshold"))
            continue
        if abs(delta) * view.price < plan.min_order_notional:
            trades.append(replace(base, note="below minimum order"))
            continue
        qty = quantize_qty(abs(delta), view.fractionable)  # whole shares where required
        if qty == ZERO:
            trades.append(replace(base, note="less than one whole share"))
            continue
        if delta < ZERO:
            action = Action.CLOSE if qty == current else Action.SELL
            trades.append(replace(base, action=action, qty=qty))
        else:
            trades.append(replace(base, action=Action.BUY, qty=qty))
    order = {Action.CLOSE: 0, Action.SELL: 0, Action.BUY: 1, Action.HOLD: 2}
    return sorted(trades, key=lambda t: (order[t.action], t.symbol))


def hold_factor(reserve: Decimal) -> Decimal:
    """Of each dollar of buying power, what buys sized with ``reserve`` may be given so that
    their market orders' holds (:data:`MARKET_BUY_HOLD`) still fit it."""
    return (1 + reserve) / (1 + max(reserve, MARKET_BUY_HOLD))


def cash_for_buys(cash: Decimal, buying_power: Decimal, equity: Decimal, cash_buffer: Decimal,
                  reserve: Decimal) -> Decimal:
    """What buys may cost (at the ask plus ``reserve``): ``min(cash, buying_power)`` less the
    cash buffer, and no more than the broker's holds on their market orders allow."""
    power = min(cash, buying_power)
    return min(power - cash_buffer * equity, power * hold_factor(reserve))


def fit_buys(buys: Sequence[PlannedTrade], available_cash: Decimal,
             market: Mapping[str, MarketView], reserve: Decimal,
             min_notional: Decimal) -> list[PlannedTrade]:
    """Scale buys down (never up) so their cost at the ask plus ``reserve`` fits the cash.

    Fails closed: with no cash available every buy is dropped to HOLD with a note.
    """
    def cost(trade: PlannedTrade) -> Decimal:
        return trade.qty * market[trade.symbol].ask * (1 + reserve)

    needed = sum((cost(t) for t in buys), ZERO)
    if needed <= available_cash:
        return list(buys)
    scale = max(available_cash, ZERO) / needed if needed > ZERO else ZERO
    fitted: list[PlannedTrade] = []
    for trade in buys:
        qty = quantize_qty(trade.qty * scale, market[trade.symbol].fractionable)
        if qty <= ZERO or qty * trade.price < min_notional:
            fitted.append(replace(trade, action=Action.HOLD, qty=ZERO,
                                  note="no cash left after sells"))
        else:
            fitted.append(replace(trade, qty=qty, note=f"scaled to {scale:.1%} for cash"))
    return fitted


def turnover(trades: Sequence[PlannedTrade]) -> Decimal:
    return sum((t.notional for t in trades if t.action is not Action.HOLD), ZERO)
