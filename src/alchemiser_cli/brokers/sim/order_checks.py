"""What the simulator checks before it accepts an order, in Alpaca's words.

Sources ("spec" is Alpaca's OpenAPI trading-api.json): sub-penny prices, 422/42210000
(alpaca-trade-api-go#260, alpaca-trade-api-csharp#497); time in force (spec TimeInForce:
day, gtc, opg, cls, ioc, fok); extended hours only for limit orders (spec postOrder
extended_hours); fractionable assets, qty xor notional (400), up to 9 decimals, $1 minimum
and DAY-only fractional/notional orders (alpaca-docs content/trading/fractional-trading.md;
422: Petersoj/alpaca-java#140); insufficient qty (403/40310000, Alpaca-API#282) or buying
power (alpaca-py#225); wash trades (403/40310000, forum.alpaca.markets t/13817;
422/42210000, Petersoj/alpaca-java#145). Wash trades here are any open opposite-side
order (forum t/18200), stricter than Alpaca's docs, which refuse opposing limits only when
they cross (alpacahq/alpaca-skills skills/broker-api/trading-orders/SKILL.md §6).
Wordings not found in a source are the emulator's (the $1 minimum, 9 decimals, 400 text);
SKILL.md §6 gives 422 for a buy under $1, where this answers 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from alchemiser_cli.brokers.port import OrderRejectedError
from alchemiser_cli.brokers.sim.state import SimOrderRecord, SimState
from alchemiser_cli.domain.intents import Side
from alchemiser_cli.domain.money import FRACTIONAL_STEP, ZERO, is_valid_tick
from alchemiser_cli.domain.orders import OrderRequest, OrderType

if TYPE_CHECKING:
    from alchemiser_cli.brokers.sim.market import SymbolSpec

WHOLE_SHARE_TIFS = frozenset({"day", "gtc", "ioc", "fok", "opg", "cls"})
MIN_NOTIONAL = Decimal(1)


class InsufficientBuyingPowerError(OrderRejectedError):
    """Alpaca's 403 carries the account's buying power and the order's cost (alpaca-py#225)."""

    def __init__(self, buying_power: Decimal, cost_basis: Decimal) -> None:
        super().__init__("insufficient buying power", status=403, code=40310000)
        self.buying_power = buying_power
        self.cost_basis = cost_basis


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """Everything an Alpaca order POST can say that the simulator supports."""

    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    time_in_force: str = "day"
    client_order_id: str | None = None
    extended_hours: bool = False

    @classmethod
    def from_request(cls, request: OrderRequest) -> OrderSpec:
        return cls(request.symbol, request.side, request.type, request.qty,
                   limit_price=request.limit_price, client_order_id=request.client_order_id)


def reject(message: str, status: int = 422, code: int = 42210000) -> OrderRejectedError:
    return OrderRejectedError(message, status=status, code=code)


class OrderChecks:
    """Mixed into the simulator: validates a submission before it is placed."""

    if TYPE_CHECKING:
        state: SimState

        def spec(self, symbol: str) -> SymbolSpec | None: ...
        def true_touch(self, symbol: str) -> tuple[Decimal, Decimal]: ...
        def _open_qty(self, symbol: str, side: Side) -> Decimal: ...
        def buying_power(self) -> Decimal: ...

    def _validate(self, spec: OrderSpec, replaces: SimOrderRecord | None) -> Decimal:
        """Alpaca's checks, in Alpaca's words; returns the share quantity."""
        info = self.spec(spec.symbol)
        if info is None:
            raise reject(f"asset {spec.symbol} not found", code=40010001)
        if not info.tradable:
            raise reject(f"asset {spec.symbol} is not tradable")
        if (spec.qty is None) == (spec.notional is None):
            raise OrderRejectedError("qty or notional is required, not both", status=400,
                                     code=40010001)
        tif = spec.time_in_force
        if tif not in WHOLE_SHARE_TIFS:
            raise reject(f"invalid time_in_force {tif}", code=40010001)
        if spec.type is OrderType.LIMIT and (
                spec.limit_price is None or not is_valid_tick(spec.limit_price)):
            raise reject(f"invalid limit_price {spec.limit_price}. sub-penny increment does not "
                          "fulfill minimum pricing criteria")
        # spec postOrder extended_hours: "Only works with type limit and time_in_force set
        # to either day or gtc" (the older alpaca-docs orders.md allowed day only)
        if spec.extended_hours and (spec.type is not OrderType.LIMIT or tif not in ("day", "gtc")):
            raise reject("extended hours orders must be limit orders with time_in_force day or gtc")
        bid, ask = self.true_touch(spec.symbol)
        if spec.notional is not None:
            if spec.notional < MIN_NOTIONAL:
                raise reject("notional must be at least $1", status=403, code=40310000)
            price = spec.limit_price or (ask if spec.side is Side.BUY else bid)
            qty = (spec.notional / price / FRACTIONAL_STEP).to_integral_value(ROUND_FLOOR) \
                * FRACTIONAL_STEP
        else:
            assert spec.qty is not None
            qty = spec.qty
        if qty <= ZERO:
            raise reject("qty must be > 0", code=40010001)
        fractional = spec.notional is not None or qty % 1 != 0
        if fractional and not info.fractionable:
            raise reject("requested asset is not fractionable")
        if fractional and tif != "day":
            raise reject("fractional orders must be DAY orders")
        if qty % FRACTIONAL_STEP:
            raise reject("qty has more than 9 decimals", code=40010001)
        faults = self.state.faults
        if spec.symbol in faults.reject_symbols:
            raise reject("simulated rejection", status=403, code=40310000)
        self._check_wash_trade(spec, replaces)
        if spec.side is Side.SELL:
            held = self.state.position_qty(spec.symbol) - self._open_qty(spec.symbol, Side.SELL)
            if replaces is not None:
                held += Decimal(replaces.qty) - Decimal(replaces.filled_qty)
            if qty > held:
                raise reject(f"insufficient qty available for order (requested: {qty}, "
                              f"available: {held})", status=403, code=40310000)
        else:
            limit = spec.limit_price if spec.type is OrderType.LIMIT else None
            # a market buy is valued "2.5% to 4% above the current market price" (alpacahq/
            # alpaca-docs content/trading/orders.md "Buying Power"); 3% sits in that range
            cost = qty * (limit if limit is not None else ask * Decimal("1.03"))
            power = self.buying_power()
            if replaces is not None and replaces.limit_price:
                power += (Decimal(replaces.qty) - Decimal(replaces.filled_qty)) \
                    * Decimal(replaces.limit_price)
            if cost > power:
                raise InsufficientBuyingPowerError(power, cost)
        return qty

    def _check_wash_trade(self, spec: OrderSpec, replaces: SimOrderRecord | None) -> None:
        opposite = Side.SELL if spec.side is Side.BUY else Side.BUY
        for rec in self.state.order_table.open_on(spec.symbol):
            if rec.side == opposite.value and rec is not replaces:
                if self.state.faults.wash_trade_422:
                    raise reject("potential wash trade detected. use complex orders")
                raise reject("potential wash trade detected. use complex orders", status=403,
                              code=40310000)
