# tiewise: `make demo` runs the main job on generated data; `make test` runs the tests.
# Every target sets up its own virtual environment from the pinned constraints first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
STAMP  := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: all venv demo test test-slow test-all lint bench lock clean browser vendor serve-demo docs

# The explorer's JavaScript library, vendored into the package (`make vendor` re-fetches it from
# the npm registry); nothing is fetched when the explorer runs.
CYTOSCAPE_VERSION := 3.34.4
VENDOR := src/tiewise/serve/static/vendor

all: test

# The demo needs the package alone; the tests add the development tools and Spark (the Spark
# tests run in CI), the benchmarks pynetim.  See the README (Install) for the sizes.
$(CORE): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tiewise needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	@$(BIN)/python -c 'import lightgbm' || { echo "LightGBM (the churn model) cannot be imported (the error above); when it names libgomp or OpenMP, install that runtime (Debian/Ubuntu: apt-get install libgomp1; Fedora: dnf install libgomp; macOS: brew install libomp), then run make again" >&2; exit 2; }
	touch $(CORE)

$(STAMP): $(CORE)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(CORE)
	$(BIN)/tiewise demo --dir demo --customers 100000

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/mypy
	$(BIN)/lint-imports

# The tests run on TEST_WORKERS processes (pytest-xdist); tests/conftest.py keeps together the
# tests that share a costly fixture.  `make test TEST_WORKERS=0` runs them in this process.
TEST_WORKERS ?= 2

test: lint browser
	$(PYTEST) -m "not slow" -n $(TEST_WORKERS) --dist loadgroup

# Regenerates docs/tables.md from the table registry, then checks every link of README.md and
# docs/*.md and that every `tiewise ...` example parses (tests/test_docs.py checks the same).
docs: $(CORE)
	$(BIN)/python docs/build.py

# The explorer's browser test drives Debian's chromium: install it when missing (as root), else
# the test skips and says why.  Does nothing when chromium is already there.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the explorer's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "chromium is missing and this is not root: the explorer's browser test will be skipped"; \
	fi

vendor:
	rm -rf build/vendor && mkdir -p build/vendor $(VENDOR)
	cd build/vendor && npm pack --silent cytoscape@$(CYTOSCAPE_VERSION) >/dev/null \
		&& tar xzf cytoscape-$(CYTOSCAPE_VERSION).tgz
	cp build/vendor/package/dist/cytoscape.min.js $(VENDOR)/cytoscape.min.js
	cp build/vendor/package/LICENSE $(VENDOR)/cytoscape.LICENSE
	cd $(VENDOR) && sha256sum cytoscape.min.js cytoscape.LICENSE > SHA256SUMS
	echo "cytoscape $(CYTOSCAPE_VERSION) (npm), dist/cytoscape.min.js and LICENSE" > $(VENDOR)/VERSION

# The explorer over the demo workspace (after `make demo`).
serve-demo: $(CORE)
	$(BIN)/tiewise serve --config demo/tiewise.toml

test-slow: $(STAMP)
	$(PYTEST) -m slow

test-all: lint
	$(PYTEST)

# Runs every benchmark, even after one fails, and fails at the end if any did.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	mkdir -p benchmarks/results
	@failed=""; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script || failed="$$failed $$script"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# Re-pin every dependency to what resolves today (then review the diff of constraints.txt).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet '.[dev,spark]'  # not bench: pynetim builds from source
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^tiewise' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) demo build src/*.egg-info
