# One-command setup; every target installs what it needs first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The legacy alpaca-trade-api drives the emulator in the conformance tests. It gets its own
# virtualenv because its pins (websockets<11, urllib3<2, msgpack==1.0.3) clash with ours.
LEGACY ?= .venv-legacy
LEGACY_STAMP := $(LEGACY)/.installed

.PHONY: setup test lint demo bench docs clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# the deploy tests verify the systemd units with Debian's systemd-analyze
	@command -v systemd-analyze >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd; } \
	  || echo "note: systemd-analyze is missing (apt-get install systemd); tests/deploy needs it"
	touch $(STAMP)

$(LEGACY_STAMP):
	$(PY) -m venv $(LEGACY)
	$(LEGACY)/bin/python -m pip install --quiet --upgrade pip
	$(LEGACY)/bin/python -m pip install --quiet 'alpaca-trade-api==3.2.0'
	touch $(LEGACY_STAMP)

setup: $(STAMP) $(LEGACY_STAMP)

# The whole test suite (what .ci/run calls).
test: $(STAMP) $(LEGACY_STAMP)
	$(BIN)/python -m pytest -n 2 -q
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# The main job on the offline simulator: a multi-symbol rebalance, no keys needed.
demo: $(STAMP)
	ALCH_DATA_DIR=$${ALCH_DATA_DIR:-.demo} $(BIN)/alch sim reset
	ALCH_DATA_DIR=$${ALCH_DATA_DIR:-.demo} $(BIN)/alch rebalance config/example-plan.toml --sim

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Regenerate docs/cli-reference.md from every command's --help (the tests check it is current).
docs: $(STAMP)
	$(BIN)/python -m cogapp -r docs/cli-reference.md

clean:
	rm -rf $(VENV) $(LEGACY) .demo .pytest_cache .mypy_cache .ruff_cache
