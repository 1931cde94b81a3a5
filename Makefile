# FiscalMix: `make run` starts the whole system locally; `make test` runs the checks and the suite.
# Both build what they need from nothing: Debian packages, the virtual environment, the project.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := xmlsec1 softhsm2 nodejs
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: run test lint typecheck pytest bench synth deps clean

run: $(STAMP)
	$(BIN)/fiscalmix local $(ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/parse.py

synth: $(STAMP)
	$(BIN)/python -m infra.app

deps:
	@scripts/install-debian-packages.sh $(DEB_PACKAGES)

$(STAMP): pyproject.toml | deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[infra,local,dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) cdk.out .build .mypy_cache .ruff_cache .pytest_cache
