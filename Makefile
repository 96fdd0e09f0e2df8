# One-command setup; every target installs what it needs first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The legacy alpaca-trade-api drives the emulator in the conformance tests. It gets its own
# virtualenv because its pins (websockets<11, urllib3<2, msgpack==1.0.3) clash with ours.
LEGACY ?= .venv-legacy
LEGACY_STAMP := $(LEGACY)/.installed

.PHONY: setup test lint demo bench docs clean coverage mutation

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
	$(BIN)/ruff check src tests bench tools
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/mypy

# The main job on the offline simulator: a multi-symbol rebalance, no keys needed.
demo: $(STAMP)
	ALCH_DATA_DIR=$${ALCH_DATA_DIR:-.demo} $(BIN)/alch sim reset
	ALCH_DATA_DIR=$${ALCH_DATA_DIR:-.demo} $(BIN)/alch rebalance config/example-plan.toml --sim

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Coverage and the mutation map need Python >= 3.12: on 3.11 the tracer loses lines after
# every cancelled await (README, "Coverage"). COV_PY is found on PATH or under pyenv.
COV_PY ?= $(shell for p in python3.13 python3.12 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; done)
COV_VENV ?= .venv-cov
COV_STAMP := $(COV_VENV)/.installed

$(COV_STAMP): pyproject.toml
	@test -n "$(COV_PY)" || { echo "error: coverage needs Python >= 3.12 (set COV_PY=/path/to/python3.12)"; exit 1; }
	$(COV_PY) -m venv $(COV_VENV)
	$(COV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COV_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(COV_STAMP)

# Line coverage of the whole suite, subprocesses (xdist workers, alch runs) included.
coverage: $(COV_STAMP)
	rm -rf build/coverage && mkdir -p build/coverage
	COVERAGE_FILE=$(CURDIR)/build/coverage/.coverage $(COV_VENV)/bin/python -m coverage run \
		-m pytest -n 2 -q -p no:cacheprovider
	COVERAGE_FILE=$(CURDIR)/build/coverage/.coverage $(COV_VENV)/bin/python -m coverage combine -q
	COVERAGE_FILE=$(CURDIR)/build/coverage/.coverage $(COV_VENV)/bin/python -m coverage report

# Mutation testing (not part of `make test`): MODULES="core/validator.py domain/" to restrict,
# MUTATION_ARGS=--survivors to rerun only the last report's survivors.
MODULES ?=
MUTATION_ARGS ?=
mutation: $(STAMP) $(COV_STAMP)
	$(BIN)/python -m tools.mutation --cov-python $(COV_VENV)/bin/python $(MUTATION_ARGS) $(MODULES)

# Regenerate docs/cli-reference.md from every command's --help (the tests check it is current).
docs: $(STAMP)
	$(BIN)/python -m cogapp -r docs/cli-reference.md

clean:
	rm -rf $(VENV) $(LEGACY) $(COV_VENV) build .demo .pytest_cache .mypy_cache .ruff_cache
