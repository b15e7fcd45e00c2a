# The two commands: `make demo` and `make test`. Everything else supports them.
# Only Python >= 3.10 and make are assumed; the venv and every tool are installed here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_MODE ?= quick

.PHONY: demo test check lint typecheck drift gen-sync bench reliability dist mutation install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,speed,otel,ray,celery]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict

drift: $(STAMP)
	$(BIN)/python scripts/gen_sync.py --check

gen-sync: $(STAMP)
	$(BIN)/python scripts/gen_sync.py
	$(BIN)/ruff format stablebrowse_async/sync/_generated.py

check: lint typecheck drift

test: check
	$(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --mode $(BENCH_MODE)

# The reliability suite at its full size (make test runs it at the quick size).
reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -p no:cacheprovider --reliability=full

# sdist and wheel into dist/, checked by twine (tests/test_wheel.py installs a fresh build).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# Mutation testing of the core modules (not part of make test; see the README's Development).
# MODULES="_convert types" limits the run; results are cached in mutants/.
MODULES ?=
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(MODULES)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov dist mutants
