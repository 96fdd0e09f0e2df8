"""Alpaca's per-account request limit: 200 requests in any 60 s, per API.

Every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (epoch seconds); a request over the limit gets 429
(alpaca.markets/support/usage-limit-api-calls: 200 a minute per account; the headers on
"All Trading API responses": forum.alpaca.markets t/12029; Reset is "The UNIX epoch when
the remaining quota changes": OpenAPI trading-api.json ``components.headers``). Market
data has its own limit (200/min on the free plan: docs.alpaca.markets/docs/
about-market-data-api).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class QuotaAnswer:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the next slot frees up

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


class RequestQuota:
    """A sliding window per (account, API); ``per_minute`` may be changed at run time."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: dict[tuple[str, str], deque[float]] = {}

    def take(self, account: str, api: str) -> QuotaAnswer:
        now = self._clock()
        sent = self._sent.setdefault((account, api), deque())
        while sent and sent[0] <= now - WINDOW_SECONDS:
            sent.popleft()
        allowed = len(sent) < self.per_minute
        if allowed:
            sent.append(now)
        reset = math.ceil((sent[0] if sent else now) + WINDOW_SECONDS)
        return QuotaAnswer(allowed, self.per_minute, max(self.per_minute - len(sent), 0), reset)

    def clear(self) -> None:
        self._sent.clear()
