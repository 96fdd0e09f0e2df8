"""The container image definition: hadolint (no engine builds it here), then the rules."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

from tests.deploy.helpers import CONTAINERFILE, ROOT, SECRET_WORDS, run, validator

IMAGE_UID = 10001
TEXT = CONTAINERFILE.read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in TEXT.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    start = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[start:]


def hadolint(path: Path) -> tuple[int, str]:
    # the strictest threshold, and no inline `# hadolint ignore=` may silence a rule
    result = run(validator("hadolint"), "--no-color", "--failure-threshold", "style",
                 "--disable-ignore-pragma", str(path))
    return result.returncode, result.stdout + result.stderr


def test_hadolint_passes_at_its_strictest():
    assert hadolint(CONTAINERFILE) == (0, "")


def test_hadolint_rejects_the_mistakes_it_is_here_to_catch(tmp_path):
    """The check above can fail: an unpinned base, pip without pins, a secret in ENV."""
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python:latest\nRUN pip install alpaca-py\nENV APCA_API_SECRET_KEY=x\n")
    code, output = hadolint(bad)
    assert code != 0
    assert {"DL3007", "DL3013", "DL3064"} <= set(re.findall(r"DL\d{4}", output))


def test_a_slim_python_base_pinned_to_a_release_in_every_stage():
    bases = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert len(bases) == 2
    for base in bases:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base


def test_the_image_runs_alch_as_a_non_root_user():
    final = final_stage()
    users = [args for word, args in final if word == "USER"]
    assert users == [f"{IMAGE_UID}:{IMAGE_UID}"]  # numeric, so runAsNonRoot can check it
    creates = " ".join(args for word, args in final if word == "RUN")
    assert f"--uid {IMAGE_UID}" in creates and f"--gid {IMAGE_UID}" in creates
    [entrypoint] = [args for word, args in final if word == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["alch"]
    assert ("STOPSIGNAL", "SIGINT") in final  # stop = Ctrl-C: open orders are cancelled
    assert ("WORKDIR", "/var/lib/alch") in final
    envs = " ".join(args for word, args in final if word == "ENV")
    assert "ALCH_DATA_DIR=/var/lib/alch" in envs


def test_the_package_is_installed_and_no_secret_or_local_config_is_baked_in():
    steps = instructions()
    assert any(word == "RUN" and "pip install ." in args for word, args in steps)
    for word, args in steps:
        if word in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if any(w in n.upper() for w in SECRET_WORDS)], args
        if word == "COPY":
            sources = args.split()[:-1]
            assert not [s for s in sources if ".env" in s or s.startswith(("config", "deploy"))]


def test_every_copied_source_exists_and_is_in_the_build_context():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:  # the last matching pattern wins, as in Docker and Podman
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                verdict = not negate
        return verdict

    sources = [s for word, args in instructions() if word == "COPY" and "--from=" not in args
               for s in args.split()[:-1]]
    assert sources == ["pyproject.toml", "README.md", "src"]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source), source
    for must_stay_out in (".venv", ".git", "config/alch.toml", "tests/conftest.py", ".demo"):
        assert ignored(must_stay_out), must_stay_out
