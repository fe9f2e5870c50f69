# `make run` and `make test` bootstrap .venv themselves (python3.11: the pinned pythia8mc wheel is cp311).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install when pyproject.toml changes; a second call reuses the venv.
RUN_STAMP  := $(VENV)/.stamp-run
TEST_STAMP := $(VENV)/.stamp-test
PYTEST_ARGS ?=

.PHONY: run test test-all lint bench clean-venv deps-export

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[gen,io,ml,export,stats]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[gen,io,ml,export,stats,tune,explain,tracking,dev]'
	touch $@ $(RUN_STAMP)

# conifer's C++ emulation of BDTs needs nlohmann/json (Debian: nlohmann-json3-dev). Installed
# when missing and possible (root + apt); without it the conifer tests skip with the reason.
JSON_HEADER := /usr/include/nlohmann/json.hpp
deps-export:
	@test -f $(JSON_HEADER) || { command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nlohmann-json3-dev >/dev/null) \
	  || echo "warning: could not install nlohmann-json3-dev; conifer emulation tests will skip"; }

# The main job: a top-tagging comparison on the toptag preset (four-vectors only, like the public dataset;
# 20k jets; cut-based, BDT, DNN, ParticleNet, ParT) with the particle models' AUC gaps to the best observable
# tagger (paired bootstrap) and every tagger scored on an independent 10k-jet sample written in the public
# top-tagging layout; then ParT to ONNX and the DNN to hls4ml firmware with its emulation (parity in export/*.json).
run: $(RUN_STAMP)
	$(BIN)/colliderlab benchmark toptag --n-jets 20000 --ensemble 1 --models cut_based,bdt,dnn,particlenet,part \
	  --heldout 10000 --out-dir runs/make-run
	$(BIN)/colliderlab export runs/make-run/part/seed0 --to onnx
	$(BIN)/colliderlab export runs/make-run/dnn/seed0 --to hls4ml --set 'precision=ap_fixed<16,6>'

test: $(TEST_STAMP) deps-export
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-all: $(TEST_STAMP) deps-export
	$(BIN)/python -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports pyproject.toml

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_generation.py
	$(BIN)/python benchmarks/bench_observables.py

clean-venv:
	rm -rf $(VENV)
