# The two commands of a fresh machine: `make run` and `make test`.
# Every version comes from uv.lock; `make lock` refreshes it on purpose.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/monitor.yaml
# The installer is pinned here, the build backend in pyproject.toml, the rest in uv.lock.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# --inexact keeps uv and pip in the venv; --frozen installs the lock as it is, never re-resolving.
SYNC := $(UV) sync --frozen --inexact

export UV_PROJECT_ENVIRONMENT := $(VENV)
# Never fetch an interpreter of uv's own: the venv's Python is the one the user has.
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint system-packages bench lock wheel-check clean

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	    echo "monitor needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
	         "Name another with: make PYTHON=python3.11 ..." >&2; exit 1; }
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

test: lint system-packages
	$(BIN)/pytest

# Debian packages the tests use: docker-compose checks docker-compose.yml (`config` needs no
# engine); chromium runs the web pages' browser tests (Playwright drives it; no browser is
# downloaded), with Noto CJK for the screenshots of Chinese and Japanese pages to be read
# (without it each character is a box). Installed when missing and this is root (the
# development and CI machines); else the tests that need them fail saying what to install.
SYSTEM_PACKAGES := docker-compose chromium fonts-noto-cjk
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
system-packages:
	@{ command -v docker-compose && command -v chromium && [ -e $(CJK_FONT) ]; } >/dev/null || [ "$$(id -u)" != 0 ] || { \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null \
		|| { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; }; }

# What a user's install gets: the wheel alone, into a new venv, runtime dependencies from the lock.
wheel-check: $(VENV)/.installed-test
	UV=$(UV) PYTHON=$(PYTHON) .ci/wheel-check

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.match
	$(BIN)/python -m bench.adversarial
	$(BIN)/python -m bench.languages
	$(BIN)/python -m bench.charsets
	$(BIN)/python -m bench.stories
	$(BIN)/python -m bench.extraction
	$(BIN)/python -m bench.listings
	$(BIN)/python -m bench.parsing
	$(BIN)/python -m bench.fetching
	$(BIN)/python -m bench.archive --sizes 100000,1000000
	$(BIN)/python -m bench.archive --backend postgresql --sizes 100000,1000000
	$(BIN)/python -m bench.daemons
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.serve --backend postgresql
	kept=$$(mktemp -d) && for mix in all prefix scan verify filter counts; do \
		$(BIN)/python -m bench.slow_searches --archive $$kept/archive.db --mix $$mix || exit 1; \
	done; rm -rf $$kept
	$(BIN)/python -m bench.slow_searches --mix long
	$(BIN)/python -m bench.slow_searches --mix long --backend postgresql
	$(BIN)/python -m bench.slow_searches --mix scan --backend postgresql
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.hostile
	$(BIN)/python -m bench.latency

# Re-resolve every dependency to the newest versions pyproject.toml allows; then run `make test`
# and commit uv.lock.
lock: | $(UV)
	$(UV) lock --upgrade

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info build dist
