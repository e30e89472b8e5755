# ACSO: the single entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGES := shared services/supervisor services/threat_hunter services/incident_response \
            services/service_orchestration services/financial_intelligence
LAMBDA_PACKAGES := lambdas/auth lambdas/notification lambdas/data_processing
PYPROJECTS := $(foreach p,$(PACKAGES) $(LAMBDA_PACKAGES),$(p)/pyproject.toml)
ROLE ?= analyst
ENV ?= dev
PYTEST_ARGS ?=
# Two workers (the suite mostly waits on servers), grouped as tests/conftest.py says.
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS)

-include devtools/terraform.mk
-include devtools/lambdas.mk

.PHONY: help setup run demo test test-unit test-integration test-e2e lint typecheck bench token up down browser clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): $(PYPROJECTS) requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ACSO needs Python 3.11 or newer (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e 'shared[local]' $(foreach p,$(filter services/%,$(PACKAGES)),-e $(p)) -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP) ## Create the virtual environment and install everything (only when needed)

run: setup ## Start the whole system locally (keeps the last run's state; FRESH=1 starts from nothing)
	@$(PY) -m acso_shared.cli run $(if $(filter 1 true yes,$(FRESH)),--fresh)

demo: ## Seed the running system's emulator with what the README's alert fixtures name and send the alerts
	@$(PY) -m acso_shared.cli demo

token: ## Print an access token of the demo user with ROLE (needs `make run` in another terminal)
	@$(PY) -m acso_shared.cli token --role $(ROLE)

test: setup browser ## Run the whole suite: unit, integration, end to end (starts its own emulator and database)
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-unit: setup ## Only the unit tests (no I/O)
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

test-integration: setup ## Only the integration tests (emulator + PostgreSQL)
	$(PY) -m pytest -m integration $(XDIST) $(PYTEST_ARGS)

test-e2e: setup browser ## Only the end-to-end tests (the system as `make run` starts it)
	$(PY) -m pytest -m e2e $(XDIST) $(PYTEST_ARGS)

lint: setup ## ruff
	$(VENV)/bin/ruff check shared services lambdas tests bench devtools
	$(VENV)/bin/ruff format --check shared services lambdas tests bench devtools

typecheck: setup ## mypy (strict)
	$(VENV)/bin/mypy shared/acso_shared $(filter-out %.egg-info,$(wildcard services/*/acso_*)) $(filter-out %.egg-info,$(wildcard lambdas/*/acso_lambda_*))

bench: setup ## Benchmarks; each prints a table
	@for script in bench/*_bench.py; do echo "== $$script"; $(PY) $$script || exit 1; done

browser: ## Install headless Chromium for the report rendering test (Debian, as root; skipped otherwise)
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the report rendering test ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed; the rendering test will say so"; \
	fi

up: ## docker compose up: ACSO_EMULATOR=localstack (needs LOCALSTACK_AUTH_TOKEN) or moto; needs Docker
	COMPOSE_PROFILES=$${ACSO_EMULATOR:-localstack} docker compose up --build

down: ## docker compose down (removes the database volume)
	COMPOSE_PROFILES=$${ACSO_EMULATOR:-localstack} docker compose down -v

clean: ## Remove local data (database, logs) and caches
	rm -rf .acso .pytest_cache .mypy_cache .ruff_cache
