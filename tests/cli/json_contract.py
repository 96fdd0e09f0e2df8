"""Checks a command's --json output against docs/json-schema.json (the documented contract)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).parents[2] / "docs" / "json-schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def contract_lines(out: str, exit_code: int) -> list[dict[str, Any]]:
    """Every line valid against the schema; the last one the summary with ``exit_code``;
    once a run has started, every line carries its run id."""
    assert out.endswith("\n"), out
    lines = [json.loads(text) for text in out.splitlines()]
    assert lines, "no output"
    for line in lines:
        errors = sorted(validator().iter_errors(line), key=lambda e: list(e.path))
        assert not errors, f"{line}\n" + "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    summary = lines[-1]
    assert summary["event"] == "summary", summary
    assert summary["exit_code"] == exit_code and summary["ok"] is (exit_code == 0), summary
    assert [line["event"] for line in lines].count("summary") == 1
    run_id = None
    for line in lines:
        if line["event"] == "run_started":
            run_id = line["run_id"]
        elif run_id is not None and line["event"] not in ("run", "fill"):
            assert line.get("run_id") == run_id, line
    return lines
