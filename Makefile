# `make run` and `make test` do all the set-up on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck layers pytest bench bench-cloud bench-scale soak clean services-start services-stop

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

# The cloud tests need Azurite, SeaweedFS and moto: started here, stopped whatever pytest did.
pytest: $(STAMP)
	bash .ci/chromium.sh
	bash .ci/snapshot-tools.sh
	@trap 'bash .ci/services.sh stop' EXIT; trap 'exit 130' INT TERM; \
	bash .ci/services.sh start && . ./.ci-services/env && $(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

services-start: $(STAMP)
	bash .ci/services.sh start

services-stop:
	bash .ci/services.sh stop

test: lint typecheck layers pytest

bench: $(STAMP)
	bash bench/setup.sh
	$(PY) bench/compare.py $(BENCH_ARGS)

# cairn against restic on the same local S3 server (SeaweedFS), plus cairn on Azurite.
bench-cloud: $(STAMP)
	bash bench/setup.sh
	@trap 'bash .ci/services.sh stop' EXIT; trap 'exit 130' INT TERM; \
	bash .ci/services.sh start && . ./.ci-services/env && $(PY) bench/cloud.py --azure $(BENCH_ARGS)

# Growth, a million files, a real tree and one big file, against restic and borg (bench/README.md).
bench-scale: $(STAMP)
	bash bench/setup.sh
	$(PY) -c 'import matplotlib' 2>/dev/null || $(VENV)/bin/pip install -q 'matplotlib>=3.8,<4'
	$(PY) bench/scale.py $(BENCH_ARGS)

# The reliability suite run long (bench/README.md, "Reliability soak"): SOAK_ARGS="--rounds 2".
soak: $(STAMP)
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .cairn-demo .pytest_cache .mypy_cache .ruff_cache .ci-services
