"""Run mutants in isolated copies of the tree, each against the tests that execute it.

1. The coverage map: the whole suite runs once under coverage (Python >= 3.12, see
   ``COV_PYTHON``) with one coverage context per test, subprocesses included. The map
   (line -> tests that execute it, plus each test's duration) is cached under
   ``build/mutation/`` keyed by a hash of ``src/``, ``tests/`` and ``config/``.
2. Each mutant is written into a worker's private copy of the tree and only the tests
   that execute its line run, fastest first, stopping at the first failure, with a
   per-mutant timeout. The working tree is only read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.mutation.operators import Mutant, mutants_for

PACKAGE = Path("src/alchemiser_cli")
DEFAULT_SCOPE = ("domain/", "core/", "brokers/alpaca/")
COPIED = ("src", "tests", "config", "tools", "deploy", "pyproject.toml", "README.md", "CHANGELOG.md",
          ".dockerignore")
#: Linked, not copied: the legacy SDK's virtualenv the conformance tests run (read only).
LINKED = (".venv-legacy",)
KILLED, SURVIVED, TIMEOUT, UNCOVERED, ERROR = "killed", "survived", "timeout", "no tests", "error"
FIRST_STAGE = 3  # tests run alone before the rest
#: Seconds a mutant's tests get beyond three times their measured duration: two pytest
#: start-ups (collection imports the package, hypothesis, alpaca-py) on a loaded machine.
TIMEOUT_BASE = 40.0


# -- the tree -------------------------------------------------------------------------
def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for top in ("src", "tests", "config", "tools"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def snapshot(root: Path, dest: Path) -> None:
    """Copy what the tests need into ``dest`` (never the venv, caches or build output)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".hypothesis", "*.pyc")
    dest.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        if (root / name).exists():
            (dest / name).symlink_to(root / name)
    for name in COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


def module_files(root: Path, scope: Sequence[str]) -> list[str]:
    """Repository-relative paths of the modules in scope (``core/`` or ``core/walk.py``)."""
    found: list[str] = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root / PACKAGE).as_posix()
        if any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in scope):
            found.append(path.relative_to(root).as_posix())
    return found


# -- the coverage map -----------------------------------------------------------------
@dataclass
class CoverageMap:
    lines: dict[str, dict[int, list[str]]]  # file -> line -> test node ids
    tests: dict[str, dict[str, float | bool]]  # node id -> {"seconds", "passed"}

    def tests_for(self, mutant: Mutant) -> list[str]:
        """Every passing test that executes the mutant's statement, fastest first."""
        by_line = self.lines.get(mutant.path, {})
        ids: set[str] = set()
        for line in {mutant.stmt_line, *range(mutant.line, mutant.end_line + 1)}:
            ids.update(by_line.get(line, ()))
        if not ids and mutant.at_import:  # run at import: every test that uses the module
            ids = {t for tests in by_line.values() for t in tests}
        usable = [t for t in ids if self.tests.get(t, {}).get("passed", False)]
        return sorted(usable, key=lambda t: (float(self.tests[t].get("seconds", 0.0)), t))

    def plan(self, tests: list[str], killers: dict[str, int], budget: float) -> list[str]:
        """The tests to run: those that killed other mutants of the module first, then the
        fastest, up to ``budget`` seconds of (measured) test time; 0 means no limit."""
        ordered = sorted(tests, key=lambda t: (-killers.get(t, 0), float(self.tests[t].get("seconds", 0.0))))
        if budget <= 0:
            return ordered
        chosen: list[str] = []
        spent = 0.0
        for t in ordered:
            cost = float(self.tests[t].get("seconds", 0.0))
            if chosen and spent + cost > budget:
                continue
            chosen.append(t)
            spent += cost
        return chosen

    def seconds(self, tests: Iterable[str]) -> float:
        return sum(float(self.tests[t].get("seconds", 0.0)) for t in tests)


COVERAGE_RC = """\
[run]
source = {src}
parallel = true
patch = subprocess
sigterm = true
data_file = {data}/.coverage
context = ${{MUTATION_CONTEXT-}}
"""


def build_map(root: Path, cov_python: str, cache: Path, log: Callable[[str], None]) -> CoverageMap:
    if os.sep in cov_python:
        cov_python = os.path.abspath(cov_python)  # not resolve(): a venv's python is a symlink
    key = tree_hash(root)
    cached = cache / f"map-{key}.json"
    if cached.exists():
        raw = json.loads(cached.read_text())
        return CoverageMap({f: {int(k): v for k, v in lines.items()} for f, lines in raw["lines"].items()},
                           raw["tests"])
    version = subprocess.run([cov_python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                             capture_output=True, text=True, check=False).stdout.strip()
    if version != "True":
        raise SystemExit(f"{cov_python} is not Python >= 3.12: on 3.11 the tracer loses lines after "
                         "every cancelled await (see README, Coverage), so the map would be wrong")
    log(f"building the coverage map (the whole suite under coverage, {cov_python}) ...")
    with tempfile.TemporaryDirectory(prefix="alch-mutmap-") as tmp:
        work = Path(tmp) / "tree"
        data = Path(tmp) / "data"
        data.mkdir()
        snapshot(root, work)
        rc = Path(tmp) / "coveragerc"
        rc.write_text(COVERAGE_RC.format(src=work / PACKAGE, data=data))
        env = {**os.environ, "PYTHONPATH": f"{work / 'src'}{os.pathsep}{work}",
               "MUTATION_OUT": str(data), "COVERAGE_CORE": "ctrace", "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("ALCH_LONG_TESTS", None)
        started = time.monotonic()
        proc = subprocess.run(
            [cov_python, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest", "-q", "-n", "2",
             "-p", "no:cacheprovider", "-p", "tools.mutation.contexts"],
            cwd=work, env=env, capture_output=True, text=True, check=False)
        log(f"  suite under coverage: exit {proc.returncode} in {time.monotonic() - started:.0f}s")
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "map.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode not in (0, 1):
            raise SystemExit("the suite did not run under coverage:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        subprocess.run([cov_python, "-m", "coverage", "combine", f"--rcfile={rc}", "-q"], cwd=work,
                       env=env, check=True)
        tests = merge_results(json.loads(part.read_text()) for part in data.glob("tests-*.json"))
        failed = sorted(t for t, v in tests.items() if not v.get("passed", False))
        if failed:
            log(f"  {len(failed)} test(s) failed on the unmutated tree and are not used: {failed[:5]}")
        reader = subprocess.run(
            [cov_python, "-c", _READ_CONTEXTS, str(data / ".coverage"), str(work)],
            capture_output=True, text=True, check=True)
        lines = json.loads(reader.stdout)
    cache.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps({"lines": lines, "tests": tests}))
    return CoverageMap({f: {int(k): v for k, v in by_line.items()} for f, by_line in lines.items()}, tests)


def merge_results(parts: Iterable[dict[str, dict[str, float | bool]]]
                  ) -> dict[str, dict[str, float | bool]]:
    """Each test's duration and outcome from every process's file. Under xdist the controller
    writes one too, with the outcomes only: a duration is never overwritten by its absence,
    and a test passed only if no process saw it fail."""
    tests: dict[str, dict[str, float | bool]] = {}
    for part in parts:
        for node, entry in part.items():
            merged = tests.setdefault(node, {"passed": True})
            if "seconds" in entry:
                merged["seconds"] = entry["seconds"]
            merged["passed"] = bool(merged["passed"]) and bool(entry.get("passed", True))
    return tests


_READ_CONTEXTS = """
import json, sys
from pathlib import Path
import coverage
data = coverage.CoverageData(sys.argv[1]); data.read()
base = Path(sys.argv[2])
out = {}
for name in data.measured_files():
    rel = Path(name).relative_to(base).as_posix()
    out[rel] = {str(line): sorted(c for c in ctxs if c)
                for line, ctxs in data.contexts_by_lineno(name).items()}
print(json.dumps(out))
"""


# -- running mutants ------------------------------------------------------------------
@dataclass
class Outcome:
    key: str
    path: str
    line: int
    description: str
    status: str
    tests: int
    seconds: float
    killer: str = ""
    covering: int = 0  # tests that execute the line (``tests`` of them ran, within the budget)


class Worker:
    """One private copy of the tree; mutants are applied to it one at a time."""

    def __init__(self, root: Path, base: Path, index: int) -> None:
        self.dir = base / f"worker{index}"
        snapshot(root, self.dir)
        self.env = {**os.environ, "PYTHONPATH": f"{self.dir / 'src'}{os.pathsep}{self.dir}",
                    "PYTHONDONTWRITEBYTECODE": "1"}
        for var in ("ALCH_LONG_TESTS", "COVERAGE_PROCESS_START", "MUTATION_CONTEXT"):
            self.env.pop(var, None)
        self.proc: subprocess.Popen[str] | None = None

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def run(self, mutant: Mutant, tests: list[str], timeout: float) -> tuple[str, float, str]:
        """Apply the mutant, run ``tests`` (the first few alone first: most kills happen there,
        and collecting only their modules is quicker), restore the file."""
        target = self.dir / mutant.path
        original = target.read_text()
        target.write_text(mutant.apply(original))
        started = time.monotonic()
        try:
            stages = [tests[:FIRST_STAGE], tests[FIRST_STAGE:]]
            for stage in (s for s in stages if s):
                left = timeout - (time.monotonic() - started)
                status, killer = self._pytest(stage, max(left, 1.0))
                if status != SURVIVED:
                    return status, time.monotonic() - started, killer
            return SURVIVED, time.monotonic() - started, ""
        finally:
            target.write_text(original)

    def _pytest(self, tests: list[str], timeout: float) -> tuple[str, str]:
        proc = self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider",
             "-p", "no:xdist", "-p", "no:hypothesispytest", "-o", "addopts=--strict-markers", *tests],
            cwd=self.dir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return TIMEOUT, ""
        finally:
            self.kill()  # the whole session: servers or alch runs a test left behind
            self.proc = None
        if proc.returncode == 0:
            return SURVIVED, ""
        killer = next((line.split(" ", 1)[1].split(" - ")[0] for line in out.splitlines()
                       if line.startswith(("FAILED ", "ERROR "))), f"exit {proc.returncode}")
        return KILLED, killer


def run_mutants(root: Path, mutants: list[Mutant], cmap: CoverageMap, workers: int, budget: float,
                log: Callable[[str], None], journal: Path | None = None) -> list[Outcome]:
    """Run every mutant; each outcome is also appended to ``journal`` (JSON lines) as it comes."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    done = 0
    killers: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with tempfile.TemporaryDirectory(prefix="alch-mutants-", ignore_cleanup_errors=True) as tmp:
        pool = [Worker(root, Path(tmp), i) for i in range(workers)]
        free = list(pool)

        def one(mutant: Mutant) -> Outcome:
            nonlocal done
            covering = cmap.tests_for(mutant)
            if not covering:
                result = Outcome(mutant.key, mutant.path, mutant.line, mutant.describe(), UNCOVERED, 0, 0.0)
            else:
                with lock:
                    worker = free.pop()
                    tests = cmap.plan(covering, killers[mutant.path], budget)
                status, seconds, killer = ERROR, 0.0, ""
                try:
                    timeout = TIMEOUT_BASE + 3 * cmap.seconds(tests)
                    status, seconds, killer = worker.run(mutant, tests, timeout)
                except Exception as exc:  # a harness failure must not lose the run
                    killer = f"harness error: {exc!r}"
                finally:
                    with lock:
                        free.append(worker)
                        if killer in cmap.tests:
                            killers[mutant.path][killer] += 1
                result = Outcome(mutant.key, mutant.path, mutant.line, mutant.describe(), status,
                                 len(tests), round(seconds, 2), killer, len(covering))
            with lock:
                if journal is not None:
                    with journal.open("a") as out:
                        out.write(json.dumps(asdict(result)) + "\n")
            with lock:
                done += 1
                if result.status in (SURVIVED, UNCOVERED, ERROR):
                    log(f"  [{done}/{len(mutants)}] {result.status.upper()} {mutant.path}:{mutant.line} "
                        f"{result.description}")
                elif done % 25 == 0:
                    log(f"  [{done}/{len(mutants)}] ...")
            return result

        executor = ThreadPoolExecutor(max_workers=workers)
        try:
            outcomes = list(executor.map(one, mutants))
        except BaseException:  # Ctrl-C or SIGTERM: stop the running mutants, restore nothing
            executor.shutdown(wait=False, cancel_futures=True)
            for worker in pool:
                worker.kill()
            raise
        executor.shutdown()
    return outcomes


# -- reporting ------------------------------------------------------------------------
def summarise(outcomes: list[Outcome]) -> str:
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        per[o.path][o.status] += 1
    rows = ["module                                      mutants  killed  timeout  survived  no-tests  score"]
    totals: dict[str, int] = defaultdict(int)
    for path in sorted(per):
        counts = per[path]
        total = sum(counts.values())
        for k, v in counts.items():
            totals[k] += v
        rows.append(_row(path.removeprefix("src/alchemiser_cli/"), total, counts))
    rows.append(_row("TOTAL", sum(totals.values()), totals))
    return "\n".join(rows)


def _row(name: str, total: int, counts: dict[str, int]) -> str:
    detected = counts.get(KILLED, 0) + counts.get(TIMEOUT, 0)
    score = 100.0 * detected / total if total else 100.0
    return (f"{name:<44}{total:>7}{counts.get(KILLED, 0):>8}{counts.get(TIMEOUT, 0):>9}"
            f"{counts.get(SURVIVED, 0):>10}{counts.get(UNCOVERED, 0):>10}{score:>6.1f}%")


def write_report(path: Path, outcomes: list[Outcome], summary: str, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    survivors = sorted((o for o in outcomes if o.status in (SURVIVED, UNCOVERED)),
                       key=lambda o: (o.path, o.line, o.description))
    lines = [f"alch mutation report ({len(outcomes)} mutants, {seconds:.0f}s)", "", summary, "",
             f"survivors ({len(survivors)}):"]
    lines += [f"{o.path}:{o.line}: {o.description}" + (
        " [no test executes this line]" if o.status == UNCOVERED
        else f" [{o.tests} tests]" if o.tests == o.covering
        else f" [{o.tests} of {o.covering} tests, within the budget]") for o in survivors]
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))


def select(root: Path, scope: Sequence[str], only_survivors_of: Path | None) -> list[Mutant]:
    mutants: list[Mutant] = []
    for rel in module_files(root, scope):
        mutants += mutants_for(rel, (root / rel).read_text())
    if only_survivors_of is not None:
        previous = {o["key"] for o in json.loads(only_survivors_of.read_text())
                    if o["status"] in (SURVIVED, UNCOVERED)}
        mutants = [m for m in mutants if m.key in previous]
    return mutants
