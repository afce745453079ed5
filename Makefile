# Two commands on a fresh machine: `make quickstart` (the main job) and `make test` (the test suite).
# Both install the exact, tested set of packages in hubembed/requirements.lock; `make lock` refreshes it and
# `make test-latest` runs the suite on the newest versions setup.cfg allows, to see drift before users do.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check
LOCK := hubembed/requirements.lock

.PHONY: install dev quickstart test test-latest lock clean

$(VENV)/.deps: setup.cfg pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# the CPU build of torch first, so pip does not pick multi-GB CUDA wheels
	$(PIP) install -c $(LOCK) "torch==2.13.*"
	$(PIP) install -c $(LOCK) ".[test]"
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

# By hand, not CI: a fresh venv with the newest releases the ranges in setup.cfg allow, `hubembed doctor` (which
# lists what differs from the lock), then the suite.
test-latest: LATEST := .venv-latest
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip -q install --upgrade pip
	$(LATEST)/bin/python -m pip -q install "torch==2.13.*"
	$(LATEST)/bin/python -m pip -q install ".[test]"
	$(LATEST)/bin/python -m pip -q install --no-deps ./examples/hubembed-matryoshka
	HF_HUB_OFFLINE=1 $(LATEST)/bin/hubembed doctor
	$(LATEST)/bin/pytest -n 2 --dist loadfile

# Re-resolve the lock from setup.cfg (+ lock.in) with pip-tools in a throwaway venv; commit the result once
# `make test` passes on it.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip -q install pip-tools
	.venv-lock/bin/pip-compile -q --extra test --strip-extras --no-emit-index-url --no-emit-find-links --allow-unsafe \
		--upgrade -o $(LOCK) setup.cfg lock.in
	# the public version only: torch's +cpu build tag (this machine's wheel) would make the lock unusable elsewhere
	sed -i -E 's/^(torch==[^+ ]+)\+[a-z0-9.]+$$/\1/' $(LOCK)
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .venv-latest .venv-lock build *.egg-info runs
