"""The deployment validators run in every `make test`: a check that silently never runs is
a defect. The Python ones come with the dev extra, so a missing one fails the suite;
only systemd's own tools, which need the OS package, may be absent (a skip that says why)."""

from __future__ import annotations

import sys
import tomllib

import pytest

from tests.deploy.helpers import PYTHON_VALIDATORS, ROOT, SYSTEM_VALIDATORS, validator


def test_every_python_validator_is_a_dev_dependency_and_is_installed():
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["dev"]
    for tool, package in PYTHON_VALIDATORS.items():
        assert any(req.startswith(package) for req in dev), package
        assert validator(tool)  # found, never skipped


def test_a_missing_python_validator_fails_even_outside_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # nothing beside it
    monkeypatch.setenv("PATH", str(tmp_path))  # nor on PATH
    monkeypatch.delenv("CI", raising=False)
    for tool in PYTHON_VALIDATORS:
        with pytest.raises(pytest.fail.Exception, match=f"{tool} is not installed"):
            validator(tool)


def test_only_a_missing_systemd_tool_is_skipped_and_the_skip_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    for tool in SYSTEM_VALIDATORS:
        with pytest.raises(pytest.skip.Exception, match=f"{tool} is not installed.*apt-get"):
            validator(tool)
    monkeypatch.setenv("CI", "true")  # where CI promises the tool is installed, it fails
    for tool in SYSTEM_VALIDATORS:
        with pytest.raises(pytest.fail.Exception, match=f"{tool} is not installed.*apt-get"):
            validator(tool)
