"""The simulator's account, clock, asset and position reads (mixed into SimBroker).

Position reads leave out fills still lagging (fault ``position_lag_seconds``); buying power
follows the account type (fault ``margin_multiplier``); the clock's next open and close
come from the market calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from alchemiser_cli.brokers.port import NotFoundError
from alchemiser_cli.brokers.sim.calendar import next_open_close
from alchemiser_cli.brokers.sim.market import generated_symbol, spec_for_generated
from alchemiser_cli.brokers.sim.state import market_open
from alchemiser_cli.domain.money import ZERO
from alchemiser_cli.domain.orders import Account, Asset, MarketClock, Position

if TYPE_CHECKING:
    from alchemiser_cli.brokers.sim.market import SymbolSpec
    from alchemiser_cli.brokers.sim.state import SimState
    from alchemiser_cli.clock import Clock


#: Generated benchmark symbols (S0001...) the asset list shows.
LISTED_GENERATED = 250

class AccountReads:
    if TYPE_CHECKING:
        state: SimState
        _clock: Clock
        _specs: dict[str, SymbolSpec]

        def spec(self, symbol: str) -> SymbolSpec | None: ...
        def mid(self, symbol: str) -> Decimal: ...
        def _call(self, *, read: bool) -> None: ...
        def _after_call(self) -> None: ...
        def _reserved_cash(self) -> Decimal: ...
        def visible_position(self, symbol: str) -> tuple[Decimal, Decimal]: ...

    def long_market_value(self) -> Decimal:
        return sum((Decimal(p.qty) * self.mid(sym) for sym, p in self.state.positions.items()),
                   ZERO)

    def buying_power(self) -> Decimal:
        """Cash account: cash less open buys. Margin (``margin_multiplier`` m > 1): RegT-like
        ``m × equity − long market value`` less open buys, so it exceeds the cash.

        Alpaca's OpenAPI Account.buying_power: "If multiplier = 2, buying_power =
        max(equity - initial_margin,0) * 2; If multiplier = 1, buying_power = cash" (the same
        for m = 2 with a 50% initial margin); open buys reduce it (alpaca-docs orders.md
        "Buying Power")."""
        cash = Decimal(self.state.cash)
        multiplier = Decimal(self.state.faults.margin_multiplier)
        base = cash if multiplier == 1 else (
            multiplier * (cash + self.long_market_value()) - self.long_market_value())
        return base - self._reserved_cash()

    async def get_account(self) -> Account:
        self._call(read=True)
        try:
            cash = Decimal(self.state.cash)
            return Account(
                id="sim-account",
                status="ACTIVE",
                cash=cash,
                equity=cash + self.long_market_value(),
                buying_power=self.buying_power(),
                trading_blocked=self.state.faults.account_blocked,
                account_blocked=False,
                number="SIMULATOR",
            )
        finally:
            self._after_call()

    async def get_clock(self) -> MarketClock:
        self._call(read=True)
        try:
            now = self._clock.now()
            next_open, next_close = next_open_close(now)
            return MarketClock(now, market_open(self.state.faults, now), next_open, next_close)
        finally:
            self._after_call()

    def _asset(self, symbol: str) -> Asset | None:
        spec = self.spec(symbol)
        if spec is None:
            return None
        return Asset(symbol, spec.tradable, spec.fractionable,
                     "active" if spec.tradable else "inactive")

    async def get_asset(self, symbol: str) -> Asset:
        self._call(read=True)
        try:
            asset = self._asset(symbol)
            if asset is None:
                raise NotFoundError(f"asset {symbol} not found", status=404, code=40410000)
            return asset
        finally:
            self._after_call()

    async def get_assets(self, symbols: Sequence[str]) -> dict[str, Asset]:
        self._call(read=True)
        try:
            found = {s: self._asset(s) for s in symbols}
            return {s: a for s, a in found.items() if a is not None}
        finally:
            self._after_call()

    def listed_specs(self) -> list[SymbolSpec]:
        """Every listed asset: the universe and the first generated benchmark symbols
        (S0001-S0250; any other S#### still answers on its own, like an unlisted asset)."""
        generated = (spec_for_generated(generated_symbol(i))
                     for i in range(1, LISTED_GENERATED + 1))
        specs = {s.symbol: s for s in generated if s is not None}
        specs.update(self._specs)
        return [specs[s] for s in sorted(specs)]

    async def get_positions(self) -> list[Position]:
        self._call(read=True)
        try:
            symbols = sorted(set(self.state.positions) | {f.symbol for f in self.state.lagged_fills})
            return [p for p in (self._position(s) for s in symbols) if p is not None]
        finally:
            self._after_call()

    async def get_position(self, symbol: str) -> Position | None:
        self._call(read=True)
        try:
            return self._position(symbol)
        finally:
            self._after_call()

    def _position(self, symbol: str) -> Position | None:
        qty, cost = self.visible_position(symbol)
        if qty == ZERO:
            return None
        return Position(symbol, qty, cost / qty, qty * self.mid(symbol))
