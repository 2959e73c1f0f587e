# Two commands for a newcomer: `make run` and `make test`. Both build .venv from nothing.
# The first of these that runs and is 3.11 or newer (a pyenv shim may exist for a version that is not active).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# The OpenID provider of the single sign-on tests (tests/oidc) needs npm; without it those tests skip.
NPM := $(shell command -v npm)
OIDC_PROVIDER := tests/oidc/node_modules/.installed

.PHONY: run test lint typecheck unit openapi clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "huren needs Python 3.11 or newer (python3 on PATH, or make PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(OIDC_PROVIDER): tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	@touch $@

run: $(STAMP)
	HUREN_PUBLIC_URL="$${HUREN_PUBLIC_URL:-http://$(HOST):$(PORT)}" $(BIN)/huren demo
	@echo "Serving on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs; Ctrl-C stops)"
	$(BIN)/huren serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo  # the layers and no import cycles: [tool.importlinter] in pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --python-version 3.13  # the newest CPython the service supports, checked though not installed

unit: $(STAMP) $(if $(NPM),$(OIDC_PROVIDER))
	$(BIN)/pytest

test: lint typecheck unit

openapi: $(STAMP)
	$(BIN)/python -m app.openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis tests/oidc/node_modules
