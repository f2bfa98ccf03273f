# Each target sets itself up on a fresh machine: a .venv with the package and its dev extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint system clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use (a CJK font for charts, Chromium for the map page test).
system:
	bash scripts/setup-system.sh

demo: $(STAMP)
	$(VENV)/bin/servicecircle analyze --out output
	$(VENV)/bin/servicecircle suggest --k 8 --out output/suggest

test: $(STAMP) system lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check planner api tests bench
	$(VENV)/bin/ruff format --check planner api tests bench
	$(VENV)/bin/mypy planner api

clean:
	rm -rf output .pytest_cache
