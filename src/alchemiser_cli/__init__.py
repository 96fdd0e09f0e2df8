"""alch: rebalance an Alpaca portfolio by walking the book.

The public Python API is the names in ``__all__`` (see :mod:`alchemiser_cli.api`);
everything else is private. Importing the package stays light — names load on first
use — so the ``alch`` command starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS: dict[str, str] = {
    # sessions and calls
    "Session": "alchemiser_cli.api", "open_session": "alchemiser_cli.api",
    "load_settings": "alchemiser_cli.api", "load_plan": "alchemiser_cli.api",
    "parse_plan": "alchemiser_cli.api", "read_metrics": "alchemiser_cli.api",
    "recent_runs": "alchemiser_cli.api", "run_audit": "alchemiser_cli.api",
    "prometheus_text": "alchemiser_cli.api", "verify": "alchemiser_cli.api",
    "verify_exit_code": "alchemiser_cli.api", "Check": "alchemiser_cli.api",
    "CheckStatus": "alchemiser_cli.api", "export_fills": "alchemiser_cli.api",
    "prune_journal": "alchemiser_cli.api", "list_accounts": "alchemiser_cli.api",
    "run": "alchemiser_cli.api", "AccountSummary": "alchemiser_cli.api",
    # what goes in
    "Settings": "alchemiser_cli.settings", "BrokerMode": "alchemiser_cli.brokers.factory",
    "Plan": "alchemiser_cli.domain.plan", "OrderIntent": "alchemiser_cli.domain.intents",
    "Side": "alchemiser_cli.domain.intents", "CloseType": "alchemiser_cli.domain.intents",
    "Urgency": "alchemiser_cli.domain.intents",
    # what comes out
    "ExecutionResult": "alchemiser_cli.domain.results",
    "ExecutionStatus": "alchemiser_cli.domain.results",
    "StepRecord": "alchemiser_cli.domain.results",
    "ValidationResult": "alchemiser_cli.domain.results",
    "AssessedQuote": "alchemiser_cli.domain.quotes",
    "RebalanceReport": "alchemiser_cli.core.rebalance",
    "PlannedTrade": "alchemiser_cli.domain.sizing", "Action": "alchemiser_cli.domain.sizing",
    "CheckRow": "alchemiser_cli.domain.events", "Metrics": "alchemiser_cli.core.metrics",
    "RunRow": "alchemiser_cli.journal.rows",
    # following a run live
    "Event": "alchemiser_cli.domain.events", "Observer": "alchemiser_cli.domain.events",
    # errors, each with its documented exit code
    "ExitCode": "alchemiser_cli.domain.errors", "AlchError": "alchemiser_cli.domain.errors",
    "UsageError": "alchemiser_cli.domain.errors", "ConfigError": "alchemiser_cli.domain.errors",
    "BrokerUnavailableError": "alchemiser_cli.domain.errors",
    "LockedError": "alchemiser_cli.domain.errors",
    "NotConfirmedError": "alchemiser_cli.domain.errors",
    "RefusedError": "alchemiser_cli.domain.errors",
    "MarketClosedError": "alchemiser_cli.domain.errors",
    "OtherRunError": "alchemiser_cli.domain.errors",
    "RunInterrupted": "alchemiser_cli.domain.errors",
}

__all__ = [
    "AccountSummary",
    "Action",
    "AlchError",
    "AssessedQuote",
    "BrokerMode",
    "BrokerUnavailableError",
    "Check",
    "CheckRow",
    "CheckStatus",
    "CloseType",
    "ConfigError",
    "Event",
    "ExecutionResult",
    "ExecutionStatus",
    "ExitCode",
    "LockedError",
    "MarketClosedError",
    "Metrics",
    "NotConfirmedError",
    "Observer",
    "OrderIntent",
    "OtherRunError",
    "Plan",
    "PlannedTrade",
    "RebalanceReport",
    "RefusedError",
    "RunInterrupted",
    "RunRow",
    "Session",
    "Settings",
    "Side",
    "StepRecord",
    "Urgency",
    "UsageError",
    "ValidationResult",
    "export_fills",
    "list_accounts",
    "load_plan",
    "load_settings",
    "open_session",
    "parse_plan",
    "prometheus_text",
    "prune_journal",
    "read_metrics",
    "recent_runs",
    "run",
    "run_audit",
    "verify",
    "verify_exit_code",
]

if TYPE_CHECKING:  # the real types, for type checkers and editors
    from alchemiser_cli.api import (
        Check,
        CheckStatus,
        Session,
        export_fills,
        list_accounts,
        load_plan,
        load_settings,
        open_session,
        parse_plan,
        prometheus_text,
        prune_journal,
        read_metrics,
        recent_runs,
        run,
        run_audit,
        verify,
        verify_exit_code,
    )
    from alchemiser_cli.brokers.factory import BrokerMode
    from alchemiser_cli.core.metrics import Metrics
    from alchemiser_cli.core.rebalance import RebalanceReport
    from alchemiser_cli.domain.errors import (
        AlchError,
        BrokerUnavailableError,
        ConfigError,
        ExitCode,
        LockedError,
        MarketClosedError,
        NotConfirmedError,
        OtherRunError,
        RefusedError,
        RunInterrupted,
        UsageError,
    )
    from alchemiser_cli.domain.events import CheckRow, Event, Observer
    from alchemiser_cli.domain.intents import CloseType, OrderIntent, Side, Urgency
    from alchemiser_cli.domain.plan import Plan
    from alchemiser_cli.domain.quotes import AssessedQuote
    from alchemiser_cli.domain.results import (
        ExecutionResult,
        ExecutionStatus,
        StepRecord,
        ValidationResult,
    )
    from alchemiser_cli.domain.sizing import Action, PlannedTrade
    from alchemiser_cli.journal.rows import RunRow
    from alchemiser_cli.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'alchemiser_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*globals(), *__all__]
