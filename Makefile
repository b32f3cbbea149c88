# Everyday commands. `make run` and `make test` work on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8050

.PHONY: run demo serve test test-fast lint format bench wheel screenshots system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: install, add street-scale demo data to the embedded SQLite database if it is empty, serve on :8050
##      with the live simulator on (CC_SIMULATOR_RATE=0 turns it off)
run: $(VENV)/.runtime
	CC_DEMO_MODE=1 $(BIN)/python app.py demo --if-empty
	CC_DEMO_MODE=1 CC_SIMULATOR_RATE=$${CC_SIMULATOR_RATE:-6} $(BIN)/python app.py serve --port $(PORT)

## demo: regenerate the demo data from scratch (SCALE=street|district|tiny)
demo: $(VENV)/.runtime
	CC_DEMO_MODE=1 $(BIN)/python app.py demo --reset --scale $(or $(SCALE),street)

## test: install test tools (and Chromium where we may), then run the whole suite
test: $(VENV)/.dev
	bash scripts/install-system-deps --if-root
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=30

## test-fast: the suite without the browser tests
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not browser"

## lint: ruff (lint and format) and the architecture contract (import-linter, see docs/ARCHITECTURE.md)
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	@! grep -rnE '\bSession\b|\.engine\b|\bdb\.' layouts/ || { echo "layouts/ must not touch the database"; exit 1; }

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## wheel: build the installable package into dist/ (`pip install dist/*.whl` gives the `command-center` command)
wheel: $(VENV)/.dev
	rm -rf dist build
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .
	rm -rf build *.egg-info
	@ls dist/*.whl

## bench: the benchmarks under bench/ (see docs/BENCHMARKS.md)
bench: $(VENV)/.dev
	$(BIN)/python -m bench

## screenshots: retake docs/screenshots (the wall at 1920×1080, 3840×2160, 7680×2160 in zh and en; the console)
##              on street-scale demo data (needs Chromium)
screenshots: $(VENV)/.dev
	$(BIN)/python scripts/screenshots.py

system-deps:
	bash scripts/install-system-deps

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
