"""Preflight checklist behind `alch verify-migration` / `alch verify`.

Each check reports pass/fail with a one-line detail; a check whose prerequisite
failed is reported as skipped (and counts as not passed). Exit 0 only if all pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from alchemiser_cli.brokers.factory import BrokerMode, account_key, open_broker
from alchemiser_cli.brokers.port import Broker, BrokerAuthError, BrokerError
from alchemiser_cli.clock import Clock
from alchemiser_cli.core.lock import AccountLock
from alchemiser_cli.domain.errors import AlchError
from alchemiser_cli.domain.intents import Urgency
from alchemiser_cli.domain.quotes import QuoteSource, assess_quote
from alchemiser_cli.journal.store import Journal, JournalError
from alchemiser_cli.settings import Settings


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    credentials_problem: bool = False  # a failure that means the keys are missing or refused

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASS


#: The checklist, in the order it is shown.
ORDER = ["config", "credentials", "broker", "account", "market clock", "data feeds",
         "streaming quote", "REST quote", "trade stream", "walk profile", "journal", "lock"]


def config_failure(message: str) -> list[Check]:
    """The checklist when the configuration itself is invalid: nothing else can be checked."""
    return [Check("config", CheckStatus.FAIL, message)] + [
        Check(name, CheckStatus.SKIP, "configuration invalid") for name in ORDER[1:]]


def in_order(checks: list[Check]) -> list[Check]:
    by_name = {c.name: c for c in checks}
    return [by_name[name] for name in ORDER if name in by_name]


def redact(secret: str) -> str:
    """Show just enough of a key to recognise it: ``PK…1234``."""
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:2]}…{secret[-4:]}"


def describe_profiles(settings: Settings) -> str:
    parts = []
    for urgency in Urgency:
        p = settings.profile(urgency)
        ladder = "/".join(str(r) for r in p.ratios) or "market"
        parts.append(f"{urgency} {ladder} @{p.step_wait_seconds:g}s")
    return "; ".join(parts)


def local_checks(mode: BrokerMode, settings: Settings) -> list[Check]:
    where = settings.config_file or "no config file: defaults and environment"
    checks = [Check("config", CheckStatus.PASS, f"configuration is valid ({where})")]
    if mode is BrokerMode.SIM:
        checks.append(Check("credentials", CheckStatus.PASS, "not needed for the simulator"))
    elif settings.has_credentials:
        assert settings.api_key_id is not None
        checks.append(Check("credentials", CheckStatus.PASS,
                            f"key {redact(settings.api_key_id.get_secret_value())} and secret set"))
    else:
        checks.append(Check("credentials", CheckStatus.FAIL,
                            "APCA_API_KEY_ID / APCA_API_SECRET_KEY not set",
                            credentials_problem=True))
    checks.append(Check("walk profile", CheckStatus.PASS, describe_profiles(settings)))
    try:
        journal = Journal(settings.data_dir / "journal.sqlite3")
        journal.installation_id()
        journal.close()
        checks.append(Check("journal", CheckStatus.PASS,
                            f"{settings.data_dir / 'journal.sqlite3'} is writable"))
    except JournalError as exc:
        checks.append(Check("journal", CheckStatus.FAIL, str(exc)))
    try:
        free = AccountLock(settings.data_dir, account_key(mode, settings)).is_free()
        checks.append(Check("lock", CheckStatus.PASS if free else CheckStatus.FAIL,
                            "free" if free else "held by another alch run"))
    except (OSError, AlchError) as exc:
        checks.append(Check("lock", CheckStatus.FAIL, f"cannot open the lock file: {exc}"))
    return checks


async def broker_checks(mode: BrokerMode, settings: Settings, probe: str,
                        stream_wait: float) -> list[Check]:
    """Reachability, account, clock, quotes and the trade stream, each reported."""
    names = ["broker", "account", "market clock", "data feeds", "streaming quote",
             "REST quote", "trade stream"]
    if mode is not BrokerMode.SIM and not settings.has_credentials:
        return [Check(n, CheckStatus.SKIP, "no credentials") for n in names]
    checks: list[Check] = []
    try:
        async with open_broker(mode, settings) as opened:
            broker, clock = opened.broker, opened.clock
            try:
                account = await broker.get_account()
            except BrokerAuthError as exc:
                checks.append(Check("broker", CheckStatus.FAIL, str(exc), credentials_problem=True))
                return checks + [Check(n, CheckStatus.SKIP, "credentials refused")
                                 for n in names[1:]]
            except BrokerError as exc:
                checks.append(Check("broker", CheckStatus.FAIL, f"unreachable: {exc}"))
                return checks + [Check(n, CheckStatus.SKIP, "broker unreachable")
                                 for n in names[1:]]
            checks.append(Check("broker", CheckStatus.PASS, f"{broker.name} reachable"))
            active = account.active
            checks.append(Check(
                "account", CheckStatus.PASS if active else CheckStatus.FAIL,
                f"status {account.status}" + ("" if active else
                                              ", trading or account blocked")))
            checks.append(await _clock_check(broker, clock))
            checks.append(await _feed_check(broker, probe))
            checks.extend(await _quote_checks(broker, clock, settings, probe, stream_wait))
            checks.append(await _trade_stream_check(broker, clock, stream_wait))
    except BrokerAuthError as exc:  # a stream refused the keys after REST accepted them
        rest = [n for n in names if n not in {c.name for c in checks}]
        return checks + [Check(rest[0], CheckStatus.FAIL, str(exc), credentials_problem=True)] + [
            Check(n, CheckStatus.SKIP, "credentials refused") for n in rest[1:]]
    except (AlchError, OSError) as exc:
        return [Check("broker", CheckStatus.FAIL, str(exc))] + [
            Check(n, CheckStatus.SKIP, "broker unavailable") for n in names[1:]]
    return checks


async def _feed_check(broker: Broker, probe: str) -> Check:
    """Which market-data feeds the account may use (both are probed) and which one is used."""
    access = getattr(broker, "feed_access", None)
    if access is None:
        return Check("data feeds", CheckStatus.PASS, f"{broker.name}: simulated quotes")
    found = [await access(feed, probe) for feed in ("iex", "sip")]
    usable = [f.feed for f in found if f.usable]
    parts = [f"{f.feed} {'yes' if f.usable else 'no (' + f.detail + ')'}" for f in found]
    configured = getattr(broker, "feed", None)
    using = configured or ("sip" if "sip" in usable else "iex")
    status = CheckStatus.PASS if using in usable else CheckStatus.FAIL
    return Check("data feeds", status, f"{', '.join(parts)}; quotes use {using}")


async def _clock_check(broker: Broker, clock: Clock) -> Check:
    try:
        market = await broker.get_clock()
    except BrokerError as exc:
        return Check("market clock", CheckStatus.FAIL, str(exc))
    state = "open" if market.is_open else f"closed (next open {market.next_open:%Y-%m-%d %H:%M %Z})"
    return Check("market clock", CheckStatus.PASS, f"market {state}")


async def _quote_checks(broker: Broker, clock: Clock, settings: Settings, probe: str,
                        stream_wait: float) -> list[Check]:
    policy = settings.quotes.to_policy()
    checks = []
    subscribed = await broker.subscribe_quotes([probe])
    streamed = await broker.stream_quote(probe, stream_wait) if subscribed else None
    if streamed is None:
        checks.append(Check("streaming quote", CheckStatus.FAIL,
                            f"no {probe} quote within {stream_wait:g}s"))
    else:
        q = assess_quote(streamed, QuoteSource.STREAM, clock.now(), policy)
        checks.append(Check("streaming quote", CheckStatus.PASS if q.usable else CheckStatus.FAIL,
                            f"{probe} {q.bid}/{q.ask}" + (f" ({q.problem})" if q.problem else "")))
    try:
        rest = await broker.latest_quote(probe)
    except BrokerError as exc:
        checks.append(Check("REST quote", CheckStatus.FAIL, str(exc)))
        return checks
    if rest is None:
        checks.append(Check("REST quote", CheckStatus.FAIL, f"no quote for {probe}"))
    else:
        q = assess_quote(rest, QuoteSource.REST, clock.now(), policy)
        checks.append(Check("REST quote", CheckStatus.PASS if q.usable else CheckStatus.FAIL,
                            f"{probe} {q.bid}/{q.ask} age {q.age_seconds:.1f}s"
                            + (f" ({q.problem})" if q.problem else "")))
    return checks


async def _trade_stream_check(broker: Broker, clock: Clock, wait: float) -> Check:
    deadline = clock.monotonic() + wait
    while True:
        if await broker.trade_stream_ok():
            return Check("trade stream", CheckStatus.PASS, "trade_updates connected")
        if clock.monotonic() >= deadline:
            return Check("trade stream", CheckStatus.FAIL,
                         f"trade_updates not connected within {wait:g}s")
        await clock.sleep(0.1)
