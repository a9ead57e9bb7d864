# Two commands: `make demo` runs the main demo, `make test` runs the tests.
# Both create .venv (Python 3.11 or 3.10), install the project, and install GHDL when missing;
# `make test` also installs PostgreSQL (tests/test_distributed.py starts a throwaway server).
PYTHON ?= $(shell command -v python3.11 || command -v python3.10 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-long bench setup ghdl postgres clean

setup: $(STAMP) ghdl

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

ghdl:
	@command -v ghdl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq ghdl; \
	  else echo "GHDL is missing. Install it with: sudo apt-get install -y ghdl"; exit 1; fi; }

# the server binaries (initdb, pg_ctl, postgres); Debian keeps them in /usr/lib/postgresql/<version>/bin
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else echo "PostgreSQL is missing. Install it with: sudo apt-get install -y postgresql"; exit 1; fi; }

demo: setup
	$(PY) examples/demo.py

# the suite runs on every core (pytest-xdist); each worker keeps its own session fixtures
test: setup postgres
	$(PY) -m pytest -q -n auto

test-fast: setup postgres
	$(PY) -m pytest -q -n auto -m "not slow and not long"

test-long: setup
	$(PY) -m pytest -q -m long

bench: setup
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf demo_out .pytest_cache
