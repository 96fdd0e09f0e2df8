"""Notifications of finished runs, delivered by apprise to a local HTTP receiver."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alchemiser_cli.domain.errors import EXIT_MEANINGS, ExitCode, exit_meaning
from alchemiser_cli.domain.intents import OrderIntent, Side
from alchemiser_cli.domain.results import ExecutionStatus
from alchemiser_cli.notify import (
    MAX_LISTED_ORDERS,
    FailedOrder,
    NotifyOn,
    RunReport,
    failed_orders,
    notify_run,
    shown_url,
)
from tests.conftest import Harness, run_sim

FAKE_KEY = "PKFAKE7Q2W9E4R1T6Y3U"
FAKE_SECRET = "fAkEsEcReT0123456789abcdefGHIJKLmnopQRST"

FAILED_RUN = RunReport(
    account="taxable", command="rebalance", run_id="261124150000oac001",
    exit_code=ExitCode.FAILED, broker="live",
    failed_orders=(
        FailedOrder("AAPL", "buy", "failed", "rejected: insufficient buying power"),
        FailedOrder("MSFT", "sell", "partial", "filled 3 of 10"),
    ),
)


@dataclass
class Receiver:
    """An HTTP server on loopback that records every request and answers ``status``."""

    server: ThreadingHTTPServer
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(raw) for _, _, raw in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            holder[0].requests.append((self.path, dict(self.headers), raw))
            self.send_response(holder[0].status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
    thread.join(5)


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_failing_run_posts_one_notification_with_every_field(receiver):
    result = notify_run(FAILED_RUN, [receiver.url()], on=NotifyOn.FAILURE)
    assert result.sent
    assert [(d.ok, d.error) for d in result.deliveries] == [(True, None)]
    assert len(receiver.requests) == 1
    path, headers, _ = receiver.requests[0]
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    # apprise's json:// payload: version, title, message, attachments, type
    # (apprise/plugins/custom_json.py, the payload built in send())
    posted = receiver.bodies()[0]
    assert posted["type"] == "failure"
    assert posted["title"] == "alch rebalance FAILED on taxable (live): exit 1"
    assert posted["message"] == (
        "account: taxable\n"
        "command: rebalance\n"
        "run: 261124150000oac001\n"
        "broker: live\n"
        "exit code: 1 (the run completed but an order or the portfolio check failed)\n"
        "failed orders: 2\n"
        "- AAPL buy failed: rejected: insufficient buying power\n"
        "- MSFT sell partial: filled 3 of 10"
    )


def test_secrets_are_scrubbed_from_the_message_and_the_url_shown(receiver):
    leaky = RunReport(
        account="taxable", command="place", run_id="261124150000oac002",
        exit_code=ExitCode.CONFIG, broker="paper",
        failed_orders=(FailedOrder("AAPL", "buy", "failed",
                                   f"forbidden for key {FAKE_KEY} / {FAKE_SECRET}"),),
    )
    url = f"jsons://ops:{FAKE_SECRET}@127.0.0.1:{closed_port()}/hook"
    result = notify_run(leaky, [receiver.url(), url], on=NotifyOn.ALWAYS,
                        secrets=[FAKE_KEY, FAKE_SECRET, ""], timeout_seconds=2)
    raw = receiver.requests[0][2].decode()
    assert FAKE_KEY not in raw and FAKE_SECRET not in raw
    assert "forbidden for key *** / ***" in receiver.bodies()[0]["message"]
    assert "exit code: 3 (bad configuration" in receiver.bodies()[0]["message"]
    shown = repr(result)
    assert FAKE_KEY not in shown and FAKE_SECRET not in shown
    # the user and password are masked with the rest: scheme and host only
    assert result.deliveries[1].url.startswith("jsons://127.0.0.1:")
    assert result.deliveries[1].url.endswith("/***") and "ops" not in result.deliveries[1].url


def test_a_refused_connection_is_a_failure_entry_and_the_other_urls_still_get_theirs(receiver):
    dead = f"json://127.0.0.1:{closed_port()}/hook"
    started = time.monotonic()
    result = notify_run(FAILED_RUN, [dead, receiver.url()], timeout_seconds=1)
    assert time.monotonic() - started < 5
    first, second = result.deliveries
    assert not first.ok and first.url == dead.replace("/hook", "/***")  # scheme and host only
    assert first.error is not None and "connection error" in first.error.lower()
    assert second.ok and len(receiver.requests) == 1
    assert result.succeeded == (second.url,)
    assert result.failed == (first,)


def test_a_receiver_that_never_answers_times_out_quickly():
    with socket.socket() as silent:  # accepts connections (kernel backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"json://127.0.0.1:{silent.getsockname()[1]}/hook"
        started = time.monotonic()
        result = notify_run(FAILED_RUN, [url], timeout_seconds=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 5
    [delivery] = result.deliveries
    assert not delivery.ok and delivery.error


def test_an_http_error_status_is_a_failure_entry(receiver):
    receiver.status = 500
    [delivery] = notify_run(FAILED_RUN, [receiver.url()]).deliveries
    assert not delivery.ok
    assert delivery.error is not None and "500" in delivery.error
    assert len(receiver.requests) == 1  # no retries by default: one run, one message


def test_a_url_apprise_does_not_understand_is_a_failure_entry_named_by_position():
    result = notify_run(FAILED_RUN, [f"nosuchservice://{FAKE_SECRET}@x"], secrets=[FAKE_SECRET])
    assert result.deliveries[0].url == "notify URL #1"
    assert result.deliveries[0].error == "not a notification URL apprise understands"


def test_tokens_in_a_url_never_appear_in_what_is_shown_or_in_error_text():
    token = "T0KENabcdef123456"
    port = closed_port()
    urls = [f"gotify://127.0.0.1:{port}/{token}",  # a token in the path: apprise masks it
            f"json://127.0.0.1:{port}/x?:Authorization=Bearer%20{token}"]  # a custom header
    result = notify_run(FAILED_RUN, urls, timeout_seconds=1)
    assert [d.ok for d in result.deliveries] == [False, False]
    assert all(d.error for d in result.deliveries)
    assert token not in repr(result)
    assert [d.url for d in result.deliveries] == [f"gotify://127.0.0.1:{port}/***",
                                                  f"json://127.0.0.1:{port}/***"]


@pytest.mark.parametrize(("url", "shown"), [
    # a token in the path of a JSON webhook: apprise's privacy form shows it whole
    ("json://alerts.example.internal/p/SECRETPATHTOKEN", "json://alerts.example.internal/***"),
    ("jsons://hooks.example.com:8443/SECRETPATHTOKEN?x=1", "jsons://hooks.example.com:8443/***"),
    # apprise's own URL forms, where a token or an id stands where a host would
    # (apprise wiki: Notify_discord, Notify_slack, Notify_telegram, Notify_pushover)
    ("discord://123456789012/SECRETWEBHOOKTOKEN", "discord://***/***"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/SECRETPATHTOKEN", "slack://***/***"),
    ("tgram://123456789:SECRETBOTTOKEN/12315544", "tgram://***/***"),
    ("pover://SECRETUSERKEY@SECRETAPPTOKEN", "pover://***/***"),
    ("mailto://ops:SECRETPASSWORD@example.com", "mailto://example.com/***"),
    ("https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/SECRETPATHTOKEN",
     "https://hooks.slack.com/***"),
    ("json://127.0.0.1:9", "json://127.0.0.1:9"),
    ("json://[::1]:9/SECRETPATHTOKEN", "json://[::1]:9/***"),
    ("not a url", "notify URL #1"),
])
def test_a_notification_url_is_shown_as_its_scheme_and_host_only(url, shown):
    assert shown_url(url, 0) == shown
    assert "SECRET" not in shown_url(url, 0)


def test_a_path_token_is_in_no_delivery_field_and_no_error_text(receiver):
    receiver.status = 500  # the receiver refuses the notification
    token = "SECRETPATHTOKEN"
    urls = [receiver.url(path=f"/p/{token}"), f"json://127.0.0.1:{closed_port()}/p/{token}",
            f"discord://123456789012/{token}"]
    result = notify_run(FAILED_RUN, urls, timeout_seconds=1)
    assert [d.ok for d in result.deliveries] == [False, False, False]
    assert len(receiver.requests) == 1 and receiver.requests[0][0] == f"/p/{token}"
    assert token not in repr(result)
    assert [d.url for d in result.deliveries] == [
        f"json://127.0.0.1:{receiver.port}/***", urls[1].replace(f"/p/{token}", "/***"),
        "discord://***/***"]


@pytest.mark.parametrize(("on", "code", "sent", "kind"), [
    (NotifyOn.FAILURE, ExitCode.OK, False, None),
    (NotifyOn.FAILURE, ExitCode.MARKET_CLOSED, True, "failure"),
    (NotifyOn.SUCCESS, ExitCode.OK, True, "success"),
    (NotifyOn.SUCCESS, ExitCode.FAILED, False, None),
    (NotifyOn.ALWAYS, ExitCode.OK, True, "success"),
    (NotifyOn.ALWAYS, ExitCode.INTERRUPTED, True, "failure"),
])
def test_when_to_notify(receiver, on, code, sent, kind):
    report = RunReport("retirement", "verify", "261124150000oac003", code, "paper")
    result = notify_run(report, [receiver.url()], on=on)
    assert result.sent is sent
    assert [b["type"] for b in receiver.bodies()] == ([kind] if sent else [])
    if sent:
        assert "failed orders: none" in str(receiver.bodies()[0]["message"])


def test_no_urls_sends_nothing():
    assert notify_run(FAILED_RUN, []).sent is False


def test_a_long_list_of_failed_orders_is_cut_with_a_pointer_to_the_run(receiver):
    many = tuple(FailedOrder(f"S{i:03d}", "buy", "failed", "rejected") for i in range(40))
    report = RunReport("taxable", "rebalance", "261124150000oac004", 1, "live", many)
    notify_run(report, [receiver.url()])
    message = str(receiver.bodies()[0]["message"])
    assert "failed orders: 40" in message
    assert message.count("\n- S") == MAX_LISTED_ORDERS
    assert message.endswith("- ... and 15 more (alch show 261124150000oac004)")


def test_failed_orders_come_from_the_placement_results_with_their_reasons():
    async def body(h: Harness):
        h.sim.state.faults.reject_symbols = {"MSFT"}
        ok = await h.placement.place(OrderIntent("AAPL", Side.BUY, quantity=Decimal(1)),
                                     id_base="alch-t-AAPL")
        bad = await h.placement.place(OrderIntent("MSFT", Side.BUY, quantity=Decimal(1)),
                                      id_base="alch-t-MSFT")
        return [ok, bad]

    results = run_sim(body)
    assert [r.status for r in results] == [ExecutionStatus.FILLED, ExecutionStatus.FAILED]
    [order] = failed_orders(results)
    assert (order.symbol, order.side, order.status) == ("MSFT", "buy", "failed")
    assert order.reason == results[1].error and order.reason


def test_every_exit_code_has_a_one_line_meaning():
    assert set(EXIT_MEANINGS) == set(ExitCode)
    for code, meaning in EXIT_MEANINGS.items():
        assert meaning and "\n" not in meaning, code
        assert exit_meaning(int(code)) == meaning
    assert exit_meaning(42) == "unknown exit code 42 (not one of alch's)"


def test_apprise_is_loaded_only_when_a_notification_is_sent():
    code = ("import sys; from alchemiser_cli.cli.app import run; import alchemiser_cli.notify; "
            "rc = run(['--help']); print('apprise' in sys.modules); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_it_never_raises_even_when_sending_itself_breaks(receiver):
    # a negative timeout makes the HTTP client raise inside apprise's send
    result = notify_run(FAILED_RUN, [receiver.url()], timeout_seconds=-1)
    [delivery] = result.deliveries
    assert not delivery.ok and delivery.error
    assert receiver.requests == []


def test_without_apprise_every_url_gets_a_failure_entry_and_nothing_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # `import apprise` now fails
    result = notify_run(FAILED_RUN, ["json://127.0.0.1/a", "json://127.0.0.1/b"])
    assert [d.url for d in result.deliveries] == ["notify URL #1", "notify URL #2"]
    assert all(not d.ok and d.error and d.error.startswith("cannot load apprise: ModuleNotFoundError")
               for d in result.deliveries)


def test_the_module_sits_below_the_cli_and_loads_no_rich_typer_or_apprise():
    code = ("import sys, alchemiser_cli.notify; "
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('rich', 'typer', 'apprise')} | "
            "{m for m in sys.modules if m.startswith('alchemiser_cli.cli')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, check=True).stdout
    assert out.strip() == "[]"
