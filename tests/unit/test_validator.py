"""The post-trade position check, against a scripted broker in virtual time.

An operator relies on it to catch a position that is not what the fills imply: too
little, too much, not closed, or not readable at all (an outage is never "0 shares").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alchemiser_cli.brokers.port import BrokerError, TransientBrokerError
from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.validator import PortfolioValidator
from alchemiser_cli.domain.events import Event, ValidationDone
from alchemiser_cli.domain.orders import Position
from alchemiser_cli.domain.results import ValidationResult

START = datetime(2026, 11, 24, 15, tzinfo=UTC)
Read = Decimal | None | BrokerError  # a position, no position, or a failed read


class ScriptedPositions:
    """get_position answers from a script; the last answer repeats. Records read times."""

    def __init__(self, clock: LoopClock, script: Sequence[Read]) -> None:
        self.clock = clock
        self.script = list(script)
        self.reads: list[float] = []

    async def get_position(self, symbol: str) -> Position | None:
        self.reads.append(self.clock.monotonic())
        answer = self.script[min(len(self.reads) - 1, len(self.script) - 1)]
        if isinstance(answer, BrokerError):
            raise answer
        return None if answer is None else Position(symbol, answer, Decimal("10"))


def confirm(script: Sequence[Read], expected: str, *, exact: bool | None = None,
            tolerance: str = "0.001", timeout: float = 10.0,
            poll: float = 1.0) -> tuple[ValidationResult, list[float], list[Event]]:
    events: list[Event] = []

    async def main() -> tuple[ValidationResult, list[float]]:
        clock = LoopClock(START)
        broker = ScriptedPositions(clock, script)
        validator = PortfolioValidator(broker, clock, events.append,  # type: ignore[arg-type]
                                       tolerance=Decimal(tolerance), timeout_seconds=timeout,
                                       poll_seconds=poll)
        t0 = clock.monotonic()
        if exact is None:
            result = await validator.confirm("AAPL", Decimal(expected))
        else:
            result = await validator.confirm("AAPL", Decimal(expected), exact=exact)
        return result, [t - t0 for t in broker.reads]

    result, reads = run(main, virtual=True)
    return result, reads, events


OUTAGE = TransientBrokerError("HTTP 503: service unavailable", status=503)


def test_a_full_close_during_a_broker_outage_fails_instead_of_reading_zero():
    result, reads, _ = confirm([OUTAGE], "0", exact=True)
    assert not result.passed
    assert result.actual is None
    assert result.message == "could not read the position: HTTP 503: service unavailable"
    assert len(reads) == 11  # kept trying for the whole timeout


def test_a_read_that_fails_after_a_wrong_position_never_becomes_zero():
    result, _, _ = confirm([Decimal(5), OUTAGE], "0", exact=True)
    assert not result.passed
    assert result.actual == Decimal(5)  # the last position actually read, not 0


def test_no_position_at_the_broker_is_zero_shares_and_closes_a_position():
    result, reads, _ = confirm([None], "0", exact=True)
    assert result.passed and result.actual == Decimal(0)
    assert reads == [0.0]


def test_holding_more_than_expected_fails():
    result, _, _ = confirm([Decimal("70.5")], "70")
    assert not result.passed
    assert result.actual == Decimal("70.5")
    assert result.message == "position 70.5, expected 70 (off by 0.5)"


def test_holding_less_than_expected_fails():
    result, _, _ = confirm([Decimal("69.5")], "70")
    assert not result.passed
    assert result.message == "position 69.5, expected 70 (off by -0.5)"


def test_a_difference_within_the_tolerance_passes_and_the_tolerance_is_inclusive():
    for actual in ("70.001", "69.999", "70"):
        result, _, _ = confirm([Decimal(actual)], "70")
        assert result.passed, actual
        assert result.tolerance == Decimal("0.001")
    result, _, _ = confirm([Decimal("70.0011")], "70")
    assert not result.passed


def test_a_full_close_must_end_at_exactly_zero():
    result, _, _ = confirm([Decimal("0.0009")], "0", exact=True)
    assert not result.passed and result.tolerance == 0
    assert result.message == "position 0.0009, expected 0 (off by 0.0009)"


def test_the_check_is_not_exact_unless_asked():
    result, _, _ = confirm([Decimal("0.0009")], "0")
    assert result.passed


def test_a_lagging_position_is_polled_until_it_matches():
    result, reads, _ = confirm([Decimal(60), Decimal(60), Decimal(65), Decimal(70)], "70")
    assert result.passed and result.actual == Decimal(70)
    assert reads == [0.0, 1.0, 2.0, 3.0]  # one read per poll interval, no busy loop
    assert result.message == "position 70 as expected"


def test_a_position_that_never_matches_fails_after_the_timeout_not_before():
    result, reads, _ = confirm([Decimal(60)], "70", timeout=10.0, poll=2.5)
    assert not result.passed
    assert reads == [0.0, 2.5, 5.0, 7.5, 10.0]


def test_an_outage_that_ends_in_time_passes():
    result, reads, _ = confirm([OUTAGE, OUTAGE, Decimal(70)], "70")
    assert result.passed and reads == [0.0, 1.0, 2.0]


def test_every_check_is_reported_once_with_its_verdict():
    _, _, events = confirm([Decimal(69)], "70", timeout=2.0)
    assert [(e.symbol, e.expected, e.actual, e.passed) for e in events
            if isinstance(e, ValidationDone)] == [("AAPL", Decimal(70), Decimal(69), False)]
    _, _, events = confirm([Decimal(70)], "70")
    assert [(e.actual, e.passed, e.message) for e in events if isinstance(e, ValidationDone)] == [
        (Decimal(70), True, "position 70 as expected")]


@pytest.mark.parametrize("expected", ["0", "12.5"])
def test_the_result_carries_what_was_expected(expected):
    result, _, _ = confirm([Decimal(expected)], expected)
    assert result.symbol == "AAPL" and result.expected == Decimal(expected)
    assert result.discrepancy == 0
