"""How orders meet the simulated market: contra flow, queues, adverse selection and
price improvement.

- A **market order** (or a limit that is marketable when it arrives) trades at the
  quote it arrives at, at the far touch minus price improvement: it pays ``E/Q`` times
  the half-spread over the mid (``market_eq`` of its class), except orders under one
  share, which Alpaca fills itself at the NBBO (E/Q = 1: "The expected price of fill is
  the NBBO quote", fractional shares "executed ... on a principal or riskless principal
  basis", alpaca-docs content/trading/fractional-trading.md). The fill is reported on the
  next tick.
- A **resting limit** has a queue position. Joining the touch puts it at the back of the
  displayed queue; a price inside the spread becomes the new touch with nobody ahead,
  until someone improves on it (penny jumping). The market's marketable flow on the
  other side (the same flow that moves the efficient price: ``market.py``) eats the
  queue ahead first; orders ahead also cancel. When the market moves through the
  limit, it fills at its price.
- Adverse selection comes from that flow (the sells that fill a bid push the price
  down) and, on top, a move of the efficient price against each fill by contra flow.

Everything here is a pure function of its arguments; the broker keeps the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from alchemiser_cli.brokers.sim.market import ClassParams, Draws, Touch
from alchemiser_cli.domain.money import SUB_PENNY, tick_for

ONE_SHARE = Decimal(1)


class Where(StrEnum):
    """A resting order's place relative to the public quote."""

    INSIDE = "inside"  # better than the public touch: it is the touch
    TOUCH = "touch"  # at the public touch, behind the queue already there
    BEHIND = "behind"  # behind the touch: contra flow never reaches it
    TAKER = "taker"  # marketable when it arrived: trades like a market order within its limit


@dataclass(slots=True)
class QueueState:
    """What the matching engine remembers about one order."""

    ahead: float  # shares ahead of it at its price (or better, after a penny jump)
    where: Where
    #: A taker's price, fixed from the quote it met on arrival (it is reported a tick later).
    price: Decimal | None = None

    def to_json(self) -> list[object]:
        return [repr(self.ahead), self.where.value, None if self.price is None else str(self.price)]

    @classmethod
    def from_json(cls, raw: list[object]) -> QueueState:
        price = raw[2] if len(raw) > 2 else None
        return cls(float(str(raw[0])), Where(str(raw[1])),
                   None if price is None else Decimal(str(price)))


@dataclass(frozen=True, slots=True)
class Execution:
    qty: Decimal
    price: Decimal
    adverse: bool  # filled by a contra order: the efficient price moves against the fill


def taker_price(buy: bool, touch: Touch, qty: Decimal, eq: float) -> Decimal:
    """Fill price of a market order: ``mid ± E/Q × half-spread``, on the $0.0001 grid.

    Price improvement can be sub-penny (it is reported that way under Rule 605); the
    rounding is toward the far touch, so the model never flatters a market order.
    """
    q = Decimal(1) if qty < ONE_SHARE else Decimal(repr(eq))
    offset = (touch.ask - touch.bid) / 2 * q
    if buy:
        return min((touch.mid + offset).quantize(SUB_PENNY, rounding=ROUND_CEILING), touch.ask)
    return max((touch.mid - offset).quantize(SUB_PENNY, rounding=ROUND_FLOOR), touch.bid)


def classify(buy: bool, limit: Decimal, touch: Touch) -> Where:
    near = touch.bid if buy else touch.ask
    if limit == near:
        return Where.TOUCH
    better = limit > near if buy else limit < near
    return Where.INSIDE if better else Where.BEHIND


def crosses(buy: bool, limit: Decimal, touch: Touch) -> bool:
    return limit >= touch.ask if buy else limit <= touch.bid


def arrive(buy: bool, limit: Decimal | None, qty: Decimal, touch: Touch, params: ClassParams,
           draws: Draws) -> QueueState:
    """The state of an order that has just arrived: a market order, or a limit that
    crosses, takes at once (at a price fixed now); any other limit joins a queue."""
    if limit is None or crosses(buy, limit, touch):
        price = taker_price(buy, touch, qty, params.market_eq)
        if limit is not None:
            price = min(price, limit) if buy else max(price, limit)
        return QueueState(0.0, Where.TAKER, price)
    where = classify(buy, limit, touch)
    if where is Where.INSIDE:
        return QueueState(0.0, where)
    low, high = params.queue_depth
    displayed = touch.bid_size if buy else touch.ask_size
    # at the touch: behind everything displayed; behind it: a level of similar depth
    ahead = displayed if where is Where.TOUCH else low + (high - low) * draws.random()
    return QueueState(ahead, where)


def match_resting(buy: bool, limit: Decimal, remaining: Decimal, touch: Touch,
                  queue: QueueState, params: ClassParams, dt: float, draws: Draws,
                  contra_volume: float) -> Execution | None:
    """One tick of a resting limit: update ``queue`` in place, return a fill or None.

    ``contra_volume``: the marketable volume that arrived on the other side since the last
    tick (the same flow that moved the efficient price). A limit the market has moved
    through fills at its price: the whole queue at that price has traded. (Excursions
    through the limit *between* two ticks are not filled: that would be first-passage
    filling, which real queues do not deliver; see bench/README.md.)
    """
    if crosses(buy, limit, touch):
        return Execution(remaining, limit, adverse=False)  # the market moved through it
    where = classify(buy, limit, touch)
    if where is Where.INSIDE and queue.where is not Where.INSIDE:
        queue.ahead = 0.0  # the orders that shared its price are gone: it is the touch
    queue.where = where
    queue.ahead *= math.exp(-params.queue_cancel_rate_per_second * dt)
    if where is Where.BEHIND:
        return None
    if where is Where.INSIDE and params.penny_jump_rate_per_second > 0:
        step = tick_for(limit)
        room = limit + step < touch.ask if buy else limit - step > touch.bid
        if room and draws.random() < 1 - math.exp(-params.penny_jump_rate_per_second * dt):
            queue.ahead += max(1.0, draws.exponential(params.contra_size_mean))
    if contra_volume <= 0:
        return None
    reach = contra_volume - queue.ahead
    queue.ahead = max(0.0, queue.ahead - contra_volume)
    if reach <= 0:
        return None
    if reach >= remaining:
        return Execution(remaining, limit, adverse=True)
    qty = Decimal(math.floor(reach))  # contra orders are whole shares
    return Execution(qty, limit, adverse=True) if qty > 0 else None


def adverse_move(buy: bool, touch: Touch, params: ClassParams) -> float:
    """How far the efficient price moves after a passive fill of this side (signed)."""
    half = float(touch.ask - touch.bid) / 2
    move = params.adverse_selection_half_spreads * half
    return -move if buy else move
