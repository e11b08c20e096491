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

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

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
