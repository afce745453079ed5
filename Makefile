# Two commands on a fresh machine: `make quickstart` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check

.PHONY: install dev quickstart test clean

$(VENV)/.deps: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# the CPU build of torch first, so pip does not pick multi-GB CUDA wheels
	$(PIP) install "torch==2.13.*"
	$(PIP) install ".[test]"
	touch $@

# A regular (non-editable) install: what users get, and what the tests check (plugins, cards, data in the wheel).
install: $(VENV)/.deps
	$(PIP) install --no-deps --force-reinstall .

# Editable install for development.
dev: $(VENV)/.deps
	$(PIP) install --no-deps -e .

# Trains on the offline defaults and pushes to the Hub; with no token configured, to a local Hub-compatible
# server on 127.0.0.1 (it says so), then shows the leaderboard read back from the pushed card.
quickstart: install
	$(VENV)/bin/hubembed train --plugin mnr --eval stsb --eval mteb:STSBenchmark --output runs/mnr --overwrite --push --private --local-hub
	$(VENV)/bin/hubembed leaderboard --author local --local-hub

test: install
	# a real third-party plugin package, installed with pip like any user's
	$(PIP) install --no-deps ./examples/hubembed-matryoshka
	# two workers, each test file on one worker (module fixtures stay in one process): ~6 min on 2 cores
	$(VENV)/bin/pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) build *.egg-info runs
