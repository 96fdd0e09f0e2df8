"""The effective settings as ``alch config show`` lists them: every key flattened, and
where each got its value (a flag, the environment, the config file, the account, or the
default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from alchemiser_cli.settings import Settings


def value_sources(settings: Settings, overrides: Mapping[str, Any],
                  environ: Mapping[str, str]) -> dict[str, str]:
    """Where each top-level key or ``section.key`` got its value: a flag, an environment
    variable, the config file, the account, or the default."""
    import tomllib

    file_keys: set[str] = set()
    if settings.config_file is not None:
        raw = tomllib.loads(settings.config_file.read_text())
        for key, value in raw.items():
            file_keys.add(key)
            if isinstance(value, dict):
                file_keys.update(f"{key}.{inner}" for inner in value)
                file_keys.update(f"{key}.{inner}.{leaf}" for inner, sub in value.items()
                                 if isinstance(sub, dict) for leaf in sub)
    aliases = {"api_key_id": ("APCA_API_KEY_ID", "ALCH_API_KEY_ID"),
               "api_secret_key": ("APCA_API_SECRET_KEY", "ALCH_API_SECRET_KEY")}

    def source(key: str) -> str:
        top = key.split(".", 1)[0]
        if overrides.get(top) is not None:
            return "flag"
        names = (*aliases.get(key, ()), f"ALCH_{key.upper().replace('.', '__')}")
        for name in names:
            if name in environ:
                return f"env {name}"
        if settings.account and key in ("api_key_id", "api_secret_key", "feed", "trading_url",
                                         "data_url", "data_stream_url", "trading_stream_url"):
            account = settings.accounts[settings.account]
            if key.startswith("api_") or getattr(account, key, None) is not None:
                return f"account {settings.account}"
        if key in file_keys:
            return f"file {settings.config_file}"
        return "default"

    return {key: source(key) for key in flat_settings(settings)}


def flat_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as ``key`` or ``section.key`` (profiles as ``profiles.NAME.key``)."""
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            for inner in type(value).model_fields:
                out[f"{name}.{inner}"] = getattr(value, inner)
        elif name == "profiles":
            for urgency, profile in value.items():
                for inner in type(profile).model_fields:
                    out[f"profiles.{urgency}.{inner}"] = getattr(profile, inner)
        elif name != "accounts":
            out[name] = value
    return out
