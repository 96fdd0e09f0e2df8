"""The preflight checklist (``alch verify``) and its exit code."""

from __future__ import annotations

from collections.abc import Sequence

from alchemiser_cli.api.inputs import BrokerName, broker_mode, load_settings, symbol_list
from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.core.verify import Check
from alchemiser_cli.domain.errors import (
    ConfigError,
    ExitCode,
)
from alchemiser_cli.settings import Settings


async def verify(broker: BrokerMode | BrokerName = "paper", *, settings: Settings | None = None,
                 symbol: str = "SPY") -> list[Check]:
    """The preflight checklist of every component: config, credentials, broker, account,
    market clock, data feeds, streaming and REST quotes, trade stream, walk profiles,
    journal, lock. A check whose prerequisite failed is skipped. See :func:`verify_exit_code`.
    """
    from alchemiser_cli.core.verify import broker_checks, config_failure, in_order, local_checks

    mode = broker_mode(broker)
    probe = symbol_list([symbol])[0]
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
