"""Operating alch: two named accounts side by side (one emulator each), alerts to a local
receiver, fills for accounting and a pruned journal."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alchemiser_cli.brokers.sim.server import EmulatorThread
from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch, records
from tests.e2e.emulator import FAST, faults
from tests.unit.test_notify import receiver  # noqa: F401 - the local HTTP receiver fixture

PLAN = str(Path(__file__).parents[2] / "config" / "example-plan.toml")
KEYS = {"taxable": ("PKTAXABLE0001", "taxable-secret-1"),
        "retirement": ("PKRETIRE00002", "retirement-secret-2")}


@pytest.fixture
def two_accounts(tmp_path, monkeypatch) -> Iterator[dict[str, EmulatorThread]]:
    """Two accounts, each on its own emulator, configured as [accounts.NAME] tables."""
    with EmulatorThread(key=KEYS["taxable"][0], secret=KEYS["taxable"][1],
                        tick_seconds=0.05) as taxable, \
         EmulatorThread(key=KEYS["retirement"][0], secret=KEYS["retirement"][1],
                        tick_seconds=0.05) as retirement:
        emus = {"taxable": taxable, "retirement": retirement}
        tables = []
        for name, emu in emus.items():
            env = name.upper()
            monkeypatch.setenv(f"{env}_KEY", KEYS[name][0])
            monkeypatch.setenv(f"{env}_SECRET", KEYS[name][1])
            tables.append(
                f'[accounts.{name}]\nmode = "{"live" if name == "retirement" else "paper"}"\n'
                f'key_id_env = "{env}_KEY"\nsecret_key_env = "{env}_SECRET"\n'
                f'trading_url = "{emu.base_url}"\ndata_url = "{emu.base_url}"\n'
                f'data_stream_url = "{emu.ws_url}/v2/iex"\n'
                f'trading_stream_url = "{emu.ws_url}/stream"\n')
        (tmp_path / "alch.toml").write_text("\n".join(tables))
        monkeypatch.setenv("ALCH_CONFIG", str(tmp_path / "alch.toml"))
        for key, value in FAST.items():
            monkeypatch.setenv(key, value)
        yield emus


def test_two_accounts_side_by_side(capsys, two_accounts, tmp_path):
    listed = alch(capsys, "accounts", "--json", raw=True)
    assert listed.code == 0, listed.err
    rows = {row["name"]: row for row in records(listed.out, "account")}
    assert rows["taxable"]["mode"] == "paper" and rows["retirement"]["mode"] == "live"
    assert rows["taxable"]["key"] == "PK…0001" and rows["taxable"]["problem"] is None
    for key, secret in KEYS.values():
        assert key not in listed.out and secret not in listed.out
    checked = alch(capsys, "accounts", "--check", "--json")
    assert checked.code == 0, checked.err
    assert all(row["reachable"] == "reachable, status ACTIVE"
               for row in records(checked.out, "account"))

    # a live account is only traded with an explicit --live; a paper one never with --live
    wrong = alch(capsys, "--account", "retirement", "rebalance", PLAN, "--paper")
    assert wrong.code == ExitCode.USAGE
    assert wrong.err == "error: account retirement is a live account: use --live\n"

    taxable = alch(capsys, "--account", "taxable", "rebalance", PLAN, "--paper")
    assert taxable.code == 0, taxable.err
    retirement = alch(capsys, "--account", "retirement", "place", "AAPL", "buy", "2", "--live",
                      "--yes")
    assert retirement.code == 0, retirement.err
    # each account's orders went to its own broker only
    assert two_accounts["retirement"].state.position_qty("AAPL") == 62
    assert {o.symbol for o in two_accounts["retirement"].state.orders.values()} == {"AAPL"}
    assert "TSLA" not in two_accounts["taxable"].state.positions

    runs = alch(capsys, "runs", "--json", raw=True)
    accounts = [row["account"] for row in records(runs.out, "run")]
    assert accounts == ["retirement", "taxable"]
    only = alch(capsys, "--account", "taxable", "runs", "--json", raw=True)
    assert [row["account"] for row in records(only.out, "run")] == ["taxable"]
    metrics = alch(capsys, "--account", "retirement", "metrics", "--json")
    assert records(metrics.out, "metrics")[0]["orders"] == 1
    # one textfile for both: every series labelled with its account and broker
    prom = alch(capsys, "metrics", "--prom", raw=True).out
    assert 'alch_runs{account="retirement",broker="live"} 1\n' in prom
    assert 'alch_runs{account="taxable",broker="paper"} 1\n' in prom
    assert 'alch_orders{account="retirement",broker="live",outcome="placed"} 1\n' in prom
    assert 'alch_last_run_exit_code{account="taxable",broker="paper",command="rebalance"} 0\n' in prom
    assert 'account="default"' not in prom


def test_a_refused_key_is_a_configuration_error_naming_where_that_account_s_keys_come_from(
        capsys, two_accounts, monkeypatch, tmp_path):
    faults(two_accounts["taxable"], "revoked")  # the emulator refuses every key (403)
    checked = alch(capsys, "accounts", "--check", "--json")
    assert checked.code == ExitCode.CONFIG, checked.out + checked.err  # BrokerAuthError -> 3
    rows = {row["name"]: row for row in records(checked.out, "account")}
    assert rows["retirement"]["reachable"] == "reachable, status ACTIVE"
    assert rows["retirement"]["problem"] is None
    refused = rows["taxable"]["problem"]
    assert refused.startswith("the broker refused the credentials (HTTP 403"), refused
    assert "check TAXABLE_KEY and TAXABLE_SECRET" in refused
    assert "APCA_API" not in checked.out + checked.err
    # a command on that account names the same variables
    placed = alch(capsys, "--account", "taxable", "place", "AAPL", "buy", "1", "--paper")
    assert placed.code == ExitCode.CONFIG
    assert "check TAXABLE_KEY and TAXABLE_SECRET" in placed.err and "APCA_API" not in placed.err

    # keys from a credentials file: the file is named
    env = tmp_path / "taxable.env"
    env.write_text(f"APCA_API_KEY_ID={KEYS['taxable'][0]}\nAPCA_API_SECRET_KEY=revoked\n")
    env.chmod(0o600)
    config = (tmp_path / "alch.toml").read_text().replace(
        'key_id_env = "TAXABLE_KEY"\nsecret_key_env = "TAXABLE_SECRET"',
        f'credentials_file = "{env}"')
    (tmp_path / "alch.toml").write_text(config)
    from_file = alch(capsys, "accounts", "--check", "--json")
    assert from_file.code == ExitCode.CONFIG
    row = {r["name"]: r for r in records(from_file.out, "account")}["taxable"]
    assert f"check the credentials file {env}" in row["problem"], row
    assert "APCA_API_KEY_ID and" not in from_file.out + from_file.err
    shown = alch(capsys, "accounts", "--check")  # the table names the file too
    assert shown.code == ExitCode.CONFIG and f"check the credentials file {env}" in shown.out


def test_an_unreachable_account_still_exits_4(capsys, two_accounts, tmp_path):
    config = (tmp_path / "alch.toml").read_text().replace(
        two_accounts["retirement"].base_url, "http://127.0.0.1:9")  # nothing listens there
    (tmp_path / "alch.toml").write_text(config)
    checked = alch(capsys, "accounts", "--check", "--json")
    assert checked.code == ExitCode.BROKER, checked.err
    rows = {row["name"]: row for row in records(checked.out, "account")}
    assert rows["retirement"]["reachable"].startswith("unreachable: ")
    assert rows["retirement"]["problem"] is None
    assert rows["taxable"]["reachable"] == "reachable, status ACTIVE"


def test_a_token_in_a_notification_url_is_never_printed_shown_or_journaled(
        capsys, two_accounts, receiver, tmp_path):  # noqa: F811
    token = "SECRETPATHTOKEN0042"
    hook = receiver.url(path=f"/p/{token}")
    receiver.status = 500  # a receiver that refuses: the failure is reported and journaled
    config = (tmp_path / "alch.toml").read_text()
    (tmp_path / "alch.toml").write_text(
        f'notify = ["discord://123456789012/{token}"]\nnotify_on = "always"\n' + config.replace(
            '[accounts.taxable]\n', f'[accounts.taxable]\nnotify = ["{hook}"]\n'
                                    'notify_on = "always"\n'))
    outputs = []
    for args in (("--account", "taxable", "place", "AAPL", "buy", "1", "--paper"),
                 ("--account", "taxable", "place", "AAPL", "buy", "1", "--paper", "--json",
                  "--notify", f"json://127.0.0.1:9/p/{token}"),
                 ("runs", "--json"), ("accounts",), ("accounts", "--json"),
                 ("--account", "taxable", "config", "show"),
                 ("--account", "taxable", "config", "show", "--json")):
        result = alch(capsys, *args, raw=True)
        assert result.code in (0, ExitCode.FAILED), result.err
        outputs.append(result.out + result.err)
    assert len(receiver.requests) == 2  # it was called, with its token, and refused
    run_id = records(outputs[2], "run")[0]["run_id"]
    shown = alch(capsys, "show", run_id, "--events", "--json", raw=True)
    outputs.append(shown.out + shown.err)
    assert f"notification to json://127.0.0.1:{receiver.port}/*** failed" in outputs[0]
    assert "notification to discord://***/*** failed" in outputs[0]
    assert f"json://127.0.0.1:{receiver.port}/***" in outputs[4]  # accounts lists it masked
    assert "discord://***/***" in outputs[5]  # config show lists it masked
    for text in outputs:
        assert token not in text
    data = tmp_path / "data"
    for path in data.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path  # journal, WAL, sim state


def test_a_plan_that_names_another_account_is_refused(capsys, two_accounts, tmp_path):
    (tmp_path / "p.toml").write_text('[plan]\naccount = "retirement"\n[targets]\nSPY = 0.3\n')
    result = alch(capsys, "--account", "taxable", "rebalance", "p.toml", "--paper")
    assert result.code == ExitCode.USAGE
    assert result.err == ("error: the plan is for account 'retirement' but --account is "
                          "'taxable'; nothing placed\n")
    assert not two_accounts["taxable"].state.orders


def test_missing_credentials_of_an_account_are_a_configuration_error(capsys, two_accounts,
                                                                     monkeypatch):
    monkeypatch.delenv("TAXABLE_SECRET")
    result = alch(capsys, "--account", "taxable", "place", "AAPL", "buy", "1", "--paper")
    assert result.code == ExitCode.CONFIG
    assert result.err == ("error: invalid configuration: accounts.taxable: no credentials in "
                          "TAXABLE_KEY / TAXABLE_SECRET\n")
    assert not two_accounts["taxable"].state.orders


def test_a_failing_run_posts_one_alert_and_keeps_its_exit_code(capsys, two_accounts, receiver,  # noqa: F811
                                                              tmp_path):
    faults(two_accounts["taxable"], "reject_symbols=GLD")
    result = alch(capsys, "--account", "taxable", "rebalance", PLAN, "--paper", "--notify",
                  receiver.url(), raw=True)
    assert result.code == ExitCode.FAILED
    assert len(receiver.requests) == 1
    posted = receiver.bodies()[0]
    assert posted["type"] == "failure"
    assert posted["title"] == "alch rebalance FAILED on taxable (paper): exit 1"
    message = str(posted["message"])
    assert "account: taxable\ncommand: rebalance\nrun: " in message
    assert "exit code: 1 (the run completed but an order or the portfolio check failed)" in message
    assert "- GLD buy failed: rejected: simulated rejection" in message
    for key, secret in KEYS.values():
        assert key not in message and secret not in message
    # a success sends nothing (notify_on = failure), a dead receiver never changes the code
    ok = alch(capsys, "--account", "taxable", "place", "AAPL", "buy", "1", "--paper",
              "--notify", receiver.url())
    assert ok.code == 0 and len(receiver.requests) == 1
    faults(two_accounts["taxable"], "reject_symbols=AAPL")
    dead = alch(capsys, "--account", "taxable", "place", "AAPL", "buy", "1", "--paper",
                "--notify", "json://127.0.0.1:9/hook")
    assert dead.code == ExitCode.FAILED
    # only the scheme and host of a notification URL are ever shown (its path may be a token)
    assert "warning: notification to json://127.0.0.1:9/*** failed: " in dead.err


def test_fills_export_and_prune(capsys, tmp_path):
    assert alch(capsys, "sim", "reset").code == 0
    assert alch(capsys, "rebalance", PLAN, "--sim").code == 0
    exported = alch(capsys, "fills", "--csv", raw=True)
    rows = list(csv.DictReader(io.StringIO(exported.out)))
    assert len(rows) == 7
    assert set(rows[0]) == {"time", "account", "broker", "symbol", "side", "qty", "price",
                            "order_id", "client_order_id", "run_id"}
    assert {r["symbol"]: r["side"] for r in rows}["TSLA"] == "sell"
    assert all(r["client_order_id"].startswith(f"alch-{r['run_id']}-") for r in rows)
    out = tmp_path / "fills.json"
    assert alch(capsys, "fills", "--json", "--output", str(out)).code == 0
    assert len(out.read_text().splitlines()) == 7

    dry = alch(capsys, "prune", "--older-than", "0d", "--dry-run", "--json")
    assert json.loads(dry.out)["runs"] == 1
    assert len(records(alch(capsys, "runs", "--json").out, "run")) == 1  # nothing deleted yet
    done = alch(capsys, "prune", "--older-than", "0d", "--json")
    assert json.loads(done.out)["runs"] == 1 and json.loads(done.out)["events"] > 0
    assert records(alch(capsys, "runs", "--json").out, "run") == []
    assert alch(capsys, "fills", "--csv").out.splitlines() == [",".join(
        ["time", "account", "broker", "symbol", "side", "qty", "price", "order_id",
         "client_order_id", "run_id"])]
    kept = alch(capsys, "prune", "--older-than", "7d", "--json")
    assert json.loads(kept.out)["runs"] == 0

