# Indikatorenkäter — `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
export SURVEYS_INSTANCE ?= $(CURDIR)/instance

.PHONY: run test lint format install browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright's own download does not work here).
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Installera Chromium: sudo apt-get install chromium" >&2; fi; }

run: $(STAMP)
	$(BIN)/surveys db upgrade
	$(BIN)/surveys instrument load
	$(BIN)/surveys demo
	@echo ""
	@echo "Indikatorenkäter körs på http://127.0.0.1:$(PORT)  (avsluta med Ctrl+C)"
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

# The whole suite on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set
# (.ci/run starts a throwaway PostgreSQL cluster and sets it).
test: $(STAMP) browsers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== Samma tester mot PostgreSQL =="; \
	  TEST_DB=postgresql $(BIN)/pytest -q $(PYTEST_ARGS); \
	else echo "TEST_DATABASE_URL saknas: PostgreSQL-körningen hoppas över"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
