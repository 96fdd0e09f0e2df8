"""Settings: flags > environment (``ALCH_*``, ``APCA_*``) > config file > defaults.

Config file: ``--config PATH`` or ``ALCH_CONFIG``; otherwise the first of
``./config/alch.toml`` and ``$XDG_CONFIG_HOME/alch/config.toml`` that exists.
Unknown keys are rejected so a typo never silently falls back to a default.
Secrets are ``SecretStr`` and never rendered.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from alchemiser_cli.credentials import credential_problem, with_account
from alchemiser_cli.domain.intents import Urgency
from alchemiser_cli.domain.ladder import (
    FinalStep,
    LadderKind,
    WalkProfile,
    named_profile,
    validate_ratios,
)
from alchemiser_cli.domain.quotes import QuotePolicy
from alchemiser_cli.endpoint_urls import check_endpoint_url


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ProfileSettings(_Section):
    """One urgency's walk: a named profile (``profile``), any key of which can be overridden.

    After validation every field is filled in, so two settings that walk the same way
    compare equal however they were written.
    """

    profile: str | None = None  # seed, ticks, patient, pegged, midpoint, market, marketable
    ratios: tuple[Decimal, ...] | None = None
    step_wait_seconds: float | None = Field(None, gt=0, le=3600)
    market_wait_seconds: float | None = Field(None, gt=0, le=3600)
    ladder: LadderKind | None = None
    reprice: bool | None = None
    min_dwell_seconds: float | None = Field(None, gt=0, le=3600)
    max_reprices: int | None = Field(None, ge=0)
    final: FinalStep | None = None
    collar_bps: Decimal | None = Field(None, gt=0, le=1000)
    min_spread_ticks: int | None = Field(None, ge=1)

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: tuple[Decimal, ...] | None) -> tuple[Decimal, ...] | None:
        if value is not None:
            validate_ratios(value)
        return value

    def resolved(self, default: str) -> ProfileSettings:
        """Every field filled in from the named profile (``default`` when none is named)."""
        name = self.profile or default
        overrides = {k: v for k, v in self.model_dump(exclude={"profile"}).items()
                     if v is not None}
        base = asdict(named_profile(name, **overrides))
        base.pop("name")
        return ProfileSettings(profile=name, **base)

    def to_profile(self) -> WalkProfile:
        data = self.resolved(self.profile or "seed").model_dump()
        name = data.pop("profile")
        return WalkProfile(**data, name=name)


#: The named profile each urgency uses unless the config names another
#: (chosen from the cost benchmark: bench/README.md).
DEFAULT_PROFILE_NAMES: dict[Urgency, str] = {
    Urgency.LOW: "patient",
    Urgency.MEDIUM: "ticks",
    Urgency.HIGH: "market",
}


def _default_profiles() -> dict[Urgency, ProfileSettings]:
    return {u: ProfileSettings().resolved(name) for u, name in DEFAULT_PROFILE_NAMES.items()}


class QuoteSettings(_Section):
    stream_timeout_seconds: float = Field(5.0, gt=0, le=60)
    max_age_seconds: float = Field(10.0, gt=0, le=3600)
    max_spread_bps: Decimal = Field(Decimal("500"), gt=0, le=10000)

    def to_policy(self) -> QuotePolicy:
        return QuotePolicy(max_age_seconds=self.max_age_seconds, max_spread_bps=self.max_spread_bps)


class ExecutionSettings(_Section):
    cancel_confirm_seconds: float = Field(10.0, gt=0, le=300)
    poll_interval_seconds: float = Field(1.0, gt=0, le=60)
    #: shares; a check passes within this (a full close must end at exactly 0)
    validation_tolerance: Decimal = Field(Decimal("0.001"), ge=0, le=1)
    validation_timeout_seconds: float = Field(30.0, gt=0, le=600)
    rate_limit_per_minute: int = Field(200, gt=0, le=100000)
    #: a safety limit only: how many orders walk at once is set by the shared request budget
    max_concurrent_orders: int = Field(1000, gt=0, le=10000)
    http_timeout_seconds: float = Field(10.0, gt=0, le=120)
    #: --cancel-orphans cancels other installations' alch orders only when this old
    orphan_min_age_seconds: float = Field(900.0, ge=0, le=7 * 86400)
    #: Record the mid this long after each fill (a mark-out, from the quote stream); 0: off.
    markout_seconds: float = Field(5.0, ge=0, le=300)


class GuardSettings(_Section):
    max_order_notional: Decimal = Field(Decimal("100000"), gt=0, le=Decimal("1e12"))
    max_turnover_fraction: Decimal = Field(Decimal("1.0"), gt=0, le=100)
    #: Buys are sized so that price moves up to this fraction still fit the cash.
    buy_price_reserve: Decimal = Field(Decimal("0.005"), ge=0, lt=1)
    #: A confirmed rebalance refuses when a trade's quantity grew more than this fraction
    #: above what was shown and confirmed (prices move while the operator reads).
    approval_tolerance: Decimal = Field(Decimal("0.05"), ge=0, le=1)


INSTALLATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AccountSettings(_Section):
    """One named account, ``[accounts.NAME]``: where its credentials come from and how it
    is reached. Credentials are never in the config: the names of environment variables
    that hold them, or a credentials file readable only by its owner."""

    mode: Literal["paper", "live"] = "paper"
    key_id_env: str | None = None
    secret_key_env: str | None = None
    credentials_file: Path | None = None
    feed: str | None = None
    trading_url: str | None = None
    data_url: str | None = None
    data_stream_url: str | None = None
    trading_stream_url: str | None = None
    notify: tuple[str, ...] = ()
    notify_on: Literal["failure", "success", "always"] = "failure"

    @field_validator("key_id_env", "secret_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("trading_url", "data_url", "data_stream_url", "trading_stream_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_endpoint_url(str(info.field_name), value)


class MarketClassSettings(_Section):
    """Overrides of one liquidity class of the simulated market (``[sim.market.<class>]``).

    The keys are those of ``brokers.sim.market.ClassParams``; the defaults and their
    sources are listed in bench/README.md.
    """

    volatility_bps_per_sqrt_second: float | None = Field(None, ge=0)
    spread_ticks: tuple[tuple[int, float], ...] | None = None
    spread_bps: tuple[float, float] | None = None
    spread_regime_seconds: float | None = Field(None, gt=0)
    contra_rate_per_second: float | None = Field(None, ge=0)
    contra_size_mean: float | None = Field(None, gt=0)
    flow_variance_share: float | None = Field(None, ge=0, le=1)
    queue_depth: tuple[float, float] | None = None
    queue_cancel_rate_per_second: float | None = Field(None, ge=0)
    adverse_selection_half_spreads: float | None = Field(None, ge=0)
    market_eq: float | None = Field(None, ge=0, le=1)
    penny_jump_rate_per_second: float | None = Field(None, ge=0)

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SimSettings(_Section):
    seed: int = 7
    #: Run the simulator on the wall clock instead of virtual time (to watch a walk).
    realtime: bool = False
    #: Market model overrides per liquidity class: mega, mid, small.
    market: dict[str, MarketClassSettings] = Field(default_factory=dict)

    @field_validator("market")
    @classmethod
    def _classes(cls, value: dict[str, MarketClassSettings]) -> dict[str, MarketClassSettings]:
        unknown = sorted(set(value) - {"mega", "mid", "small"})
        if unknown:
            raise ValueError(f"unknown liquidity class {', '.join(unknown)}: use mega, mid, small")
        return value


class Settings(BaseSettings):
    """Everything configurable. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="ALCH_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    api_key_id: SecretStr | None = Field(
        None, validation_alias=AliasChoices("api_key_id", "APCA_API_KEY_ID", "ALCH_API_KEY_ID")
    )
    api_secret_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("api_secret_key", "APCA_API_SECRET_KEY", "ALCH_API_SECRET_KEY"),
    )
    trading_url: str | None = None
    data_url: str | None = None
    data_stream_url: str | None = None
    trading_stream_url: str | None = None
    feed: str = "auto"  # auto: SIP when the account has it, else IEX (with a warning)
    data_dir: Path = Field(default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "alch")
    quotes: QuoteSettings = QuoteSettings()
    execution: ExecutionSettings = ExecutionSettings()
    guards: GuardSettings = GuardSettings()
    profiles: dict[Urgency, ProfileSettings] = Field(default_factory=_default_profiles)
    sim: SimSettings = SimSettings()
    #: the account this command works on (``--account`` / ``ALCH_ACCOUNT``)
    account: str | None = None
    accounts: dict[str, AccountSettings] = Field(default_factory=dict)
    #: apprise URLs notified after each run (besides the account's own), and when
    notify: tuple[str, ...] = ()
    notify_on: Literal["failure", "success", "always"] = "failure"
    #: what names this installation in its run ids and orders (default: the hostname). Set
    #: it where every run gets a new hostname (containers, Kubernetes pods) on one data
    #: directory; never give two machines, or two copies of a data directory, one name.
    installation: str | None = None

    #: the config file these settings were read from (None: defaults and environment only)
    _config_file: Path | None = PrivateAttr(default=None)

    @property
    def config_file(self) -> Path | None:
        return self._config_file

    @field_validator("accounts")
    @classmethod
    def _account_names(cls, value: dict[str, AccountSettings]) -> dict[str, AccountSettings]:
        for name in value:
            if not ACCOUNT_NAME.match(name):
                raise ValueError(f"account name {name!r} must be lower-case letters, digits, "
                                 "'-' or '_' (at most 32)")
            if name == "default":  # what metrics and alerts call runs that named no account
                raise ValueError("account name 'default' is reserved for runs without an "
                                 "account: choose another")
        return value

    @field_validator("installation")
    @classmethod
    def _installation(cls, value: str | None) -> str | None:
        if value is not None and not INSTALLATION_NAME.match(value):
            raise ValueError("installation must be 1-63 letters, digits, '.', '-' or '_'")
        return value

    @field_validator("profiles")
    @classmethod
    def _all_profiles(cls, value: dict[Urgency, ProfileSettings]) -> dict[Urgency, ProfileSettings]:
        merged = _default_profiles()
        merged.update({u: p.resolved(DEFAULT_PROFILE_NAMES[u]) for u, p in value.items()})
        return merged

    @field_validator("api_key_id", "api_secret_key")
    @classmethod
    def _printable_credentials(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        problem = None if value is None else credential_problem(
            value.get_secret_value(), "a space, tab, carriage return, line feed or other control "
            "character (an env file saved with CRLF line endings?)")
        if problem is not None:
            name = "APCA_API_KEY_ID" if info.field_name == "api_key_id" else "APCA_API_SECRET_KEY"
            raise ValueError(f"{name} contains {problem}; the value is not shown")
        return value

    @field_validator("trading_url", "data_url", "data_stream_url", "trading_stream_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_endpoint_url(str(info.field_name), value)

    @field_validator("feed")
    @classmethod
    def _feed(cls, value: str) -> str:
        if value not in {"auto", "iex", "sip"}:
            raise ValueError("feed must be auto, iex or sip")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_path_hint.get("path")
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def profile(self, urgency: Urgency) -> WalkProfile:
        return self.profiles[urgency].to_profile()

    @property
    def has_credentials(self) -> bool:
        return bool(
            self.api_key_id
            and self.api_secret_key
            and self.api_key_id.get_secret_value()
            and self.api_secret_key.get_secret_value()
        )

    @property
    def selected_account(self) -> AccountSettings | None:
        return None if self.account is None else self.accounts.get(self.account)

    def secrets(self) -> list[str]:
        """Secret values, so output filters can prove they never leak."""
        return [
            s.get_secret_value()
            for s in (self.api_key_id, self.api_secret_key)
            if s is not None and s.get_secret_value()
        ]


_config_path_hint: dict[str, Path | None] = {}

#: ``ALCH_*`` variables read outside the settings model (see the README).
OTHER_ENVIRONMENT = frozenset({"CONFIG", "DEBUG", "LONG_TESTS", "SIM_KEY", "SIM_SECRET",
                               "SIM_URL"})


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse ``ALCH_*`` variables alch does not know: a typo must never fall back silently."""
    fields = {name.upper() for name in Settings.model_fields}
    sections = {name.upper() for name, f in Settings.model_fields.items()
                if isinstance(f.default, BaseModel) or name == "profiles"}
    known = sorted(fields | OTHER_ENVIRONMENT | {f"{s}__" for s in sections})
    for var in sorted(environ):
        if not var.startswith("ALCH_"):
            continue
        name = var[len("ALCH_"):]
        head, nested, _ = name.partition("__")
        if (head in sections) if nested else (name in fields or name in OTHER_ENVIRONMENT):
            continue
        close = difflib.get_close_matches(f"{head}__" if nested else name, known, n=1)
        hint = f" (did you mean ALCH_{close[0]}...?)" if close and nested else (
            f" (did you mean ALCH_{close[0]}?)" if close else "")
        raise ValueError(f"unknown environment variable {var}{hint}")


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    return Path(base) if base else Path.home() / fallback


def find_config_file(explicit: Path | None) -> Path | None:
    """The config file to read, or None. An explicit path must exist."""
    if explicit is None and os.environ.get("ALCH_CONFIG"):
        explicit = Path(os.environ["ALCH_CONFIG"])
    if explicit is not None:
        if not explicit.is_file():
            raise FileNotFoundError(f"config file {explicit} does not exist")
        return explicit
    for candidate in (Path("config/alch.toml"), _xdg("XDG_CONFIG_HOME", ".config") / "alch/config.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``overrides`` are flag values (highest precedence)."""
    check_environment(os.environ)
    path = _config_path_hint["path"] = find_config_file(config_file)
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _config_path_hint.clear()
    settings._config_file = path
    return with_account(settings, settings.account, os.environ)
