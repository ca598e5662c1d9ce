# The two commands of a fresh machine: `make run` and `make test`.
# Every version comes from uv.lock; `make lock` refreshes it on purpose.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/monitor.yaml
# The installer itself is pinned too; it is the one thing pip fetches unlocked.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# --inexact keeps uv and pip in the venv; --frozen installs the lock as it is, never re-resolving.
SYNC := $(UV) sync --frozen --inexact

export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint bench lock wheel-check clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(SYNC)
	touch $@

$(VENV)/.installed-test: pyproject.toml uv.lock | $(UV)
	$(SYNC) --extra test
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/monitor --config $(CONFIG) run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/deptry monitor
	$(UV) lock --check --offline

test: lint
	$(BIN)/pytest

# What a user's install gets: the wheel alone, into a new venv, runtime dependencies from the lock.
wheel-check: $(VENV)/.installed-test
	UV=$(UV) .ci/wheel-check

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.match
	$(BIN)/python -m bench.stories
	$(BIN)/python -m bench.extraction
	$(BIN)/python -m bench.parsing
	$(BIN)/python -m bench.fetching
	$(BIN)/python -m bench.archive --sizes 100000,1000000
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.latency

# Re-resolve every dependency to the newest versions pyproject.toml allows, then run `make test`.
lock: | $(UV)
	$(UV) lock --upgrade

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info build dist
