# mlkit-suite: `make demo` runs the notebook series and reports; `make test` runs lint and all tests.
# Both create .venv (Python 3.12) and install the project on first use.

PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
            $$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlkit-installed
PROFILE ?= workshop
PYTEST_ARGS ?=

.PHONY: venv browser demo test lint unit notebooks bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 not found: install it or run 'make PYTHON=/path/to/python3.12'"; exit 1; fi
	@echo "==> creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mlkit)" >/dev/null
	@touch $(STAMP)
	@echo "==> $(VENV) ready"

demo: $(STAMP)
	$(BIN)/mlkit demo --profile $(PROFILE) --out build

lint: $(STAMP)
	$(BIN)/ruff check mlkit widgets tests benchmarks

# Browser tests render exported pages in Debian's chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "==> installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "could not install chromium (needs root and Debian's registry): the browser tests will fail"; }

test: lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not notebook and not cluster" $(PYTEST_ARGS)

notebooks: $(STAMP)
	$(BIN)/python -m pytest -m notebook $(PYTEST_ARGS)

# Speed and memory against the peers, full sizes (tens of minutes on 2 cores; needs ~10 GB of disk).
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "==> $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf build .pytest_cache .ruff_cache
