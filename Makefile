# The two set-up commands of README.md: `make demo` and `make test`.
# Each creates the virtual environment and installs what it needs on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

LOCK := requirements.lock

.PHONY: demo test lint typecheck unit bench clean lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# pyproject.toml declares ranges; $(LOCK) pins the exact versions every install uses
$(VENV)/.installed-run: pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PIP) install -c $(LOCK) -e '.[testbed,aws]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PIP) install -c $(LOCK) -e '.[dev]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(VENV)/bin/loadtrial demo

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests $(wildcard bench)
	$(VENV)/bin/ruff format --check src tests $(wildcard bench)

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

unit: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n 2

test: lint typecheck unit

bench: $(VENV)/.installed-dev
	$(PY) bench/run_all.py

# re-resolve the ranges in a scratch venv and pin what it installed (after editing ranges)
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip --disable-pip-version-check -q install -e '.[dev]'
	{ echo "# Exact versions that 'make' and CI install (pip install -c $(LOCK) -e '.[dev]')."; \
	  echo "# pyproject.toml declares the ranges; regenerate after changing them: make lock"; \
	  .lockvenv/bin/python -m pip freeze --exclude-editable | grep -v '^loadtrial'; } > $(LOCK)
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .loadtrial .pytest_cache .mypy_cache .ruff_cache
