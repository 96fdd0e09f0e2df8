"""Credentials of named accounts (``[accounts.NAME]``): from environment variables or a
credentials file readable by its owner only, checked for stray whitespace and control
characters; and settings switched to one account."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from alchemiser_cli.settings import AccountSettings, Settings

#: What a key id or secret may not contain (an env file saved with CRLF line endings...).
UNPRINTABLE = re.compile(r"[\s\x00-\x1f\x7f]")
#: Alpaca key ids and secrets are printable ASCII: anything else (a typographic quote pasted
#: from a document) could never be right, and would fail in the HTTP headers as a crash.
NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]")
OUTSIDE_ASCII = ("a character outside printable ASCII (a typographic quote or dash pasted "
                 "from a document?); Alpaca keys are plain ASCII")


def credential_problem(value: str, whitespace: str) -> str | None:
    """Why ``value`` cannot be a key id or secret (None: it can), never quoting it.

    ``whitespace`` is what to say about a space or control character.
    """
    if UNPRINTABLE.search(value):
        return whitespace
    if NOT_PRINTABLE_ASCII.search(value):
        return OUTSIDE_ASCII
    return None


def with_account(settings: Settings, name: str | None, environ: Mapping[str, str]) -> Settings:
    """``settings`` working on account ``name``: its credentials, feed and URLs in place.

    Raises ValueError (a configuration error) for an unknown account, a credentials
    variable that is not set, or a credentials file others can read.
    """
    if name is None:
        return settings
    account = settings.accounts.get(name)
    if account is None:
        known = ", ".join(sorted(settings.accounts)) or "none are configured"
        raise ValueError(f"unknown account {name!r} (accounts: {known})")
    key, secret = account_credentials(name, account, environ)
    update: dict[str, Any] = {"account": name, "api_key_id": SecretStr(key),
                              "api_secret_key": SecretStr(secret)}
    for field in ("feed", "trading_url", "data_url", "data_stream_url", "trading_stream_url"):
        if getattr(account, field) is not None:
            update[field] = getattr(account, field)
    return settings.model_copy(update=update)


def credentials_source(settings: Settings, environ: Mapping[str, str]) -> str:
    """Where the credentials ``settings`` use come from, for a message that must name them
    (never their values): the account's variables or credentials file, else the variables
    that are set (``APCA_*`` unless only ``ALCH_*`` are)."""
    account = settings.selected_account
    if account is not None and account.credentials_file is not None:
        return f"the credentials file {account.credentials_file}"
    if account is not None and account.key_id_env and account.secret_key_env:
        return f"{account.key_id_env} and {account.secret_key_env}"
    if not {"APCA_API_KEY_ID", "APCA_API_SECRET_KEY"} & set(environ) and (
            {"ALCH_API_KEY_ID", "ALCH_API_SECRET_KEY"} & set(environ)):
        return "ALCH_API_KEY_ID and ALCH_API_SECRET_KEY"
    return "APCA_API_KEY_ID and APCA_API_SECRET_KEY"


def account_credentials(name: str, account: AccountSettings,
                        environ: Mapping[str, str]) -> tuple[str, str]:
    """The key id and secret of an account, from its variables or its credentials file."""
    if account.credentials_file is not None:
        values = read_credentials_file(account.credentials_file)
        key = values.get("APCA_API_KEY_ID", "")
        secret = values.get("APCA_API_SECRET_KEY", "")
        where = str(account.credentials_file)
    elif account.key_id_env and account.secret_key_env:
        key = environ.get(account.key_id_env, "")
        secret = environ.get(account.secret_key_env, "")
        where = f"{account.key_id_env} / {account.secret_key_env}"
    else:
        raise ValueError(f"accounts.{name}: give key_id_env and secret_key_env, or "
                         "credentials_file")
    if not key or not secret:
        raise ValueError(f"accounts.{name}: no credentials in {where}")
    for value, label in ((key, "key id"), (secret, "secret")):
        problem = credential_problem(value, "a space or a control character (CRLF line endings?)")
        if problem is not None:
            raise ValueError(f"accounts.{name}: the {label} in {where} contains {problem}; "
                             "the value is not shown")
    return key, secret


def read_credentials_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments allowed); the file must be readable by its owner
    only (mode 600 or 400), like an ssh key."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ValueError(f"credentials file {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise ValueError(f"credentials file {path} is readable by others (mode "
                         f"{mode & 0o777:o}); chmod 600 it")
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"credentials file {path}: expected KEY=VALUE lines")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip('"').strip("'")
    return values
