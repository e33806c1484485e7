# askpro: `make run` serves a demo on 127.0.0.1:8000, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
# The exact, hashed versions `make run` and `make test` install (update with `make lock`).
LOCK := requirements/dev.txt
UV_VERSION := 0.13.9
UV := $(BIN)/uv
LOWEST_VENV := .venv-lowest
# The lowest-versions pass runs one or two test files per direct dependency (the whole
# suite would not fit CI's time budget twice): typer/rich/click (CLI), sqlalchemy/psycopg
# (db), fastapi/pydantic/starlette (API, bad input), stripe + procrastinate (webhook
# ingest and processing, a Stripe event end to end), msgspec + orjson (the providers'
# decoders), httpx/stamina/purgatory/cashews (Cal.com client against the stand-in), limits
# (rate limits), pydantic-settings (config), jinja2/prometheus (health),
# pytest/pytest-asyncio/hypothesis (all of them).
LOWEST_TESTS := tests/test_db.py tests/test_config.py tests/test_cli.py \
	tests/webhooks/test_signatures.py tests/webhooks/test_ingest.py tests/webhooks/test_providers.py \
	tests/webhooks/test_processing.py tests/integrations/stripe/test_webhook_end_to_end.py \
	tests/integrations/calcom/test_client_standin.py tests/api/test_bad_input.py \
	tests/auth/test_rate_limits.py tests/ops/test_health.py

.PHONY: run test lint typecheck pytest install clean lock test-lowest

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python >= 3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

$(UV): $(STAMP)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

# Re-resolve the newest versions pyproject.toml allows; review the diff, run `make test`.
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 --upgrade -o $(LOCK)
	$(UV) pip compile pyproject.toml --generate-hashes --universal \
		--python-version 3.11 --upgrade -o requirements/runtime.txt

# The LOWEST versions pyproject.toml allows for each direct dependency, so a floor can
# never claim a version the code does not work with.
test-lowest: $(UV)
	rm -rf $(LOWEST_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(LOWEST_VENV)
	$(UV) pip install --quiet --python $(LOWEST_VENV)/bin/python --resolution lowest-direct -e '.[dev]'
	$(LOWEST_VENV)/bin/pytest -p no:cacheprovider -q $(LOWEST_TESTS)

run: $(STAMP)
	$(BIN)/askpro serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Tests that open ~60 connections at once run alone after the parallel run.
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

test: lint typecheck pytest

clean:
	rm -rf $(VENV) $(LOWEST_VENV) var/test .pytest_cache .mypy_cache .ruff_cache
