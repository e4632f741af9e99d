# Two commands: `make demo` (set up, seed, serve) and `make test` (set up, run the suite on
# SQLite, and again on PostgreSQL when TANDEM_POSTGRES_URL is set).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tandem demo

test: $(STAMP)
	$(BIN)/pytest -q
	@if [ -n "$$TANDEM_POSTGRES_URL" ]; then \
		echo "== again on PostgreSQL ($$TANDEM_POSTGRES_URL)"; \
		TANDEM_TEST_DATABASE_URL="$$TANDEM_POSTGRES_URL" $(BIN)/pytest -q; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) tandem.db tandem.db-wal tandem.db-shm .pytest_cache .mypy_cache .ruff_cache
