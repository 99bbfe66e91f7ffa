# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make run    set up, migrate the database, serve on http://127.0.0.1:$(PORT)
#   make test   set up, then run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
# Processes `make test` runs the suite in (pytest-xdist), a test file to each at a time.
TEST_WORKERS ?= auto
DEV_ENV := APP_ENV=development PORT=$(PORT)

.PHONY: install run test lint format spec spec-lint bench clean rename

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(DEV_ENV) $(BIN)/flask --app app db upgrade
	@$(DEV_ENV) $(BIN)/flask --app app urls
	$(DEV_ENV) $(BIN)/gunicorn --config deploy/gunicorn.conf.py --bind 127.0.0.1:$(PORT) 'app:create_app()'

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests bench deploy gpt_action_lint scripts migrations/env.py
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests bench deploy gpt_action_lint scripts migrations/env.py
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format app tests bench deploy gpt_action_lint scripts migrations/env.py

# Give a copy its own name and title, e.g. make rename NAME=my-action TITLE="My Action"
# (pyproject.toml and the service names in deploy/; docs/template.md).
rename:
	$(PYTHON) scripts/rename.py "$(NAME)" "$(TITLE)"

# Rewrite the checked-in spec, openapi/openapi.yaml, after changing an operation.
spec: install
	APP_ENV=development $(BIN)/flask --app app spec export

# The checked-in spec, which has an https server like a deployment's (a development server's
# http://127.0.0.1 spec is, rightly, not one ChatGPT would import).
spec-lint: install
	$(BIN)/gpt-action-lint openapi/openapi.yaml --strict

# Load tests against gunicorn with the production config, on SQLite and PostgreSQL
# (BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/bench, is dropped and made
# again), with getTodos' targets: worker CPU per request against a bare Flask endpoint's, p99 at
# one connection per worker, 100,000 todos against 10, worker RSS (docs/performance.md).
# Not part of `make test`: it takes about ten minutes and wants a quiet machine.
# BENCH_ARGS passes options to bench/run.py, e.g. BENCH_ARGS="--db sqlite --duration 5", or
# BENCH_ARGS="--app-env LIST_CACHE_BYTES=0" to measure an older commit without its list cache.
bench: install
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
