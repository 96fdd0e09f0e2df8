"""One notification per finished run, through apprise (Slack, e-mail, JSON webhooks, ...).

``notify_run`` builds the message from a ``RunReport`` and sends it to each apprise URL on
its own, so one broken destination never hides the others. It never raises and it has no
say in the run's exit code: what happened is returned as a ``NotifyResult`` for the caller
to report (stderr, journal).

Secrets: the message and every error text are scrubbed of the secrets passed in, and a
URL is only ever shown as its scheme and host (``json://hooks.example.com/***``), because
notification URLs carry tokens anywhere else: in the path (``json://host/p/TOKEN``,
``slack://T/B/TOKEN``), the user, the password or the query, and, in apprise's own forms,
where a host would be (``discord://ID/TOKEN``, ``pover://USER@TOKEN``): a host that is not
a network name is masked too. Error texts are scrubbed of every masked part.

apprise is imported only when a notification is actually sent: ``alch --help`` and runs
without notifications never load it.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from alchemiser_cli.domain.errors import ExitCode, exit_meaning
from alchemiser_cli.domain.results import ExecutionResult, ExecutionStatus
from alchemiser_cli.logs import protect_secrets

if TYPE_CHECKING:
    from apprise import AppriseAsset

# Seconds apprise may wait to connect, and then for an answer, per destination: a dead
# webhook must not hold a finished run for long.
DEFAULT_TIMEOUT_SECONDS = 10.0
# A notification lists at most this many failed orders, then says how many more.
MAX_LISTED_ORDERS = 25
MASK = "***"


class NotifyOn(StrEnum):
    """Which finished runs send a notification."""

    FAILURE = "failure"  # any non-zero exit code
    SUCCESS = "success"  # exit code 0 (a dry run included)
    ALWAYS = "always"

    def wants(self, exit_code: int) -> bool:
        if self is NotifyOn.ALWAYS:
            return True
        failed = exit_code != ExitCode.OK
        return failed if self is NotifyOn.FAILURE else not failed


@dataclass(frozen=True, slots=True)
class FailedOrder:
    """An order of the run that did not complete and check out, and why."""

    symbol: str
    side: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a notification says about one finished run."""

    account: str
    command: str
    run_id: str
    exit_code: int
    broker: str  # sim, paper or live
    failed_orders: tuple[FailedOrder, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    @property
    def meaning(self) -> str:
        return exit_meaning(self.exit_code)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome for one destination. ``url`` is the privacy form, safe to print."""

    url: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """What happened to a run's notification; ``sent`` is False when none was due."""

    sent: bool
    deliveries: tuple[Delivery, ...] = ()

    @property
    def succeeded(self) -> tuple[str, ...]:
        return tuple(d.url for d in self.deliveries if d.ok)

    @property
    def failed(self) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if not d.ok)


def failed_orders(results: Iterable[ExecutionResult]) -> tuple[FailedOrder, ...]:
    """The orders of a run that need an operator's eye, with the most specific reason known."""
    out: list[FailedOrder] = []
    for r in results:
        if r.ok:
            continue
        if r.error:
            reason = r.error
        elif r.validation is not None and not r.validation.passed:
            reason = r.validation.message
        elif r.status is ExecutionStatus.PARTIAL:
            reason = f"filled {r.filled_qty} of {r.requested_qty}"
        else:
            reason = r.status.value.replace("_", " ")
        out.append(FailedOrder(r.intent.symbol, r.intent.side.value, r.status.value, reason))
    return tuple(out)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by a mask, longest first."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def title(report: RunReport) -> str:
    outcome = "ok" if report.ok else "FAILED"
    return (f"alch {report.command} {outcome} on {report.account} ({report.broker}): "
            f"exit {report.exit_code}")


def body(report: RunReport) -> str:
    """Plain text, one fact per line, readable in a chat message or an e-mail."""
    lines = [
        f"account: {report.account}",
        f"command: {report.command}",
        f"run: {report.run_id}",
        f"broker: {report.broker}",
        f"exit code: {report.exit_code} ({report.meaning})",
    ]
    if report.failed_orders:
        lines.append(f"failed orders: {len(report.failed_orders)}")
        for order in report.failed_orders[:MAX_LISTED_ORDERS]:
            lines.append(f"- {order.symbol} {order.side} {order.status}: {order.reason}")
        hidden = len(report.failed_orders) - MAX_LISTED_ORDERS
        if hidden > 0:
            lines.append(f"- ... and {hidden} more (alch show {report.run_id})")
    else:
        lines.append("failed orders: none")
    return "\n".join(lines)


def notify_run(report: RunReport, urls: Sequence[str], *, on: NotifyOn = NotifyOn.FAILURE,
               secrets: Iterable[str] = (),
               timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> NotifyResult:
    """Send one notification about ``report`` to each URL, if ``on`` wants this outcome.

    Never raises. Each URL gets its own attempt and its own entry in the result.
    """
    if not urls or not on.wants(report.exit_code):
        return NotifyResult(sent=False)
    hidden = [s for s in secrets if s]
    protect_secrets(hidden)  # apprise's own log records must not carry them either
    try:
        import apprise
    except Exception as exc:
        error = f"cannot load apprise: {type(exc).__name__}: {exc}"
        return NotifyResult(True, tuple(Delivery(_opaque(i), False, scrub(error, hidden))
                                        for i, _ in enumerate(urls)))  # before any parsing
    asset = apprise.AppriseAsset(storage_mode="memory")
    subject, text = scrub(title(report), hidden), scrub(body(report), hidden)
    kind = apprise.NotifyType.SUCCESS if report.ok else apprise.NotifyType.FAILURE
    deliveries = tuple(
        _deliver(asset, index, url, subject, text, kind, hidden, timeout_seconds)
        for index, url in enumerate(urls)
    )
    return NotifyResult(True, deliveries)


def _deliver(asset: AppriseAsset, index: int, url: str, subject: str, text: str, kind: str,
             secrets: Sequence[str], timeout_seconds: float) -> Delivery:
    import apprise

    shown = _opaque(index)
    hidden = list(secrets)
    with _apprise_warnings() as warnings:
        try:
            plugin = apprise.Apprise.instantiate(url, asset=asset)
            if plugin is None:
                return Delivery(shown, False, "not a notification URL apprise understands")
            private: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]
            shown = shown_url(url, index)
            # the whole URL (or apprise's form of it) reads as what is shown; any other
            # piece of it, masked by apprise or not, reads as the mask
            hidden += [url, private, *_masked_parts(url, private), *url_secrets(url)]
            plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeout_seconds)
            plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeout_seconds)
            sender = apprise.Apprise(asset=asset)
            sender.add(plugin)
            ok = bool(sender.notify(body=text, title=subject, notify_type=kind,
                                    body_format=apprise.NotifyFormat.TEXT))
        except Exception as exc:
            return Delivery(shown, False, scrub(f"{type(exc).__name__}: {exc}", hidden))
    if ok:
        return Delivery(shown, True)
    reason = "; ".join(dict.fromkeys(warnings)) or "the service did not accept the notification"
    return Delivery(shown, False, scrub(reason, hidden))


def shown_url(url: str, index: int) -> str:
    """How a notification URL is shown and journaled: its scheme and host (and port), the
    rest masked as ``/***``; a host that is not a network name (an id or a token in its
    place) is masked too. A URL that cannot be read is named by its position."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # an unbalanced [IPv6] bracket
        return _opaque(index)
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme) or not parts.netloc:
        return _opaque(index)
    try:
        port = parts.port
    except ValueError:  # not a number: a token after a colon (tgram://BOT:TOKEN/...)
        host = port = None
    if host and _network_name(host):
        where = f"[{host}]" if ":" in host else host
        where += "" if port is None else f":{port}"
    else:
        where = MASK
    rest = parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc
    return f"{parts.scheme}://{where}" + (f"/{MASK}" if rest or where == MASK else "")


def url_secrets(url: str) -> list[str]:
    """Every piece of ``url`` that :func:`shown_url` masks (user, password, path segments,
    query keys and values, fragment, and a host that is not a network name), raw and
    percent-decoded, to scrub from error texts."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        host, parts = None, urllib.parse.urlsplit("")
    netloc = parts.netloc.rpartition("@")
    pieces = re.split(r"[:@]", netloc[0]) if netloc[1] else []
    if host and not _network_name(host):
        pieces += re.split(r"[:@]", netloc[2])
    pieces += re.split(r"[/;,]", parts.path) + re.split(r"[&=]", parts.query)
    pieces.append(parts.fragment)
    found = {p for piece in pieces for p in (piece, urllib.parse.unquote_plus(piece))}
    return sorted((p for p in found if len(p) >= 4), key=len, reverse=True)


def _network_name(host: str) -> bool:
    """An IP address, ``localhost`` or a dotted DNS name: safe to show. Anything else in a
    host's place (``discord://WEBHOOK_ID/...``, ``tgram://BOT_TOKEN/...``) is not."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    return host == "localhost" or re.fullmatch(rf"(?:{label}\.)+[a-z][a-z0-9-]*", host) is not None


def _masked_parts(url: str, private: str) -> list[str]:
    """The pieces of ``url`` that apprise's privacy form hides (tokens, passwords)."""
    return [part for part in re.split(r"[/:@?&=#,]", url) if len(part) >= 4 and part not in private]


def _opaque(index: int) -> str:
    """How a URL is named before apprise could mask it: by position, never by content."""
    return f"notify URL #{index + 1}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


@contextmanager
def _apprise_warnings() -> Iterator[list[str]]:
    """Collect apprise's warnings as the error text, and keep them off the run's stderr."""
    logger = logging.getLogger("apprise")
    handler = _Collect()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
