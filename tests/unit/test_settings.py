from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from alchemiser_cli.domain.intents import Urgency
from alchemiser_cli.domain.ladder import LadderKind
from alchemiser_cli.settings import Settings, load_settings

REPO = Path(__file__).parents[2]


def test_the_shipped_default_profile_equals_the_built_in_defaults():
    from_file = load_settings(REPO / "config" / "alch.toml")
    built_in = load_settings()
    for section in ("quotes", "execution", "guards", "profiles", "sim", "feed"):
        assert getattr(from_file, section) == getattr(built_in, section), section


def test_default_walks_follow_the_cost_benchmark_and_the_seed_walk_is_a_named_profile():
    # the defaults changed from 75/85/95 @30s to the tick-aware ladder: bench/README.md
    s = load_settings()
    medium = s.profile(Urgency.MEDIUM)
    assert (medium.name, medium.ladder, medium.ratios) == (
        "ticks", LadderKind.TICKS, (Decimal("0"), Decimal("0.35"), Decimal("0.5")))
    assert (medium.step_wait_seconds, medium.min_spread_ticks) == (20.0, 2)
    assert s.profile(Urgency.LOW).name == "patient"
    assert s.profile(Urgency.LOW).step_wait_seconds == 60.0
    assert s.profile(Urgency.HIGH).ratios == ()
    seed = load_settings(profiles={"medium": {"profile": "seed"}}).profile(Urgency.MEDIUM)
    assert seed.ratios == (Decimal("0.75"), Decimal("0.85"), Decimal("0.95"))
    assert (seed.step_wait_seconds, seed.ladder) == (30.0, LadderKind.SEED)


def test_a_profile_key_overrides_the_named_profile_of_its_urgency(monkeypatch):
    monkeypatch.setenv("ALCH_PROFILES__LOW__STEP_WAIT_SECONDS", "5")
    s = load_settings(profiles={"medium": {"profile": "pegged", "max_reprices": 3}})
    assert s.profile(Urgency.LOW).name == "patient"  # still low's profile, one key changed
    assert s.profile(Urgency.LOW).step_wait_seconds == 5.0
    assert s.profile(Urgency.MEDIUM).reprice and s.profile(Urgency.MEDIUM).max_reprices == 3
    with pytest.raises(ValidationError, match="unknown walk profile"):
        load_settings(profiles={"medium": {"profile": "fastest"}})


def test_precedence_flags_over_env_over_file(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[quotes]\nstream_timeout_seconds = 7\nmax_age_seconds = 9\n"
                   "[execution]\nrate_limit_per_minute = 100\n")
    monkeypatch.setenv("ALCH_QUOTES__MAX_AGE_SECONDS", "4")
    monkeypatch.setenv("ALCH_EXECUTION__RATE_LIMIT_PER_MINUTE", "150")
    s = load_settings(cfg, execution={"rate_limit_per_minute": 50})
    assert s.quotes.stream_timeout_seconds == 7  # file
    assert s.quotes.max_age_seconds == 4  # env beats file
    assert s.execution.rate_limit_per_minute == 50  # flag beats env


def test_alpaca_env_names_are_read_and_kept_secret(monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", "PKSECRETID")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "verysecret")
    s = load_settings()
    assert s.has_credentials
    assert "verysecret" not in repr(s) and "PKSECRETID" not in str(s)


def test_unknown_keys_and_bad_values_are_rejected(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[walk]\nratios = [0.5]\n")
    with pytest.raises(ValidationError):
        load_settings(cfg)
    cfg.write_text("[profiles.medium]\nratios = [0.9, 0.8]\n")
    with pytest.raises(ValidationError, match="strictly increase"):
        load_settings(cfg)
    assert Settings.model_config["extra"] == "forbid"
