"""Open orders on the account: before a run trades, and after it stops.

Before placing anything, every open order on the account is classified by its
client_order_id (:mod:`alchemiser_cli.domain.order_ids`):

- **leftovers**: placed by this installation (same journal, same host or named
  installation) in a run this journal recorded and whose process is gone (a crash,
  ``kill -9``). The caller holds the account lock, and every run that places orders
  holds it too, so no run of this installation that could own them is alive. They are
  cancelled and confirmed, and what they filled is reported, before anything new is
  sent. An order whose tag matches but whose run this journal never recorded (two
  machines that drew the same tag) is another run's, never a leftover.
- **ended unseen**: orders of dead runs that are no longer open but whose end the
  journal never saw (the crash came first): each is looked up once, and what it filled
  is journaled and reported.
- **other runs**: alch orders placed elsewhere (another machine, another data
  directory) or by a run that is still alive. Nothing proves that run is dead, so
  the run refuses (exit 9) unless the operator clears orphans older than
  ``execution.orphan_min_age_seconds`` with ``--cancel-orphans``.
- **foreign**: orders alch did not place. On a symbol the run will trade they would
  be rejected as wash trades or double the trade: the run refuses (exit 7).

After a run stops, for whatever reason, :func:`sweep_run` cancels and confirms any
order of this run still open, without needing the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from alchemiser_cli.brokers.port import Broker, BrokerAuthError, BrokerError, NotFoundError
from alchemiser_cli.clock import Clock
from alchemiser_cli.domain.errors import BrokerUnavailableError, OtherRunError, RefusedError
from alchemiser_cli.domain.events import LeftoverCancelled, Notice, Observer, OrderProgress
from alchemiser_cli.domain.money import ZERO, normalize
from alchemiser_cli.domain.order_ids import installation_of, parse_client_order_id, run_prefix
from alchemiser_cli.domain.orders import Order
from alchemiser_cli.journal.rows import UnsettledOrder

CancelConfirm = Callable[[Order], Awaitable[Order]]


@dataclass(frozen=True, slots=True)
class OpenOrders:
    leftovers: tuple[Order, ...] = ()
    other_runs: tuple[Order, ...] = ()
    foreign: tuple[Order, ...] = ()


def classify(orders: Iterable[Order], *, run_id: str, live_runs: Collection[str],
             known_runs: Collection[str] | None = None) -> OpenOrders:
    """Sort the account's open orders by who placed them (see the module docstring).
    ``known_runs``: the runs this journal recorded (None: every run with our tag)."""
    ours = installation_of(run_id)
    leftovers: list[Order] = []
    others: list[Order] = []
    foreign: list[Order] = []
    for order in orders:
        if not order.client_order_id.startswith("alch-"):
            foreign.append(order)
            continue
        tag = parse_client_order_id(order.client_order_id)
        if (tag is not None and tag.installation == ours and tag.run_id != run_id
                and tag.run_id not in live_runs
                and (known_runs is None or tag.run_id in known_runs)):
            leftovers.append(order)
        else:  # another installation, a live run, or a name we cannot read: not ours to cancel
            others.append(order)
    return OpenOrders(tuple(leftovers), tuple(others), tuple(foreign))


def _symbols(orders: Iterable[Order]) -> str:
    return ", ".join(sorted({o.symbol for o in orders}))


def _runs(orders: Iterable[Order]) -> str:
    runs = sorted({tag.run_id if (tag := parse_client_order_id(o.client_order_id)) else
                   o.client_order_id for o in orders})
    return ", ".join(runs)


class Reconciler:
    """Checks and cleans the account's open orders for one run."""

    def __init__(self, broker: Broker, clock: Clock, emit: Observer,
                 cancel_confirm: CancelConfirm) -> None:
        self._broker = broker
        self._clock = clock
        self._emit = emit
        self._cancel_confirm = cancel_confirm

    async def prepare(self, *, run_id: str, live_runs: Collection[str], trade_symbols: Collection[str],
                      dry_run: bool, cancel_orphans: bool, orphan_min_age_seconds: float,
                      known_runs: Callable[[Collection[str]], Collection[str]] | None = None,
                      unsettled: Sequence[UnsettledOrder] = ()) -> tuple[Order, ...]:
        """Refuse on orders we must not touch, then cancel our leftovers and look up what
        dead runs' orders did while nobody watched (``unsettled``).

        Returns the leftovers' final states (cancelled, or filled meanwhile). Refusals
        come first, so a refused run changes nothing on the account. A dry run refuses
        nothing and changes nothing: it warns about what the real run would do.
        """
        try:
            orders = await self._broker.list_open_orders()
        except BrokerError as exc:
            raise BrokerUnavailableError(f"could not read open orders: {exc}; nothing placed") from exc
        tagged = [t.run_id for o in orders if (t := parse_client_order_id(o.client_order_id))]
        found = classify(orders, run_id=run_id, live_runs=live_runs,
                         known_runs=None if known_runs is None else known_runs(tagged))
        foreign = [o for o in found.foreign if o.symbol in trade_symbols]
        if foreign:
            refusal = (f"open orders not placed by alch on {_symbols(foreign)}: cancel them first "
                       "(they would be rejected as wash trades or double the trade)")
            if dry_run:
                self._emit(Notice("warning", f"a rebalance now would refuse: {refusal}"))
            else:
                raise RefusedError(f"{refusal}; nothing placed")
        now = self._clock.now()
        min_age = timedelta(seconds=orphan_min_age_seconds)
        orphans = [o for o in found.other_runs if cancel_orphans and now - o.created_at >= min_age]
        alive = [o for o in found.other_runs if o not in orphans]
        if alive:
            hint = (f"only orders older than {orphan_min_age_seconds:g}s are cancelled by "
                    "--cancel-orphans" if cancel_orphans else
                    "if that run is dead, rerun with --cancel-orphans to cancel alch orders older "
                    f"than {orphan_min_age_seconds:g}s")
            refusal = (f"{len(alive)} open order(s) of another alch run ({_runs(alive)}: another "
                       f"machine, data directory or a run still in progress) on "
                       f"{_symbols(alive)}")
            if not dry_run:
                raise OtherRunError(f"{refusal}; nothing placed ({hint})")
            self._emit(Notice("warning", f"a rebalance now would refuse: {refusal}"))
            return ()
        to_cancel = [*found.leftovers, *orphans]
        open_ids = {o.client_order_id for o in orders}
        unseen = [u for u in unsettled if u.client_order_id not in open_ids]
        if not dry_run and unseen:
            await self._settle_unseen(unseen)
        if not to_cancel:
            return ()
        if dry_run:
            self._emit(Notice("warning", f"{len(to_cancel)} open order(s) left by an earlier alch "
                              f"run ({_runs(to_cancel)}) would be cancelled first"))
            return ()
        self._emit(Notice("warning", f"cancelling {len(to_cancel)} open order(s) left by an earlier "
                          f"alch run ({_runs(to_cancel)}) before placing anything"))
        finals = await asyncio.gather(*(self._cancel_leftover(o) for o in to_cancel))
        return tuple(finals)

    async def _settle_unseen(self, unseen: Sequence[UnsettledOrder]) -> None:
        """Look up orders of dead runs that are not open: how did they end? (Best effort:
        a lookup that fails is retried by the next run.)"""
        for u in unseen:
            try:
                final = await self._broker.get_order_by_client_id(u.client_order_id)
            except BrokerError:
                continue
            if final is not None and not final.status.terminal:
                continue  # open after all (the list lagged): the next run cancels it
            qty = final.qty if final is not None else Decimal(u.qty)
            filled = final.filled_qty if final is not None else ZERO
            self._emit(LeftoverCancelled(
                client_order_id=u.client_order_id, run_id=u.run_id, symbol=u.symbol,
                side=u.side, qty=qty, filled_qty=filled,
                avg_price=None if final is None else final.filled_avg_price,
                status="not_found" if final is None else final.status.value,
                at=self._clock.now()))
            if filled > 0:
                status = final.status.value if final is not None else "gone"
                self._emit(Notice(
                    "warning", f"order {u.client_order_id} of interrupted run {u.run_id} filled "
                    f"{normalize(filled)} of {normalize(qty)} {u.symbol} ({u.side}) after its run "
                    f"stopped (now {status})", u.symbol))

    async def _cancel_leftover(self, order: Order) -> Order:
        try:
            final = await self._cancel_confirm(order)
        except NotFoundError:
            final = order
        except Exception as exc:
            raise BrokerUnavailableError(
                f"could not cancel leftover order {order.client_order_id}: {exc}; nothing placed"
            ) from exc
        tag = parse_client_order_id(order.client_order_id)
        self._emit(LeftoverCancelled(
            client_order_id=order.client_order_id, run_id=tag.run_id if tag else "",
            symbol=order.symbol, side=order.side.value, qty=final.qty,
            filled_qty=final.filled_qty, avg_price=final.filled_avg_price,
            status=final.status.value, at=self._clock.now()))
        if final.filled_qty > 0:
            self._emit(Notice(
                "warning", f"leftover order {order.client_order_id} had filled "
                f"{normalize(final.filled_qty)} of {normalize(final.qty)} {order.symbol} "
                f"({order.side.value}) before it was {final.status.value}", order.symbol))
        return final


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What the end-of-run sweep found: final states of the orders that were still working,
    and the orders it could not prove stopped."""

    settled: tuple[Order, ...] = ()
    unconfirmed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.unconfirmed

    def describe(self) -> str:
        parts = []
        if self.settled:
            states = ", ".join(
                f"{o.client_order_id} {o.status.value} (filled {normalize(o.filled_qty)} of "
                f"{normalize(o.qty)} {o.symbol})" for o in self.settled)
            parts.append(f"{len(self.settled)} order(s) of this run were working: {states}")
        if self.unconfirmed:
            parts.append(f"COULD NOT CONFIRM that these orders stopped working: "
                         f"{', '.join(self.unconfirmed)} (check them at the broker)")
        elif self.settled:
            parts.append("none is open now")
        return "; ".join(parts) or "no order of this run was left open"


@dataclass
class RunOrders:
    """Orders this run submitted, kept in memory so the sweep works without the journal."""

    run_id: str
    submitted: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)  # steps that ended normally

    @property
    def working(self) -> set[str]:
        return self.submitted - self.finished


async def sweep_run(broker: Broker, cancel_confirm: CancelConfirm, orders: RunOrders,
                    emit: Observer | None = None) -> SweepResult:
    """Cancel and confirm every order of this run that is still open.

    Nothing is read when every order this run sent reached a confirmed end. Otherwise open
    orders are listed by the run's client_order_id prefix and cancelled. Then every
    order this run submitted, did not see finish and the list did not show is looked up:
    one still working (the list could not be read, or lagged behind) is cancelled too, one
    that ended is reported as it ended. An order that could be neither listed nor looked
    up is reported as unconfirmed, never as stopped.
    """
    if not orders.working:  # every order this run sent has a confirmed end: nothing to sweep
        return SweepResult()
    prefix = run_prefix(orders.run_id)
    settled: dict[str, Order] = {}
    unconfirmed: list[str] = []

    async def settle(order: Order) -> None:
        if emit is not None:
            emit(Notice("warning", f"cancelling open order {order.client_order_id}", order.symbol))
        try:
            settled[order.client_order_id] = await cancel_confirm(order)
        except NotFoundError:
            settled[order.client_order_id] = order
        except Exception:  # the order's state is unknown: say so, never claim it is cancelled
            unconfirmed.append(order.client_order_id)

    try:
        listed: list[Order] | None = [o for o in await broker.list_open_orders()
                                      if o.client_order_id.startswith(prefix)]
    except (BrokerError, BrokerAuthError):  # unreadable, or the key revoked mid-run
        listed = None
    await asyncio.gather(*(settle(o) for o in listed or ()))
    for cid in sorted(orders.working - {o.client_order_id for o in listed or ()}):
        try:
            order = await broker.get_order_by_client_id(cid)
        except (BrokerError, BrokerAuthError):
            if listed is None:  # neither listed nor found: it may still be working
                unconfirmed.append(cid)
            continue  # the list did not show it open: it ended (its end is best effort)
        if order is None:
            continue
        if order.status.terminal:
            settled[cid] = order
        else:
            await settle(order)
    if emit is not None:  # how each order ended, for whoever shows the run's orders
        for order in (settled[c] for c in sorted(settled)):
            emit(OrderProgress(order.client_order_id, order.symbol, order.status.value,
                               order.filled_qty, order.filled_avg_price, order.updated_at))
    return SweepResult(tuple(settled[c] for c in sorted(settled)), tuple(sorted(unconfirmed)))
