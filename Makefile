# Two commands matter: `make serve` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/flux-mock serve $(ARGS)

# Over half of a test's time is spent waiting on a real client, a subprocess or
# a backoff, so twice as many workers as this machine's two cores keep both busy.
TEST_WORKERS ?= 4
# Bytecode is written even where the environment says not to: every worker and every
# `flux-mock` subprocess of the suite would otherwise compile the package again.
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(PY) -m compileall -q mockserver contract_tests
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# mypy in three runs: the packages; the tests, which import one another as the
# package they sit in; the benchmarks and sample clients, scripts that import
# their neighbours by file name.
lint: $(STAMP)
	$(VENV)/bin/ruff check mockserver contract_tests tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --explicit-package-bases --exclude tests/clients tests
	$(VENV)/bin/mypy benchmarks tests/clients

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
