"""The systemd units: `systemd-analyze verify` on an installed copy, hardening, schedule, rules."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.deploy.helpers import NEW_YORK, SECRET_WORDS, SYSTEMD, accounts, run, validator

UNITS = ["alch-rebalance@.service", "alch-rebalance@.timer", "alch-metrics.service",
         "alch-metrics.timer"]
# what `systemctl enable --now alch-rebalance@taxable.timer` and the metrics timer load
INSTANCES = ["alch-rebalance@taxable.service", "alch-rebalance@taxable.timer",
             "alch-metrics.service", "alch-metrics.timer"]
ALCH = "/opt/alch/bin/alch"  # where deploy/README.md installs the virtualenv


def host_unit_dir() -> Path:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "sysinit.target").is_file():
            return candidate
    pytest.fail("no systemd unit directory with sysinit.target on this machine")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root directory laid out as after the README's install steps: the system's own
    units, ours in /etc/systemd/system, alch at /opt/alch/bin/alch, the sysusers file."""
    validator("systemd-analyze")
    root = tmp_path_factory.mktemp("root")
    shutil.copytree(host_unit_dir(), root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(SYSTEMD / unit, root / "etc/systemd/system" / unit)
    (root / "etc/sysusers.d").mkdir(parents=True)
    shutil.copy(SYSTEMD / "alch.sysusers", root / "etc/sysusers.d/alch.conf")
    exe = root / ALCH.lstrip("/")
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return root


def verify(root: Path, *units: str) -> tuple[int, str]:
    result = run(validator("systemd-analyze"), "verify", f"--root={root}", "--man=no",
                 "--generators=no", *units)
    return result.returncode, result.stdout + result.stderr


def directives(unit: str) -> list[tuple[str, str]]:
    """(key, value) of every assignment in a unit file, in order."""
    out = []
    for line in (SYSTEMD / unit).read_text().splitlines():
        if line.strip() and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.append((key.strip(), value.strip()))
    return out


def values(unit: str, key: str) -> list[str]:
    return [v for k, v in directives(unit) if k == key]


def test_systemd_analyze_verify_passes_without_a_single_warning(installed):
    code, output = verify(installed, *INSTANCES)
    assert (code, output) == (0, "")


def test_the_verifier_catches_a_bad_key_and_a_missing_program(installed, tmp_path):
    """The check above can fail: the same verifier rejects a typo and a missing binary."""
    broken = installed / "etc/systemd/system/alch-broken@.service"
    text = (SYSTEMD / "alch-rebalance@.service").read_text()
    broken.write_text(text.replace("KillSignal=", "KilSignal="))
    code, output = verify(installed, "alch-broken@taxable.service")
    assert "Unknown key 'KilSignal'" in output
    broken.write_text(text.replace(ALCH, "/opt/alch/bin/missing"))
    code, output = verify(installed, "alch-broken@taxable.service")
    assert code != 0 and "is not executable" in output
    broken.unlink()


@pytest.mark.parametrize(("unit", "ceiling"), [("alch-rebalance@taxable.service", 2.0),
                                               ("alch-metrics.service", 1.0)])
def test_hardening_keeps_the_exposure_score_low(installed, unit, ceiling):
    result = run(validator("systemd-analyze"), "security", "--offline=yes",
                 f"--root={installed}", unit)
    assert result.returncode == 0, result.stderr
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert score is not None, result.stdout
    assert float(score.group(1)) <= ceiling, result.stdout


def test_the_sysusers_file_creates_the_dedicated_system_user(installed):
    result = run(validator("systemd-sysusers"), f"--root={installed}", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Creating user 'alch'" in result.stdout + result.stderr


def test_the_timer_fires_on_weekdays_at_ten_new_york_time_and_catches_up():
    [calendar] = values("alch-rebalance@.timer", "OnCalendar")
    assert values("alch-rebalance@.timer", "Persistent") == ["true"]
    result = run(validator("systemd-analyze"), "calendar", "--iterations=10", calendar,
                 env={"TZ": NEW_YORK})
    assert result.returncode == 0, result.stderr
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)",
                        result.stdout)
    assert len(stamps) == 10, result.stdout
    for stamp, zone in stamps:
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(NEW_YORK))
        assert zone in {"EST", "EDT"}
        assert (at.hour, at.minute, at.weekday() < 5) == (10, 0, True), stamp


def test_the_service_runs_as_a_dedicated_user_with_secrets_only_from_a_file():
    unit = "alch-rebalance@.service"
    for service in (unit, "alch-metrics.service"):
        assert values(service, "User") == ["alch"] and values(service, "Group") == ["alch"]
        assert values(service, "Type") == ["oneshot"]
        assert values(service, "StateDirectory") == ["alch"]
        assert "ALCH_DATA_DIR=/var/lib/alch" in values(service, "Environment")
        assert values(service, "NoNewPrivileges") == ["yes"]
        assert values(service, "ProtectSystem") == ["strict"]
    assert values(unit, "EnvironmentFile") == ["/etc/alch/accounts/%i.env"]
    for key, value in directives(unit) + directives("alch-metrics.service"):
        if key == "Environment":  # nothing secret inline
            assert not any(word in value.split("=")[0].upper() for word in SECRET_WORDS), value
    # stop and timeout are a Ctrl-C, which makes alch cancel its open orders
    assert values(unit, "KillSignal") == ["SIGINT"]


def test_unattended_commands_name_their_account_and_broker_explicitly():
    commands = values("alch-rebalance@.service", "ExecStartPre") + values(
        "alch-rebalance@.service", "ExecStart")
    assert [c.split()[:2] for c in commands] == [[ALCH, "verify"], [ALCH, "rebalance"]]
    for command in commands + values("alch-metrics.service", "ExecStart"):
        words = command.split()
        if "--yes" in words or "--json" in words:
            assert words[words.index("--account") + 1] == "%i", command
            assert "--${BROKER_MODE}" in words, command
    assert "--yes" in commands[1].split() and "--json" in commands[1].split()
    assert values("alch-rebalance@.service", "Environment")[0] == "BROKER_MODE=paper"


def test_the_example_environment_file_matches_the_example_config():
    example = (SYSTEMD / "account.env.example").read_text()
    names = dict(line.split("=", 1) for line in example.splitlines()
                 if line and not line.startswith("#"))
    taxable = accounts()["taxable"]
    assert {taxable["key_id_env"], taxable["secret_key_env"], "BROKER_MODE"} == set(names)
    assert all(value == "" for key, value in names.items() if key != "BROKER_MODE")
    assert names["BROKER_MODE"] == taxable["mode"]
