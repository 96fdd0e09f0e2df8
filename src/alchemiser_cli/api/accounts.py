"""The configured accounts (``alch accounts``) and the effective settings
(``alch config show``), never showing a secret."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.core.session import open_connection
from alchemiser_cli.settings import Settings


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
    #: where its alerts go, as scheme and host only (notification URLs carry tokens)
    notify_urls: tuple[str, ...] = ()


def list_accounts(settings: Settings) -> list[AccountInfo]:
    """The ``[accounts.NAME]`` tables, with whether their credentials are present."""
    import os

    from alchemiser_cli.credentials import with_account

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
                                 acc.feed or settings.feed, len(acc.notify), acc.notify_on,
                                 notify_urls=shown_urls(acc.notify)))
    return infos


async def check_account(settings: Settings, name: str) -> str:
    """Open the account and read its status: ``ACTIVE``, or why it cannot be reached."""
    return (await _check(settings, name))[0]


async def probe_account(settings: Settings, info: AccountInfo) -> AccountInfo:
    """``info`` after connecting to its account: ``reachable`` is its status or why it could
    not be reached; credentials the broker refuses are a ``problem`` (a configuration
    error, exit 3) that names where they come from."""
    if info.problem is not None:
        return info
    reachable, refused = await _check(settings, info.name)
    return replace(info, reachable=reachable, problem=refused)


async def _check(settings: Settings, name: str) -> tuple[str, str | None]:
    """The account's state, and why its credentials were refused (None: they were not)."""
    import os

    from alchemiser_cli.brokers.port import BrokerAuthError, BrokerError
    from alchemiser_cli.credentials import with_account
    from alchemiser_cli.domain.errors import AlchError

    try:
        resolved = with_account(settings, name, os.environ)
        mode = BrokerMode(resolved.accounts[name].mode)
        async with open_connection(mode, resolved) as conn:
            account = await conn.broker.get_account()
    except BrokerAuthError as exc:
        return "refused", str(exc)
    except (ValueError, AlchError, BrokerError, OSError) as exc:
        return f"unreachable: {exc}", None
    return f"reachable, status {account.status}" + ("" if account.active else ", BLOCKED"), None


def shown_urls(urls: tuple[str, ...]) -> tuple[str, ...]:
    """Notification URLs as they may be shown: scheme and host, the rest masked."""
    from alchemiser_cli.notify import shown_url

    return tuple(shown_url(url, index) for index, url in enumerate(urls))


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

    from alchemiser_cli.settings_sources import flat_settings, value_sources

    sources = value_sources(settings, flags or {}, os.environ)
    out = []
    for key, value in flat_settings(settings).items():
        if isinstance(value, SecretStr):
            shown = redact_key(value.get_secret_value()) if value.get_secret_value() else ""
        elif isinstance(value, tuple | list):
            shown = ", ".join(shown_urls(tuple(value)) if key == "notify" else map(str, value))
        else:
            shown = "" if value is None else str(value)
        out.append(SettingValue(key, shown, sources[key]))
    return out
