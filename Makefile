# `make run` and `make test` do all the set-up on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck layers pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	bash scripts/run-agent.sh

demo: $(STAMP)
	bash scripts/walkthrough.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

layers: $(STAMP)
	$(VENV)/bin/lint-imports

pytest: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test: lint typecheck layers pytest

bench: $(STAMP)
	bash bench/setup.sh
	$(PY) bench/compare.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cairn-demo .pytest_cache .mypy_cache .ruff_cache
