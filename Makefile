# tiewise: `make demo` runs the main job on generated data; `make test` runs the tests.
# Every target sets up its own virtual environment from the pinned constraints first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: all venv demo test test-slow test-all lint bench lock clean

all: test

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tiewise needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/tiewise demo --dir demo --customers 100000

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(PYTEST) -m "not slow"

test-slow: $(STAMP)
	$(PYTEST) -m slow

test-all: lint
	$(PYTEST)

# Runs every benchmark, even after one fails, and fails at the end if any did.
bench: $(STAMP)
	mkdir -p benchmarks/results
	@failed=""; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script || failed="$$failed $$script"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# Re-pin every dependency to what resolves today (then review the diff of constraints.txt).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet '.[dev,spark]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^tiewise' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) demo build src/*.egg-info
