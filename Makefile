# One set of commands for users, developers and CI. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Hypothesis profile: dev (200 examples per property) locally, ci in CI.
HYPOTHESIS_PROFILE ?= $(if $(CI),ci,dev)

.PHONY: help install demo regenerate check-generated lint test test-all bench fuzz-sandbox clean

help:  ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python  ## Create .venv and install flxtrd with its dev tools (editable)
	$(BIN)/python -m pip install --quiet -e '.[dev]'

demo: install  ## Run a full trade against the embedded sandbox market
	$(BIN)/python -m flxtrd demo

regenerate:  ## Rewrite generated/ from specs/ and the sync REST modules from their async sources
	$(BIN)/python scripts/regenerate

check-generated:  ## Fail if generated/ or a sync REST module differs from what its source produces
	$(BIN)/python scripts/regenerate --check

lint:  ## ruff (lint + format check), mypy --strict on flxtrd/, spec validation
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/check_specs.py

test: install lint check-generated  ## Lint, check generated/, run every test
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(BIN)/pytest

bench: install  ## Side-by-side benchmarks (RabbitMQ on 127.0.0.1:5672; the fleet bench starts its own node on 5673)
	$(BIN)/python benchmarks/run_all.py

fuzz-sandbox: install  ## Fuzz the served sandbox's HTTP surface: >= 100,000 requests, no 5xx
	FLXTRD_SANDBOX_FUZZ_SCALE=10 $(BIN)/pytest -q -s -p no:cacheprovider tests/reliability/test_sbxfuzz_served_http.py

clean:  ## Remove caches and build output
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
