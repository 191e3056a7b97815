# nmm: one command to reproduce, one to test. Both create or reuse the virtual environment.
#   make reproduce            full reproduction + book (make reproduce QUICK=1: quick parameter set)
#   make test                 the test suite
#   make help                 every target

PYTHON ?= python3.11
VENV ?= .venv
QUICK ?= 0
BIN := $(VENV)/bin
STAMP := $(VENV)/.nmm-installed
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: help venv test test-fast reproduce notebooks book check-book lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  QUICK=1 selects the quick parameter set for reproduce/notebooks/book/check-book"

# The environment is rebuilt when the pinned versions or the package metadata change.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "error: $(PYTHON) is not Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)  ## create or update the virtual environment from requirements.lock

test: $(STAMP)  ## run every test (OpenSim cross-checks and the strict book build included; two pytest runs at once)
	$(BIN)/python scripts/run_tests.py

test-fast: $(STAMP)  ## the tests without the notebook and book build
	$(BIN)/python -m pytest -m "not book"

reproduce: $(STAMP)  ## execute every notebook (skipping unchanged ones) and build the book
	$(BIN)/python -m nmm_core.reproduce $(if $(filter 1,$(QUICK)),--quick,)

notebooks: $(STAMP)  ## execute the notebooks only
	$(BIN)/python -m nmm_core.reproduce --no-book $(if $(filter 1,$(QUICK)),--quick,)

book: $(STAMP)  ## build the book from the executed notebooks (strict: -W -n --keep-going)
	$(BIN)/python -m nmm_core.reproduce --book-only $(if $(filter 1,$(QUICK)),--quick,)

check-book: $(STAMP)  ## check every built page (and render it in Chromium when installed)
	$(BIN)/python scripts/check_book.py --screenshots _build/screenshots $(if $(filter 1,$(QUICK)),--quick,)

lock: $(STAMP)  ## rewrite requirements.lock from the current environment
	{ head -n 2 requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -iv '^nmm=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:  ## remove generated files (keeps the environment and downloaded data)
	rm -rf _build book/_generated results .pytest_cache
