"""pytest plugin for the coverage map: which test executes which line.

Loaded with ``-p tools.mutation.contexts`` while the suite runs under coverage. Each
test switches coverage's dynamic context to its node id, and exports the id in
``MUTATION_CONTEXT`` so that ``alch`` subprocesses started by the test (measured through
coverage's subprocess patch) record their lines under the same test. It also writes
every test's duration and outcome, which the mutation runner uses to order and time out
the tests it runs against each mutant.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coverage
import pytest

_results: dict[str, dict[str, Any]] = {}


def _switch(context: str) -> None:
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(context)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    os.environ["MUTATION_CONTEXT"] = item.nodeid
    _switch(item.nodeid)
    start = time.perf_counter()
    yield
    _results.setdefault(item.nodeid, {})["seconds"] = round(time.perf_counter() - start, 3)
    _switch("")
    os.environ.pop("MUTATION_CONTEXT", None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"passed": True})
    if report.failed:
        entry["passed"] = False
    entry.setdefault("passed", True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get("MUTATION_OUT")
    if out and _results:
        path = Path(out) / f"tests-{os.getpid()}.json"
        path.write_text(json.dumps(_results))
