# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
# On a fresh Debian machine with Python, Node and root, `make test` installs what the suite
# needs (scripts/prereqs.sh) or stops at once with one line saying what to install.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test prereqs lint bench build check clean

demo: $(STAMP)            ## run the commerce flow against a local sandbox
	$(BIN)/creativeai-connector demo

test: prereqs $(STAMP)    ## every test: lint, types, Python suite (the platform suites run inside it)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

prereqs:                  ## Node.js, Chromium, PostgreSQL, Redis: installed or started, else one line
	PYTHON=$(PYTHON) bash scripts/prereqs.sh test

bench: $(STAMP)           ## every benchmark, each printing ratios against its baseline
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

build: $(STAMP)           ## regenerate everything generated from the catalog (packages, client params)
	$(BIN)/creativeai-connector build

check: $(STAMP)           ## fail if a generated file differs from what the catalog makes
	$(BIN)/creativeai-connector build --check

$(STAMP): pyproject.toml
	PYTHON=$(PYTHON) bash scripts/prereqs.sh python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
