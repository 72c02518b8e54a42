# Indikatorenkäter — `make run` serves the demo, `make test` runs every test.
# Installs come from uv.lock (`uv sync --frozen`); make fetches uv itself when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export SURVEYS_INSTANCE ?= $(CURDIR)/instance
# uv never downloads a Python of its own: the machine's python3 (>= 3.11) is used.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= $(PYTHON)
# Bytecode is cached (in __pycache__, ignored by git) even where the shell sets
# PYTHONDONTWRITEBYTECODE: uv installs no .pyc, so without it every process the tests start
# (the console, gunicorn, the worker) compiled pandas, SQLAlchemy and Altair from source
# again, 8.5 s instead of 2.8 s for `surveys --help`.
unexport PYTHONDONTWRITEBYTECODE

# uv from PATH, or else a pinned uv in a small tools venv (works as root in CI, no sudo needed).
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
UV_VERSION := >=0.13,<0.14

RUN_STAMP  := $(VENV)/.synced-run
TEST_STAMP := $(VENV)/.synced-test

.PHONY: run test lint typecheck format install lock browsers wheel clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check 'uv$(UV_VERSION)'

# What `make run` needs: the application (with the PostgreSQL driver) and nothing else.
# --inexact keeps the test tools when they are already installed.
$(RUN_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --no-default-groups --extra postgres
	touch $@

# Everything the tests need: dev tools, Playwright, duckdb and the PostgreSQL driver.
$(TEST_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --all-groups
	touch $@ $(RUN_STAMP)

install: $(TEST_STAMP)

# Re-resolve uv.lock after a change of pyproject.toml (commit both).
lock: | $(UV)
	$(UV) lock

# Debian's Chromium for the browser tests (Playwright's own download does not work here),
# and Debian's redis-server for the test of the sign-in limit in Redis (tests/test_redis_limit.py
# starts its own on a loopback port). Idempotent: does nothing when both are on PATH.
# axe-core (accessibility checks injected by the browser tests) comes from npm, pinned by
# tests/js/package-lock.json; Lighthouse, a devDependency there (185 MB), is left out here:
# bench/lighthouse.py installs it on first use.
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Installera Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "Installera Redis: sudo apt-get install redis-server" >&2; exit 1; fi; }
	@test -f tests/js/node_modules/axe-core/axe.min.js \
	  || npm ci --prefix tests/js --omit=dev --no-audit --no-fund --silent

run: $(RUN_STAMP)
	$(BIN)/surveys db upgrade
	$(BIN)/surveys instrument load
	$(BIN)/surveys demo
	@echo ""
	@echo "Indikatorenkäter körs på http://127.0.0.1:$(PORT)  (avsluta med Ctrl+C)"
	@# The background worker (publishing, previews) beside gunicorn; stopped with it.
	$(BIN)/surveys worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

# The whole suite on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set
# (.ci/run starts a throwaway PostgreSQL cluster and sets it). The PostgreSQL pass runs the
# tests that use the database, less browser tests and those marked one_database (see
# pytest_collection_modifyitems in tests/conftest.py). The wheel test is part of it;
# deselect it while working with PYTEST_ARGS='-m "not wheel"'.
# pytest-xdist spreads the test files over TEST_WORKERS processes (one per core; each has a
# database of its own). TEST_WORKERS=0 runs everything in one process. The longest files
# go first (START_FIRST in tests/conftest.py), so xdist's own order is turned off.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)
test: $(TEST_STAMP) browsers lint
	$(BIN)/pytest -q $(XDIST) $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== Samma tester mot PostgreSQL =="; \
	  TEST_DB=postgresql $(BIN)/pytest -q $(XDIST) -m "not wheel" $(PYTEST_ARGS); \
	else echo "TEST_DATABASE_URL saknas: PostgreSQL-körningen hoppas över"; fi

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The wheel in dist/ (templates and migrations inside the surveys package).
wheel: | $(UV)
	$(UV) build --wheel

clean:
	rm -rf $(VENV) .tools dist build instance .pytest_cache .ruff_cache .mypy_cache
