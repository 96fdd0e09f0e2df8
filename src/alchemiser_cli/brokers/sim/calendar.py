"""The US equity market calendar the simulator reports (Alpaca's ``/v2/calendar`` and clock).

Regular session 09:30-16:00 New York time, extended session 04:00-20:00 (OpenAPI
legacy_calendar_day: open "09:30", close "16:00", session_open "0400", session_close
"2000"); NYSE holidays and early closes (13:00) are listed for 2025-2027 (NYSE Group's
holiday and early-closings calendars of 2024-11-08 and 2025-12-23; 2025-01-09 closed for
the national day of mourning); outside those years every weekday is a trading day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")

HOLIDAYS = frozenset(date.fromisoformat(d) for d in (
    "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26",
    "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
    "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19",
    "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
    "2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18",
    "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24",
))
EARLY_CLOSES = frozenset(date.fromisoformat(d) for d in (
    "2025-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2026-12-24", "2027-11-26",
))
OPEN = time(9, 30)
CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)


@dataclass(frozen=True, slots=True)
class TradingDay:
    day: date
    open: time
    close: time
    session_open: time
    session_close: time
    settlement: date

    @property
    def opens_at(self) -> datetime:
        return datetime.combine(self.day, self.open, NEW_YORK)

    @property
    def closes_at(self) -> datetime:
        return datetime.combine(self.day, self.close, NEW_YORK)

    def to_json(self) -> dict[str, str]:
        """Alpaca's shape (alpaca-py tests/trading/trading_client/test_clock_calendar_routes.py)."""
        return {"date": self.day.isoformat(), "open": self.open.strftime("%H:%M"),
                "close": self.close.strftime("%H:%M"),
                "session_open": self.session_open.strftime("%H%M"),
                "session_close": self.session_close.strftime("%H%M"),
                "settlement_date": self.settlement.isoformat()}


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def _next_trading_date(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def trading_day(day: date) -> TradingDay:
    early = day in EARLY_CLOSES
    return TradingDay(day, OPEN, EARLY_CLOSE if early else CLOSE, time(4, 0),
                      time(17, 0) if early else time(20, 0), _next_trading_date(day))


def trading_days(start: date, end: date) -> list[TradingDay]:
    days = []
    day = start
    while day <= end:
        if is_trading_day(day):
            days.append(trading_day(day))
        day += timedelta(days=1)
    return days


def next_session(now: datetime) -> TradingDay:
    """The session in progress at ``now``, else the next one to open."""
    day = now.astimezone(NEW_YORK).date()
    if not is_trading_day(day):
        day = _next_trading_date(day)
    session = trading_day(day)
    if now >= session.closes_at:
        session = trading_day(_next_trading_date(day))
    return session


def in_session(now: datetime) -> bool:
    """``now`` is within a regular session (09:30 to the close, New York time)."""
    session = next_session(now)
    return session.opens_at <= now < session.closes_at


def next_open_close(now: datetime) -> tuple[datetime, datetime]:
    """Alpaca's ``next_open`` (strictly after now) and ``next_close``."""
    session = next_session(now)
    next_open = session.opens_at
    if next_open <= now:  # in the session: the next open is tomorrow's
        next_open = trading_day(_next_trading_date(session.day)).opens_at
    return next_open, session.closes_at


def ny_timestamp(value: datetime) -> str:
    """``2022-05-16T16:32:24.14373588-04:00``: New York time, nanosecond digits, as Alpaca sends.

    Source: the recorded clock response in alpaca-py's
    tests/trading/trading_client/test_clock_calendar_routes.py.
    """
    local = value.astimezone(NEW_YORK)
    offset = local.strftime("%z")
    zone = f"{offset[:3]}:{offset[3:]}"
    fraction = f"{local.microsecond * 1000:09d}".rstrip("0")
    head = local.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{fraction}{zone}" if fraction else f"{head}{zone}"
