# The two set-up commands of README.md: `make demo` and `make test`.
# Each creates the virtual environment and installs what it needs on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[testbed,aws]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(VENV)/bin/loadtrial demo

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests $(wildcard bench)
	$(VENV)/bin/ruff format --check src tests $(wildcard bench)

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

unit: $(VENV)/.installed-dev
	$(PY) -m pytest -q

test: lint typecheck unit

bench: $(VENV)/.installed-dev
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .loadtrial .pytest_cache .mypy_cache .ruff_cache
