"""The simulator's matching engine: the market and the matching rules applied to the
open orders, tick by tick.

The broker owns the orders and their lifecycle; this engine decides *whether, how much
and at what price* an open order fills on a tick, calls the broker's ``fill`` (the single
entry point for an execution), and then applies the fill's effects on the market
(adverse selection, the queue it consumed). It looks at open orders only, so a tick
costs O(open orders), never O(orders ever placed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_FLOOR, Decimal

from alchemiser_cli.brokers.sim.lifecycle import AWAITING_ROUTE
from alchemiser_cli.brokers.sim.market import Draws, Market, SymbolSpec
from alchemiser_cli.brokers.sim.matching import (
    Execution,
    QueueState,
    Where,
    adverse_move,
    arrive,
    match_resting,
)
from alchemiser_cli.brokers.sim.state import SimFaults, SimOrderRecord
from alchemiser_cli.domain.money import FRACTIONAL_STEP, ZERO

Fill = Callable[[SimOrderRecord, Decimal, Decimal], None]


class MatchingEngine:
    def __init__(self, market: Market, queues: dict[str, QueueState], seed: int,
                 spec: Callable[[str], SymbolSpec]) -> None:
        self.market = market
        self.queues = queues  # persisted with the simulator state (open orders only)
        self._seed = seed
        self._spec = spec

    def arrived(self, rec: SimOrderRecord, tick: int) -> None:
        """A new order meets the market: a taker's price is fixed by the quote it arrives
        at (it fills on the next tick); a resting limit gets its queue position."""
        spec = self._spec(rec.symbol)
        self.queues[rec.id] = arrive(
            rec.side == "buy", None if rec.limit_price is None else Decimal(rec.limit_price),
            Decimal(rec.qty), self.market.touch(spec, tick),
            self.market.model.params(spec.liquidity), Draws(self._seed, "arrive", rec.id, tick))

    def tick(self, orders: Iterable[SimOrderRecord], tick: int, dt: float, faults: SimFaults,
             fill: Fill, is_open: Callable[[str], bool]) -> None:
        """Match each open order once. ``dt``: seconds since the last tick."""
        for rec in list(orders):
            if self.can_fill(rec, faults):
                self._match(rec, tick, dt, faults, fill)
                if not is_open(rec.id):
                    self.queues.pop(rec.id, None)

    @staticmethod
    def can_fill(rec: SimOrderRecord, faults: SimFaults) -> bool:
        """Working orders fill, pending_cancel included (a cancel takes effect later), but
        not a cancel stuck by the fault, an order not yet routed, or a halted symbol."""
        return not (rec.cancel_stuck or rec.status in AWAITING_ROUTE
                    or rec.symbol in faults.halted)

    def _match(self, rec: SimOrderRecord, tick: int, dt: float, faults: SimFaults,
               fill: Fill) -> None:
        spec = self._spec(rec.symbol)
        params = self.market.model.params(spec.liquidity)
        touch = self.market.touch(spec, tick)
        buy = rec.side == "buy"
        qty = Decimal(rec.qty)
        remaining = qty - Decimal(rec.filled_qty)
        draws = Draws(self._seed, "match", rec.id, tick)
        limit = None if rec.limit_price is None else Decimal(rec.limit_price)
        if limit is not None and not faults.limit_fills:
            return  # the fault: no limit order fills, marketable or not
        queue = self.queues.get(rec.id)
        if queue is None:  # not seen on arrival (placed by an earlier process): arrives now
            queue = self.queues[rec.id] = arrive(buy, limit, qty, touch, params, draws)
        if queue.where is Where.TAKER:
            price = queue.price
            if price is None:  # the rest of a partly filled taker: at the quote it meets now
                fresh = arrive(buy, limit, qty, touch, params, draws)
                if fresh.where is not Where.TAKER:  # a limit the market moved away from: rests
                    self.queues[rec.id] = fresh
                    return
                price = fresh.price
            assert price is not None
            queue.price = None  # a remainder (after a partial fill) trades at a later quote
            execution = Execution(remaining, price, adverse=False)
        else:
            assert limit is not None
            flow = self.market.state(spec, tick)
            found = match_resting(buy, limit, remaining, touch, queue, params, dt, draws,
                                  flow.sell_flow if buy else flow.buy_flow)
            if found is None:
                return
            execution = found
        fill_qty = execution.qty
        if faults.partial_probability is not None and draws.random() < faults.partial_probability:
            fill_qty = partial(fill_qty, 0.1 + 0.8 * draws.random())
        fill(rec, fill_qty, execution.price)
        if execution.adverse:
            self.market.shift(spec, tick, adverse_move(buy, touch, params))


def partial(remaining: Decimal, fraction: float) -> Decimal:
    """``fraction`` of ``remaining``, rounded down to whole shares (or the fractional
    step); all of it when it is too small to split."""
    raw = remaining * Decimal(str(round(fraction, 4)))
    step = Decimal(1) if remaining % 1 == 0 else FRACTIONAL_STEP
    qty = (raw / step).to_integral_value(rounding=ROUND_FLOOR) * step
    return qty if ZERO < qty < remaining else remaining
