# ShopOps: `make demo` runs the demo shop, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo test lint format browser-deps serve clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py train_models
	$(BIN)/python manage.py demo_logins
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: setup
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Chromium drives the browser tests; they are skipped (with a reason) where it cannot be installed.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ; } \
	  || echo "chromium is not installed: browser tests will be skipped"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup browser-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var/ .pytest_cache .ruff_cache
