from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from alchemiser_cli.cli.app import run

RUN_ID = re.compile(r"\b\d{12}[a-z0-9]{3}\d{3}\b")


@dataclass
class Result:
    code: int
    out: str
    err: str


def alch(capsys: pytest.CaptureFixture[str], *args: str, raw: bool = False) -> Result:
    """Run alch in process; run ids in the output become RUN unless ``raw``."""
    code = run(list(args))
    captured = capsys.readouterr()
    if raw:
        return Result(code, captured.out, captured.err)
    return Result(code, RUN_ID.sub("RUN", captured.out), RUN_ID.sub("RUN", captured.err))
