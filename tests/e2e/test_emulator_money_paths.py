"""Emulator behaviours that expose money-path mistakes, each switched on as a fault."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch
from tests.e2e.emulator import PLAN, admin, faults


def order_posts(emu) -> int:
    return admin(emu, "/_sim/requests")["counts"].get("POST /v2/orders", 0)


def test_an_order_created_then_500_is_adopted_never_posted_twice(capsys, emu):
    faults(emu, "submit_then_5xx=1", "limit_fills=false")  # one order, walked to market
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    submits = sum(1 for line in result.out.splitlines() if line.startswith("submit "))
    assert order_posts(emu) == submits == len(emu.state.orders)  # the 500'd one was adopted
    assert emu.state.position_qty("AAPL") == 61


def test_position_reads_that_lag_the_fill_are_waited_for(capsys, emu):
    faults(emu, "position_lag_seconds=1.5")
    result = alch(capsys, "place", "AAPL", "buy", "2", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert "check AAPL pass: position 62 as expected" in result.out
    assert admin(emu, "/_sim/requests")["counts"]["GET /v2/positions/{symbol}"] >= 2


def test_a_fill_the_stream_never_reports_is_found_over_rest(capsys, emu):
    faults(emu, "drop_event=fill:5", "drop_event=partial_fill:5")
    result = alch(capsys, "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert emu.state.position_qty("AAPL") == 61


def test_late_trade_updates_do_not_double_count(capsys, emu):
    faults(emu, "delay_events=1", "limit_fills=false")
    result = alch(capsys, "place", "MSFT", "sell", "2", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert emu.state.position_qty("MSFT") == 10


def test_a_margin_account_buys_with_cash_not_buying_power(capsys, emu):
    faults(emu, "margin_multiplier=2")
    request = urllib.request.Request(f"{emu.base_url}/v2/account", headers={
        "APCA-API-KEY-ID": "PKE2E", "APCA-API-SECRET-KEY": "e2e-secret"})
    with urllib.request.urlopen(request, timeout=5) as response:
        account = json.loads(response.read())
    # a margin account: multiplier "2" and buying_power = max(equity - initial_margin, 0) * 2
    # (Alpaca's OpenAPI trading-api.json, Account)
    assert Decimal(account["buying_power"]) > Decimal(account["cash"])
    assert account["multiplier"] == "2"
    result = alch(capsys, "rebalance", PLAN, "--paper")
    assert result.code == ExitCode.OK, result.out + result.err
    assert Decimal(emu.state.cash) >= 0  # never borrowed


def test_asynchronous_cancels_with_fills_meanwhile_never_overbuy(capsys, emu):
    faults(emu, "cancel_latency=0.5", "limit_fills=false")
    result = alch(capsys, "place", "AAPL", "buy", "3", "--paper")
    assert result.code == ExitCode.OK, result.err
    assert emu.state.position_qty("AAPL") == 63
    statuses = [o.status for o in emu.state.orders.values()]
    assert statuses.count("filled") >= 1 and "pending_cancel" not in statuses


@pytest.mark.slow  # every failing lookup is retried with backoff: about 25 s
def test_a_post_whose_outcome_is_unknown_and_whose_lookups_fail_is_swept_not_duplicated(capsys,
                                                                                         emu):
    # The order POST creates the order, then answers 500; every lookup by client_order_id
    # fails. The walk resends the *same* id (the broker refuses it as a duplicate, 422
    # "client_order_id must be unique"), cannot establish the order's state, and stops
    # (exit 4); before exiting the run cancels the order it could not see (nothing is left
    # working: the emu fixture checks), and no second order exists.
    faults(emu, "submit_then_5xx=1", "fail_path=/v2/orders:by_client_order_id",
           "limit_fills=false")
    result = alch(capsys, "place", "SMLB", "buy", "2", "--paper")
    assert result.code == ExitCode.BROKER, result.out + result.err
    assert "already used but not found" in result.out + result.err
    assert "cancelling open order alch-" in result.err
    assert order_posts(emu) == 2
    assert [(o.client_order_id.rsplit("-", 1)[-1], o.status) for o in emu.state.orders.values()] \
        == [("1", "canceled")]
    assert emu.state.position_qty("SMLB") == 0
    faults(emu, "fail_path=")
