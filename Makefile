# shopfloor: `make run` starts the demo platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run demo test check lint format typecheck imports bench clean help sbom

help:
	@echo "make run     set up .venv and start the demo platform (http://127.0.0.1:8080)"
	@echo "make test    set up test extras and run the whole test suite"
	@echo "make check   format check, lint, type check, import rules, tests"
	@echo "make bench   run the benchmarks (prints JSON)"
	@echo "make sbom    CycloneDX SBOM of the installed environment -> sbom.cdx.json"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[sim]"
	touch $(STAMP)

$(TSTAMP): pyproject.toml $(STAMP)
	$(PIP) install --quiet -e ".[test]"
	touch $(TSTAMP)

run demo: $(STAMP)
	$(BIN)/shopfloor demo

test: $(TSTAMP)
	$(BIN)/python -m pytest -q -n 2

lint: $(TSTAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(TSTAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

typecheck: $(TSTAMP)
	$(BIN)/mypy

imports: $(TSTAMP)
	$(BIN)/lint-imports

check: lint typecheck imports test

bench: $(STAMP)
	$(BIN)/shopfloor bench store --json
	$(BIN)/shopfloor bench ingest --json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info

# CycloneDX SBOM of the installed environment (works offline once cyclonedx-bom is installed).
sbom: $(STAMP)
	@test -x $(BIN)/cyclonedx-py || $(PIP) install --quiet -e ".[sbom]"
	$(BIN)/cyclonedx-py environment --pyproject pyproject.toml --mc-type application \
		--output-reproducible --of JSON -o sbom.cdx.json $(BIN)/python
	@echo "wrote sbom.cdx.json"
