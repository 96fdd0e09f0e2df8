"""A session: one account through one broker, and the calls that trade or read it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.api.history import read_metrics
from alchemiser_cli.api.inputs import (
    BrokerName,
    as_plan,
    broker_mode,
    load_settings,
    symbol_list,
)
from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.core.metrics import Metrics
from alchemiser_cli.core.rebalance import RebalanceReport, RebalanceRunner
from alchemiser_cli.core.session import Connection, open_connection, run_scope
from alchemiser_cli.domain.errors import (
    BrokerUnavailableError,
    ExitCode,
    NotConfirmedError,
    RefusedError,
    UsageError,
)
from alchemiser_cli.domain.events import Event, Notice, Observer, PlanReady
from alchemiser_cli.domain.intents import OrderIntent
from alchemiser_cli.domain.order_ids import client_order_id_base
from alchemiser_cli.domain.plan import Plan
from alchemiser_cli.domain.quotes import AssessedQuote
from alchemiser_cli.domain.results import ExecutionResult
from alchemiser_cli.settings import Settings


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
        names = symbol_list(symbols)
        async with run_scope(self._conn, "quote") as rt:
            await self._known(names)
            await rt.placement.quotes.subscribe(names)
            return [await rt.placement.quotes.quote(s) for s in names]

    async def watch_quotes(self, symbols: Sequence[str],
                           interval: float) -> AsyncIterator[list[AssessedQuote]]:
        """Quotes every ``interval`` seconds, in one run, until the caller stops iterating."""
        names = symbol_list(symbols)
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

    async def account(self) -> AccountSummary:
        """The account this session trades: number, status, equity, cash, and the endpoint
        it is reached at (what an operator checks before confirming a live run)."""
        from alchemiser_cli.brokers.port import BrokerError

        try:
            account = await self._conn.broker.get_account()
        except BrokerError as exc:
            raise BrokerUnavailableError(f"could not read the account: {exc}") from exc
        return AccountSummary(number=account.number or account.id, status=account.status,
                              equity=account.equity, cash=account.cash,
                              buying_power=account.buying_power, broker=self.mode.value,
                              endpoint=endpoint(self.mode, self.settings),
                              name=self.settings.account)

    async def rebalance(self, plan: Plan | str | Path, *, cancel_orphans: bool = False,
                        approved: RebalanceReport | None = None) -> RebalanceReport:
        """Sells, then buys sized to realised cash, then the portfolio check (one run).

        ``approved``: the dry run the operator confirmed (:meth:`dry_run`). The run plans
        again from fresh prices; if it would trade a symbol or direction the preview did
        not show, or a quantity more than ``guards.approval_tolerance`` above the one shown,
        it refuses (:class:`RefusedError`, exit 7) before anything is sent.
        """
        self._require_lock("rebalance")
        if approved is not None and not approved.dry_run:
            raise UsageError("approved= takes the dry run that was confirmed; nothing placed")
        hold: Observer | None = None
        if approved is not None:
            hold = _held_to(approved, self.settings.guards.approval_tolerance)
            self._conn.bus.add(hold)  # last: the new plan is shown, then refused
        try:
            return await self._rebalance(as_plan(plan), dry_run=False,
                                         cancel_orphans=cancel_orphans)
        finally:
            if hold is not None:
                self._conn.bus.remove(hold)

    async def dry_run(self, plan: Plan | str | Path) -> RebalanceReport:
        """The trades a rebalance would make now, with notional and estimated cost; places
        nothing (recorded as a ``dry-run`` run)."""
        return await self._rebalance(as_plan(plan), dry_run=True, cancel_orphans=False)

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


def _held_to(approved: RebalanceReport, tolerance: Decimal) -> Observer:
    """An observer that stops a run whose plan is not the approved one. The plan event
    comes after sizing and the guard rails and before the first order, and the bus
    raises an observer's error into the run: nothing is sent."""
    from alchemiser_cli.domain.approval import approval_refusal

    def hold(event: Event) -> None:
        if isinstance(event, PlanReady) and not event.dry_run:
            refusal = approval_refusal(approved.trades, event.trades, tolerance)
            if refusal is not None:
                raise RefusedError(refusal)
    return hold


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as an operator confirms it: never a secret."""

    number: str  # the broker's account number
    status: str
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    broker: str  # sim, paper or live
    endpoint: str  # the trading API this session talks to
    name: str | None = None  # the [accounts.NAME], if one was selected

    @property
    def confirmation_code(self) -> str:
        """What a live confirmation asks the operator to type: the number's last four."""
        return self.number[-4:]


#: Alpaca's trading endpoints when no URL is configured: alpaca-py's TradingClient
#: defaults (alpaca-py alpaca/common/enums.py BaseURL TRADING_PAPER / TRADING_LIVE).
ALPACA_ENDPOINTS = {BrokerMode.PAPER: "https://paper-api.alpaca.markets",
                    BrokerMode.LIVE: "https://api.alpaca.markets"}


def endpoint(mode: BrokerMode, settings: Settings) -> str:
    """Where orders of ``mode`` go: the configured trading URL or Alpaca's default."""
    if mode is BrokerMode.SIM:
        return "the offline simulator"
    return settings.trading_url or ALPACA_ENDPOINTS[mode]


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
