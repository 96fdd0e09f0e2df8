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

from alchemiser_cli.api.accounts import (
    AccountInfo,
    SettingValue,
    check_account,
    describe_settings,
    list_accounts,
    probe_account,
    redact_key,
)
from alchemiser_cli.api.checks import failed_config_checks, verify, verify_exit_code
from alchemiser_cli.api.history import (
    export_fills,
    journal_brokers,
    prometheus_text,
    prune_journal,
    read_metrics,
    recent_runs,
    run_audit,
)
from alchemiser_cli.api.inputs import (
    broker_mode,
    load_plan,
    load_settings,
    parse_plan,
    parse_plan_text,
    run,
)
from alchemiser_cli.api.session import AccountSummary, Session, endpoint, open_session
from alchemiser_cli.core.verify import Check, CheckStatus

__all__ = [
    "AccountInfo",
    "AccountSummary",
    "Check",
    "CheckStatus",
    "Session",
    "SettingValue",
    "broker_mode",
    "check_account",
    "describe_settings",
    "endpoint",
    "export_fills",
    "failed_config_checks",
    "journal_brokers",
    "list_accounts",
    "load_plan",
    "load_settings",
    "open_session",
    "parse_plan",
    "parse_plan_text",
    "probe_account",
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
