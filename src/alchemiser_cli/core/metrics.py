"""Execution metrics from the journal, across runs. Pure: events in, figures out.

Besides rates and slippage, two measures of fill quality per walk step (and for market
orders), the same ones ``make bench`` reports, so paper and live runs can be held
against the simulator:

- **E/Q**, effective over quoted spread, as in Rule 605: ``2 * (fill - mid) / spread``
  for a buy (mirrored for a sell), against the quote that priced the order. 1 is the far
  touch, 0 the midpoint; a limit filled at the near touch is -1.
- **Mark-out**: how far the mid moved ``execution.markout_seconds`` after a fill,
  against the fill price, in bps; negative means the price moved against the fill
  (adverse selection).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

STEP_LABELS = ("1", "2", "3", "4", "market")


def step_label(order_type: str, step: int, ratio: object) -> str:
    """'1', '2', ... for limit steps; 'market'; 'marketable' for the collared final limit."""
    if order_type == "market":
        return "market"
    return "marketable" if ratio is None else str(step)


@dataclass(frozen=True, slots=True)
class Metrics:
    runs: int = 0
    quote_requests: int = 0
    streamed: int = 0
    rest_fallback: int = 0
    unusable: int = 0
    problems: Mapping[str, int] = field(default_factory=dict)  # zero_bid, stale, crossed...
    orders: int = 0
    orders_filled: int = 0
    fills_by_step: Mapping[str, int] = field(default_factory=dict)
    median_seconds_to_fill: float | None = None
    slippage_bps_mean: Decimal | None = None
    slippage_bps_median: Decimal | None = None
    slippage_bps_weighted: Decimal | None = None
    validations: int = 0
    validations_passed: int = 0
    eq_by_step: Mapping[str, Decimal] = field(default_factory=dict)  # mean E/Q of fills
    eq_fills_by_step: Mapping[str, int] = field(default_factory=dict)
    markout_bps_by_step: Mapping[str, Decimal] = field(default_factory=dict)
    markout_seconds: tuple[float, ...] = ()  # the horizons seen

    def rate(self, part: int, whole: int) -> float | None:
        return None if whole == 0 else round(part / whole, 4)

    @property
    def streaming_success_rate(self) -> float | None:
        return self.rate(self.streamed, self.quote_requests)

    @property
    def rest_fallback_rate(self) -> float | None:
        return self.rate(self.rest_fallback, self.quote_requests)

    @property
    def unusable_rate(self) -> float | None:
        return self.rate(self.unusable, self.quote_requests)

    @property
    def validation_pass_rate(self) -> float | None:
        return self.rate(self.validations_passed, self.validations)

    def to_dict(self) -> dict[str, Any]:
        def d(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "runs": self.runs, "quote_requests": self.quote_requests,
            "streaming_success_rate": self.streaming_success_rate,
            "rest_fallback_rate": self.rest_fallback_rate, "unusable_rate": self.unusable_rate,
            "quote_problems": dict(self.problems), "orders": self.orders,
            "orders_filled": self.orders_filled, "fills_by_step": dict(self.fills_by_step),
            "median_seconds_to_fill": self.median_seconds_to_fill,
            "slippage_bps_mean": d(self.slippage_bps_mean),
            "slippage_bps_median": d(self.slippage_bps_median),
            "slippage_bps_notional_weighted": d(self.slippage_bps_weighted),
            "validations": self.validations, "validation_pass_rate": self.validation_pass_rate,
            "eq_by_step": {k: str(v) for k, v in self.eq_by_step.items()},
            "eq_fills_by_step": dict(self.eq_fills_by_step),
            "markout_bps_by_step": {k: str(v) for k, v in self.markout_bps_by_step.items()},
            "markout_seconds": list(self.markout_seconds),
        }


def compute(events: Iterable[Mapping[str, Any]], runs: int) -> Metrics:
    """Aggregate journal events (as stored: plain JSON) into :class:`Metrics`.

    A quote *request* ends in one final quote event: a usable streamed quote, or the
    REST (or missing) quote that followed; an unusable streamed quote before a REST
    fallback is an intermediate event, counted only in the problem counters.
    """
    requests = streamed = rest = unusable = 0
    problems: Counter[str] = Counter()
    fills: Counter[str] = Counter({label: 0 for label in ("1", "2", "3", "market")})
    to_fill: list[float] = []
    slips: list[Decimal] = []
    weighted_num = weighted_den = Decimal(0)
    orders = filled_orders = validations = passed = 0
    priced: dict[str, Mapping[str, Any]] = {}  # client_order_id -> its order_submitting
    intents: set[str] = set()  # intents that sent at least one order
    eqs: dict[str, list[Decimal]] = {}
    markouts: dict[str, list[Decimal]] = {}
    horizons: set[float] = set()
    for e in events:
        kind = e.get("event")
        if kind == "quote":
            if e.get("zero_bid"):
                problems["zero_bid"] += 1
            if e.get("zero_ask"):
                problems["zero_ask"] += 1
            if e.get("problem"):
                problems[str(e["problem"])] += 1
            if e["source"] == "stream" and e.get("problem"):
                continue  # the REST quote that follows is the request's outcome
            requests += 1
            if e.get("problem"):
                unusable += 1
            elif e["source"] == "stream":
                streamed += 1
            else:
                rest += 1
        elif kind == "order_submitting":
            priced[str(e["client_order_id"])] = e
            # alch-<run>-<SYMBOL>-<step>: one intent per run and symbol, whatever its steps
            intents.add(str(e["client_order_id"]).rsplit("-", 1)[0])
        elif kind == "step" and Decimal(e["filled_qty"]) > 0:
            label = step_label(e["order_type"], e["step"], e.get("ratio", ""))
            fills[label] += 1
            eq = _eq(priced.get(str(e.get("client_order_id"))), e.get("avg_price"))
            if eq is not None:
                eqs.setdefault(label, []).append(eq)
        elif kind == "markout":
            label = step_label(e["order_type"], e["step"], e.get("ratio"))
            markouts.setdefault(label, []).append(Decimal(e["markout_bps"]))
            horizons.add(float(e["horizon_seconds"]))
        elif kind == "execution" and e.get("status") != "not_placed":
            orders += 1
            if e["status"] == "filled":
                filled_orders += 1
                to_fill.append(float(e["seconds"]))
            if e.get("slippage_bps") is not None and e.get("avg_price") is not None:
                slip = Decimal(e["slippage_bps"])
                notional = Decimal(e["filled_qty"]) * Decimal(e["avg_price"])
                slips.append(slip)
                weighted_num += slip * notional
                weighted_den += notional
        elif kind == "validation":
            validations += 1
            passed += bool(e.get("passed"))
    q = Decimal("0.01")
    return Metrics(
        runs=runs, quote_requests=requests, streamed=streamed, rest_fallback=rest,
        # a run killed mid-walk leaves intents that sent orders but never reported an outcome:
        # they count as placed (and, never filled as far as the journal knows, as failed)
        unusable=unusable, problems=dict(sorted(problems.items())),
        orders=max(orders, len(intents)),
        orders_filled=filled_orders, fills_by_step=dict(fills),
        median_seconds_to_fill=round(statistics.median(to_fill), 3) if to_fill else None,
        slippage_bps_mean=(sum(slips, Decimal(0)) / len(slips)).quantize(q) if slips else None,
        slippage_bps_median=Decimal(statistics.median(slips)).quantize(q) if slips else None,
        slippage_bps_weighted=(weighted_num / weighted_den).quantize(q) if weighted_den else None,
        validations=validations, validations_passed=passed,
        eq_by_step={k: _mean(v, Decimal("0.001")) for k, v in _ordered(eqs)},
        eq_fills_by_step={k: len(v) for k, v in _ordered(eqs)},
        markout_bps_by_step={k: _mean(v, q) for k, v in _ordered(markouts)},
        markout_seconds=tuple(sorted(horizons)),
    )


def _eq(submitted: Mapping[str, Any] | None, avg_price: object) -> Decimal | None:
    """E/Q of one filled order against the quote that priced it (None without one)."""
    if submitted is None or avg_price is None or submitted.get("bid") is None \
            or submitted.get("ask") is None:
        return None
    bid, ask = Decimal(submitted["bid"]), Decimal(submitted["ask"])
    if ask <= bid:
        return None
    sign = 1 if submitted["side"] == "buy" else -1
    return 2 * sign * (Decimal(str(avg_price)) - (bid + ask) / 2) / (ask - bid)


def _mean(values: list[Decimal], places: Decimal) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(places)


def _ordered(by_label: Mapping[str, list[Decimal]]) -> list[tuple[str, list[Decimal]]]:
    def key(label: str) -> tuple[int, str]:
        return (int(label), "") if label.isdigit() else (10**6, label)

    return sorted(by_label.items(), key=lambda item: key(item[0]))

