"""Mutation testing for alch: ``python -m tools.mutation [MODULE ...]``.

MODULE is a path under src/alchemiser_cli (``core/validator.py``) or a folder
(``domain/``); the default is domain/, core/ and brokers/alpaca/. See README,
"Mutation testing".
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from tools.mutation.runner import (
    DEFAULT_SCOPE,
    SURVIVED,
    UNCOVERED,
    build_map,
    run_mutants,
    select,
    summarise,
    write_report,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", default=list(DEFAULT_SCOPE),
                        help="modules or folders under src/alchemiser_cli")
    parser.add_argument("--workers", type=int, default=2, help="parallel mutants (default 2)")
    parser.add_argument("--budget", type=float, default=8.0,
                        help="seconds of test time per mutant (as measured for the map; 0: no limit)")
    parser.add_argument("--report", type=Path, default=Path("build/mutation/report.txt"))
    parser.add_argument("--cov-python", default=os.environ.get("COV_PYTHON", ""),
                        help="Python >= 3.12 with the package installed, for the coverage map")
    parser.add_argument("--survivors", action="store_true",
                        help="run only the mutants that survived in the last report")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--fail-under", type=float, default=None,
                        help="exit 1 when the score is below this percentage")
    args = parser.parse_args(argv)
    root = Path.cwd()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up the copies on kill

    def log(message: str) -> None:
        print(message, flush=True)

    previous = args.report.with_suffix(".json") if args.survivors else None
    if previous is not None and not previous.exists():
        parser.error(f"--survivors needs an earlier report: {previous} not found")
    mutants = select(root, args.modules, previous)
    if args.list:
        for m in mutants:
            print(f"{m.path}:{m.line}: {m.describe()}")
        print(f"{len(mutants)} mutants")
        return 0
    if not args.cov_python:
        parser.error("--cov-python (or COV_PYTHON) is required: a Python >= 3.12 for the coverage map")
    cmap = build_map(root, args.cov_python, args.report.parent, log)
    log(f"{len(mutants)} mutants in {len({m.path for m in mutants})} module(s), {args.workers} workers")
    started = time.monotonic()
    progress = args.report.with_suffix(".progress.jsonl")
    progress.parent.mkdir(parents=True, exist_ok=True)
    progress.write_text("")
    outcomes = run_mutants(root, mutants, cmap, args.workers, args.budget, log, progress)
    seconds = time.monotonic() - started
    summary = summarise(outcomes)
    write_report(args.report, outcomes, summary, seconds)
    print()
    print(summary)
    survivors = sum(o.status in (SURVIVED, UNCOVERED) for o in outcomes)
    print(f"\n{survivors} survivor(s) listed in {args.report} ({seconds:.0f}s)")
    detected = len(outcomes) - survivors
    score = 100.0 * detected / len(outcomes) if outcomes else 100.0
    if args.fail_under is not None and score < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
