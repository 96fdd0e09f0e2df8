from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from alchemiser_cli.cli.app import run

RUN_ID = re.compile(r"\b\d{12}[a-z0-9]{3}\d{3}\b")


@dataclass
class Result:
    code: int
    out: str
    err: str


def records(out: str, event: str) -> list[dict[str, Any]]:
    """The ``event`` lines of a command's --json output (the contract: one object a line,
    a summary last)."""
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and lines[-1]["event"] == "summary", out
    return [line for line in lines if line["event"] == event]


def alch(capsys: pytest.CaptureFixture[str], *args: str, raw: bool = False) -> Result:
    """Run alch in process; run ids in the output become RUN unless ``raw``."""
    code = run(list(args))
    captured = capsys.readouterr()
    if raw:
        return Result(code, captured.out, captured.err)
    return Result(code, RUN_ID.sub("RUN", captured.out), RUN_ID.sub("RUN", captured.err))
