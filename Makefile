# `make run` and `make test` bootstrap .venv themselves (python3.11: the pinned pythia8mc wheel is cp311).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install when pyproject.toml changes; a second call reuses the venv.
RUN_STAMP  := $(VENV)/.stamp-run
TEST_STAMP := $(VENV)/.stamp-test
PYTEST_ARGS ?=

.PHONY: run test test-all lint bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[gen,io,ml]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[gen,io,ml,dev]'
	touch $@ $(RUN_STAMP)

# The main job: a light top-tagging comparison (10k jets; cut-based, BDT, DNN, PFN, ParticleNet, ParT).
run: $(RUN_STAMP)
	$(BIN)/colliderlab benchmark toptag --n-jets 10000 --ensemble 1 --out-dir runs/make-run

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-all: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_generation.py
	$(BIN)/python benchmarks/bench_observables.py

clean-venv:
	rm -rf $(VENV)
