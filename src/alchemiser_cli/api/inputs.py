"""What every call takes in: settings, plans, broker names and symbols, each checked
strictly (a problem is an :class:`AlchError` with its exit code), and :func:`run`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.domain.errors import (
    ConfigError,
    UsageError,
)
from alchemiser_cli.domain.intents import IntentError, normalize_symbol
from alchemiser_cli.domain.plan import Plan, PlanError
from alchemiser_cli.domain.plan import load_plan as _load_plan
from alchemiser_cli.domain.plan import parse_plan as _parse_plan
from alchemiser_cli.settings import Settings

T = TypeVar("T")
BrokerName = Literal["sim", "paper", "live"]


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from keyword overrides > environment > config file > defaults.

    ``config_file`` (or ``ALCH_CONFIG``) is read when given, else ``./config/alch.toml``
    or the user's config file if one exists. Problems raise :class:`ConfigError` (exit 3),
    without repeating any value (it may be a secret).
    """
    from pydantic import ValidationError

    from alchemiser_cli.logs import protect_secrets
    from alchemiser_cli.settings import load_settings as _load

    try:
        settings = _load(config_file, **overrides)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        hint = _key_hint(first["loc"]) if first["type"] == "extra_forbidden" else ""
        raise ConfigError(f"invalid configuration: {where}: {first['msg']}{hint}") from None
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    protect_secrets(settings.secrets())
    return settings


def _key_hint(loc: Sequence[int | str]) -> str:
    """``(did you mean max_order_notional?)`` for a mistyped config key."""
    import difflib

    from pydantic import BaseModel

    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            args = getattr(annotation, "__args__", ())  # dict[str, Model]: the next part is a key
            model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                         model)
    names = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def load_plan(path: str | Path) -> Plan:
    """A plan file, strictly validated; problems raise :class:`UsageError` (exit 2)."""
    try:
        return _load_plan(Path(path))
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def parse_plan(text: str, source: str = "plan") -> Plan:
    """A plan from TOML text, strictly validated; problems raise :class:`UsageError`."""
    try:
        return _parse_plan(text, source)
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def parse_plan_text(text: str, source: str) -> Plan:
    """A plan in the format ``source``'s extension names (TOML, CSV or JSON)."""
    from alchemiser_cli.domain.plan_formats import PlanFormat, parse_any

    try:
        return parse_any(text, source, PlanFormat.from_path(Path(source)))
    except PlanError as exc:
        raise UsageError(str(exc)) from None


def broker_mode(broker: BrokerMode | BrokerName) -> BrokerMode:
    try:
        return BrokerMode(broker)
    except ValueError:
        raise UsageError(f"unknown broker {broker!r}: use sim, paper or live") from None


def run(main: Callable[[], Coroutine[Any, Any, T]], *, virtual_time: bool = True) -> T:
    """Run ``main()`` the way the CLI does: signals cancel it cleanly (open orders are
    cancelled first), and with ``virtual_time`` idle waits take no time (the simulator)."""
    from alchemiser_cli.clock import run as _run

    return _run(main, virtual=virtual_time)


def as_plan(plan: Plan | str | Path) -> Plan:
    return plan if isinstance(plan, Plan) else load_plan(plan)


def symbol_list(symbols: Sequence[str]) -> list[str]:
    if isinstance(symbols, str):
        symbols = [symbols]
    try:
        names = list(dict.fromkeys(normalize_symbol(s) for s in symbols))
    except IntentError as exc:
        raise UsageError(str(exc)) from None
    if not names:
        raise UsageError("give at least one symbol")
    return names
