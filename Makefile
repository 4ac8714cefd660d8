# Everything a new machine needs is installed here, into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean browser

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/hub dev

# Headless Chromium and a CJK font for tests/web/test_dashboard.py (Debian, as root); where
# apt-get cannot install them the test skips and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	   apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) || \
	  echo "make browser: chromium not installed (needs apt-get as root); the browser test will skip"; \
	fi

test: $(STAMP) browser
	$(BIN)/ruff check hub schemas connectors tests benchmarks
	$(BIN)/mypy hub schemas connectors benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check hub schemas connectors tests benchmarks
	$(BIN)/mypy hub schemas connectors
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .hub
