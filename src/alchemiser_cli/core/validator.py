"""Portfolio validator: poll the position until it matches what the fills imply.

A full close must end at exactly zero. A position that cannot be read, or does
not converge before the timeout, fails the check (and with it the order).
"""

from __future__ import annotations

from decimal import Decimal

from alchemiser_cli.brokers.port import Broker, BrokerError
from alchemiser_cli.clock import Clock
from alchemiser_cli.domain.events import Observer, ValidationDone
from alchemiser_cli.domain.money import ZERO, normalize
from alchemiser_cli.domain.results import ValidationResult


class PortfolioValidator:
    def __init__(self, broker: Broker, clock: Clock, emit: Observer, *, tolerance: Decimal,
                 timeout_seconds: float, poll_seconds: float) -> None:
        self._broker = broker
        self._clock = clock
        self._emit = emit
        self._tolerance = tolerance
        self._timeout = timeout_seconds
        self._poll = poll_seconds

    async def confirm(self, symbol: str, expected: Decimal, *, exact: bool = False) -> ValidationResult:
        tolerance = ZERO if exact else self._tolerance
        deadline = self._clock.monotonic() + self._timeout
        actual: Decimal | None = None
        last_error: str | None = None
        while True:
            try:
                position = await self._broker.get_position(symbol)
                actual = position.qty if position is not None else ZERO
                last_error = None
            except BrokerError as exc:
                last_error = str(exc)
            if actual is not None and abs(actual - expected) <= tolerance:
                return self._done(symbol, expected, actual, tolerance, True,
                                  f"position {normalize(actual)} as expected")
            if self._clock.monotonic() >= deadline:
                break
            await self._clock.sleep(self._poll)
        if actual is None:
            message = f"could not read the position: {last_error}"
        else:
            message = (f"position {normalize(actual)}, expected {normalize(expected)} "
                       f"(off by {normalize(actual - expected)})")
        return self._done(symbol, expected, actual, tolerance, False, message)

    def _done(self, symbol: str, expected: Decimal, actual: Decimal | None, tolerance: Decimal,
              passed: bool, message: str) -> ValidationResult:
        self._emit(ValidationDone(symbol, expected, actual, passed, message, self._clock.now()))
        return ValidationResult(symbol, expected, actual, tolerance, passed, message)
