"""`alch verify`: pass/fail/skip rows and a verdict that counts each kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def verdict(checks: Sequence[Any]) -> str:
    failed = sum(c.status.value == "fail" for c in checks)
    skipped = sum(c.status.value == "skip" for c in checks)
    if not failed and not skipped:
        return "all checks passed"
    parts = [f"{failed} check(s) failed"] if failed else []
    if skipped:
        parts.append(f"{skipped} skipped" + (" (their prerequisite failed)" if failed else ""))
    return ", ".join(parts)


MARKS = {"pass": ("✓", "green"), "fail": ("✗", "bold red"), "skip": ("-", "yellow")}
