"""alch as a Python library. Every CLI feature is a call here, and the CLI calls these.

A session is one account through one broker — the simulator, an Alpaca-compatible
emulator, paper or live — and owns what a run needs: the account lock (when it may
trade), the journal, the broker connection and its streams, the shared request budget.
Each call is one run in the journal, with the same safety as the CLI: journal before
every submission, the same guard rails and open-order checks, fail closed, and this
run's open orders cancelled and confirmed whatever stops it. Errors are
:class:`~alchemiser_cli.domain.errors.AlchError` subclasses carrying the documented exit
code; results are the same frozen records the CLI renders::

    from alchemiser_cli import open_session, parse_plan, run

    async def main() -> None:
        async with open_session("sim") as session:
            report = await session.rebalance(parse_plan(PLAN_TEXT))
            print(report.exit_code, report.check_passed)

    run(main)  # the simulator in virtual time: a 2-minute walk takes milliseconds
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.core.metrics import Metrics, compute
from alchemiser_cli.core.rebalance import RebalanceReport, RebalanceRunner
from alchemiser_cli.core.session import Connection, open_connection, open_journal, run_scope
from alchemiser_cli.core.verify import Check, CheckStatus
from alchemiser_cli.domain.errors import (
    BrokerUnavailableError,
    ConfigError,
    ExitCode,
    NotConfirmedError,
    UsageError,
)
from alchemiser_cli.domain.events import Notice, Observer
from alchemiser_cli.domain.intents import IntentError, OrderIntent, normalize_symbol
from alchemiser_cli.domain.order_ids import client_order_id_base
from alchemiser_cli.domain.plan import Plan, PlanError
from alchemiser_cli.domain.plan import load_plan as _load_plan
from alchemiser_cli.domain.plan import parse_plan as _parse_plan
from alchemiser_cli.domain.quotes import AssessedQuote
from alchemiser_cli.domain.results import ExecutionResult
from alchemiser_cli.journal.store import FillRow, PruneResult, RunFilter, RunRow
from alchemiser_cli.settings import Settings

T = TypeVar("T")
BrokerName = Literal["sim", "paper", "live"]


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from keyword overrides > environment > config file > defaults.

    ``config_file`` (or ``ALCH_CONFIG``) is read when given, else ``./config/alch.toml``
    or the user's config file if one exists. Problems raise :class:`ConfigError` (exit 3),
    without repeating any value (it may be a secret).
    """
    from pydantic import ValidationError

    from alchemiser_cli.logs import protect_secrets
    from alchemiser_cli.settings import load_settings as _load

    try:
        settings = _load(config_file, **overrides)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        hint = _key_hint(first["loc"]) if first["type"] == "extra_forbidden" else ""
        raise ConfigError(f"invalid configuration: {where}: {first['msg']}{hint}") from None
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    protect_secrets(settings.secrets())
    return settings


def _key_hint(loc: Sequence[int | str]) -> str:
    """``(did you mean max_order_notional?)`` for a mistyped config key."""
    import difflib

    from pydantic import BaseModel

    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            args = getattr(annotation, "__args__", ())  # dict[str, Model]: the next part is a key
            model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                         model)
    names = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def load_plan(path: str | Path) -> Plan:
    """A plan file, strictly validated; problems raise :class:`UsageError` (exit 2)."""
    try:
        return _load_plan(Path(path))
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def parse_plan(text: str, source: str = "plan") -> Plan:
    """A plan from TOML text, strictly validated; problems raise :class:`UsageError`."""
    try:
        return _parse_plan(text, source)
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def parse_plan_text(text: str, source: str) -> Plan:
    """A plan in the format ``source``'s extension names (TOML, CSV or JSON)."""
    from alchemiser_cli.domain.plan_formats import PlanFormat, parse_any

    try:
        return parse_any(text, source, PlanFormat.from_path(Path(source)))
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def broker_mode(broker: BrokerMode | BrokerName) -> BrokerMode:
    try:
        return BrokerMode(broker)
    except ValueError:
        raise UsageError(f"unknown broker {broker!r}: use sim, paper or live") from None


class Session:
    """An open account. Make one with :func:`open_session`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def mode(self) -> BrokerMode:
        return self._conn.mode

    @property
    def settings(self) -> Settings:
        return self._conn.settings

    def _require_lock(self, what: str) -> None:
        if not self._conn.locked:
            raise UsageError(f"{what} needs a session opened with lock=True; nothing placed")

    async def quote(self, symbols: Sequence[str]) -> list[AssessedQuote]:
        """One assessed quote per symbol: stream first, REST fallback (one run). A symbol the
        broker does not know raises :class:`UsageError` (exit 2)."""
        names = _symbols(symbols)
        async with run_scope(self._conn, "quote") as rt:
            await self._known(names)
            await rt.placement.quotes.subscribe(names)
            return [await rt.placement.quotes.quote(s) for s in names]

    async def watch_quotes(self, symbols: Sequence[str],
                           interval: float) -> AsyncIterator[list[AssessedQuote]]:
        """Quotes every ``interval`` seconds, in one run, until the caller stops iterating."""
        names = _symbols(symbols)
        async with run_scope(self._conn, "quote") as rt:
            await self._known(names)
            await rt.placement.quotes.subscribe(names)
            while True:
                yield [await rt.placement.quotes.quote(s) for s in names]
                await rt.clock.sleep(interval)

    async def _known(self, names: Sequence[str]) -> None:
        from alchemiser_cli.brokers.port import BrokerError

        try:
            found = await self._conn.broker.get_assets(names)
        except BrokerError as exc:
            raise BrokerUnavailableError(f"could not read assets: {exc}") from exc
        unknown = [s for s in names if s not in found]
        if unknown:
            raise UsageError(f"unknown symbol {', '.join(unknown)}")

    async def place(self, intent: OrderIntent, *, cancel_orphans: bool = False) -> ExecutionResult:
        """One order: account and market checked, open orders of the account checked (this
        installation's leftovers settled first), guard rails, walk, position check."""
        from alchemiser_cli.core.preflight import require_tradable_session

        self._require_lock("place")
        async with run_scope(self._conn, "place") as rt:
            account = await require_tradable_session(rt.broker)
            await rt.prepare_account({intent.symbol}, cancel_orphans=cancel_orphans)
            result = await rt.placement.place(
                intent, id_base=client_order_id_base(rt.run_id, intent.symbol),
                equity=account.equity)
            if result.unsettled:  # an order whose outcome is unknown may still be working
                swept = await rt.sweep()
                if not swept.ok:
                    rt.emit(Notice("error", "could not confirm that no order of this run is "
                                   f"still open: {swept.describe()}"))
            rt.exit_code, rt.status = result.exit_code, result.status.value
            return result

    async def rebalance(self, plan: Plan | str | Path, *,
                        cancel_orphans: bool = False) -> RebalanceReport:
        """Sells, then buys sized to realised cash, then the portfolio check (one run)."""
        self._require_lock("rebalance")
        return await self._rebalance(_plan(plan), dry_run=False, cancel_orphans=cancel_orphans)

    async def dry_run(self, plan: Plan | str | Path) -> RebalanceReport:
        """The trades a rebalance would make now, with notional and estimated cost; places
        nothing (recorded as a ``dry-run`` run)."""
        return await self._rebalance(_plan(plan), dry_run=True, cancel_orphans=False)

    async def _rebalance(self, plan: Plan, *, dry_run: bool,
                         cancel_orphans: bool) -> RebalanceReport:
        async with run_scope(self._conn, "dry-run" if dry_run else "rebalance") as rt:
            report = await RebalanceRunner(rt, plan, dry_run=dry_run,
                                           cancel_orphans=cancel_orphans).run()
            rt.exit_code = report.exit_code
            rt.status = "dry_run" if dry_run else {
                ExitCode.BROKER: "unknown_state", ExitCode.FAILED: "failed",
                ExitCode.SHORT_OF_PLAN: "short_of_plan"}.get(rt.exit_code, "ok")
            return report

    async def holdings_plan(self, name: str = "snapshot") -> Plan:
        """The account's current holdings as a plan (weights of equity, 4 decimals): a
        rebalance to it holds every position."""
        from alchemiser_cli.brokers.port import BrokerError

        broker = self._conn.broker
        try:
            account = await broker.get_account()
            positions = await broker.get_positions()
        except BrokerError as exc:
            raise BrokerUnavailableError(f"cannot read holdings: {exc}") from exc
        if account.equity <= 0:
            raise BrokerUnavailableError("account equity is not positive")
        weights: dict[str, Decimal] = {}
        for p in positions:
            value = p.market_value if p.market_value is not None else p.qty * p.avg_entry_price
            weights[p.symbol] = (value / account.equity).quantize(Decimal("0.0001"))
        if not weights:
            raise UsageError("no positions to snapshot; nothing written")
        return Plan(targets=weights, name=name, cash_buffer=Decimal(0))

    def metrics(self, since: datetime | None = None) -> Metrics:
        """Execution metrics of this session's account and broker (see :func:`read_metrics`)."""
        return read_metrics(self.settings, since, brokers=[self.mode.value])


@asynccontextmanager
async def open_session(broker: BrokerMode | BrokerName = "sim", *,
                       settings: Settings | None = None, observer: Observer | None = None,
                       live: bool = False, lock: bool = True) -> AsyncIterator[Session]:
    """Open an account through ``broker`` (``sim``, ``paper`` or ``live``).

    ``observer`` receives every event as it happens (the same events ``--json`` prints).
    A live session must say ``live=True``: nothing trades real money by default.
    ``lock`` takes the account lock for the session (needed to place orders); a session
    for quotes or dry runs only can leave it to a trading process.
    """
    mode = broker_mode(broker)
    if mode is BrokerMode.LIVE and not live:
        raise NotConfirmedError("a live session needs live=True; nothing placed")
    settings = settings or load_settings()
    async with open_connection(mode, settings, observer=observer, lock=lock) as conn:
        yield Session(conn)


async def verify(broker: BrokerMode | BrokerName = "paper", *, settings: Settings | None = None,
                 symbol: str = "SPY") -> list[Check]:
    """The preflight checklist of every component: config, credentials, broker, account,
    market clock, data feeds, streaming and REST quotes, trade stream, walk profiles,
    journal, lock. A check whose prerequisite failed is skipped. See :func:`verify_exit_code`.
    """
    from alchemiser_cli.core.verify import broker_checks, config_failure, in_order, local_checks

    mode = broker_mode(broker)
    probe = _symbols([symbol])[0]
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            return config_failure(str(exc))
    found = local_checks(mode, settings) + await broker_checks(
        mode, settings, probe, settings.quotes.stream_timeout_seconds)
    return in_order(found)


def failed_config_checks(error: ConfigError) -> list[Check]:
    """The checklist when the configuration itself is invalid: nothing else can be checked."""
    from alchemiser_cli.core.verify import config_failure

    return config_failure(str(error))


def verify_exit_code(checks: Sequence[Check]) -> ExitCode:
    """0 when every check passed; 3 when credentials are missing or refused; else 1."""
    if any(c.credentials_problem and not c.passed for c in checks) or any(
            c.name == "config" and not c.passed for c in checks):
        return ExitCode.CONFIG
    return ExitCode.OK if all(c.passed for c in checks) else ExitCode.FAILED


def read_metrics(settings: Settings, since: datetime | None = None, *,
                 account: str | None = None, brokers: Sequence[str] = ()) -> Metrics:
    """Execution metrics from the journal across runs started (wall clock) at or after
    ``since``, of ``account`` (default: the settings' account, if any) and ``brokers``."""
    where = _filter(settings, since, account, brokers)
    journal = open_journal(settings)
    try:
        runs = journal.runs(10**9, where)
        return compute(journal.events(where=where), len(runs))
    finally:
        journal.close()


def journal_brokers(settings: Settings) -> set[str]:
    """The brokers (sim, paper, live) the journal has runs for."""
    journal = open_journal(settings)
    try:
        return journal.brokers()
    finally:
        journal.close()


def _filter(settings: Settings, since: datetime | None, account: str | None,
            brokers: Sequence[str]) -> RunFilter:
    bound = None if since is None else (since if since.tzinfo else since.replace(tzinfo=UTC))
    return RunFilter(since=None if bound is None else bound.isoformat(),
                     account=account if account is not None else settings.account,
                     brokers=tuple(BrokerMode(b).value for b in brokers))


def export_fills(settings: Settings, since: datetime | None = None, *,
                 account: str | None = None, brokers: Sequence[str] = ()) -> list[FillRow]:
    """Every order that filled, oldest first: time, account, symbol, side, quantity, average
    price, order id and run id (for accounting)."""
    journal = open_journal(settings)
    try:
        return journal.fills(_filter(settings, since, account, brokers))
    finally:
        journal.close()


def prune_journal(settings: Settings, older_than: datetime, *,
                  dry_run: bool = False) -> PruneResult:
    """Delete runs started before ``older_than`` with everything they journaled (a run still
    marked running is kept); with ``dry_run`` only count them."""
    bound = older_than if older_than.tzinfo else older_than.replace(tzinfo=UTC)
    journal = open_journal(settings)
    try:
        return journal.prune(bound.isoformat(), dry_run=dry_run)
    finally:
        journal.close()


def prometheus_text(metrics: Metrics) -> str:
    """Metrics in Prometheus text exposition format (for node_exporter's textfile collector)."""
    from alchemiser_cli.core.metrics import prometheus

    return prometheus(metrics)


def recent_runs(settings: Settings, limit: int = 20, *, account: str | None = None,
                brokers: Sequence[str] = ()) -> list[RunRow]:
    """The newest ``limit`` runs in the journal (of ``account`` and ``brokers``, if given)."""
    journal = open_journal(settings)
    try:
        return journal.runs(limit, _filter(settings, None, account, brokers))
    finally:
        journal.close()


def run_audit(settings: Settings, run_id: str) -> tuple[RunRow, list[dict[str, Any]]]:
    """One run (a unique prefix of its id works) and every event it journaled, in order."""
    journal = open_journal(settings)
    try:
        run = journal.find_run(run_id)
        if run is None:
            raise UsageError(f"no single run matches {run_id!r} (see 'alch runs')")
        return run, journal.events(run.run_id)
    finally:
        journal.close()


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """One configured account, as ``alch accounts`` lists it (never a secret)."""

    name: str
    mode: str
    credentials: str  # where they come from
    key: str | None  # the key id, redacted (PK…1234), or None when missing
    problem: str | None  # why the account cannot be used as configured
    feed: str
    notify: int
    notify_on: str
    reachable: str | None = None  # with check: the account's status, or the error


def list_accounts(settings: Settings) -> list[AccountInfo]:
    """The ``[accounts.NAME]`` tables, with whether their credentials are present."""
    import os

    from alchemiser_cli.settings import with_account

    infos = []
    for name, acc in sorted(settings.accounts.items()):
        where = (f"file {acc.credentials_file}" if acc.credentials_file is not None else
                 f"env {acc.key_id_env} / {acc.secret_key_env}")
        try:
            resolved = with_account(settings, name, os.environ)
            assert resolved.api_key_id is not None
            key, problem = redact_key(resolved.api_key_id.get_secret_value()), None
        except ValueError as exc:
            key, problem = None, str(exc)
        infos.append(AccountInfo(name, acc.mode, where, key, problem,
                                 acc.feed or settings.feed, len(acc.notify), acc.notify_on))
    return infos


async def check_account(settings: Settings, name: str) -> str:
    """Open the account and read its status: ``ACTIVE``, or why it cannot be reached."""
    import os

    from alchemiser_cli.brokers.port import BrokerError
    from alchemiser_cli.domain.errors import AlchError
    from alchemiser_cli.settings import with_account

    try:
        resolved = with_account(settings, name, os.environ)
        mode = BrokerMode(resolved.accounts[name].mode)
        async with open_connection(mode, resolved) as conn:
            account = await conn.broker.get_account()
    except (ValueError, AlchError, BrokerError, OSError) as exc:
        return f"unreachable: {exc}"
    return f"reachable, status {account.status}" + ("" if account.active else ", BLOCKED")


def redact_key(key: str) -> str:
    """Just enough of a key to recognise it: ``PK…1234``."""
    return "*" * len(key) if len(key) <= 8 else f"{key[:2]}…{key[-4:]}"


@dataclass(frozen=True, slots=True)
class SettingValue:
    key: str
    value: str  # secrets redacted
    source: str  # flag, env NAME, file PATH, account NAME or default


def describe_settings(settings: Settings, flags: dict[str, Any] | None = None) -> list[SettingValue]:
    """Every effective setting, its value (secrets redacted) and where it came from."""
    import os

    from pydantic import SecretStr

    from alchemiser_cli.settings import flat_settings, value_sources

    sources = value_sources(settings, flags or {}, os.environ)
    out = []
    for key, value in flat_settings(settings).items():
        if isinstance(value, SecretStr):
            shown = redact_key(value.get_secret_value()) if value.get_secret_value() else ""
        elif isinstance(value, tuple | list):
            shown = ", ".join(str(v) for v in value) if key != "notify" else f"{len(value)} URL(s)"
        else:
            shown = "" if value is None else str(value)
        out.append(SettingValue(key, shown, sources[key]))
    return out


def run(main: Callable[[], Coroutine[Any, Any, T]], *, virtual_time: bool = True) -> T:
    """Run ``main()`` the way the CLI does: signals cancel it cleanly (open orders are
    cancelled first), and with ``virtual_time`` idle waits take no time (the simulator)."""
    from alchemiser_cli.clock import run as _run

    return _run(main, virtual=virtual_time)


def _plan(plan: Plan | str | Path) -> Plan:
    return plan if isinstance(plan, Plan) else load_plan(plan)


def _symbols(symbols: Sequence[str]) -> list[str]:
    if isinstance(symbols, str):
        symbols = [symbols]
    try:
        names = list(dict.fromkeys(normalize_symbol(s) for s in symbols))
    except IntentError as exc:
        raise UsageError(str(exc)) from None
    if not names:
        raise UsageError("give at least one symbol")
    return names


__all__ = [
    "AccountInfo",
    "Check",
    "CheckStatus",
    "Session",
    "SettingValue",
    "broker_mode",
    "check_account",
    "describe_settings",
    "export_fills",
    "failed_config_checks",
    "journal_brokers",
    "list_accounts",
    "load_plan",
    "load_settings",
    "open_session",
    "parse_plan",
    "parse_plan_text",
    "prometheus_text",
    "prune_journal",
    "read_metrics",
    "recent_runs",
    "redact_key",
    "run",
    "run_audit",
    "verify",
    "verify_exit_code",
]
