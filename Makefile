# ITSM portal — developer tasks (GNU make, bash).
#
#   make run       install everything, migrate, seed demo data, start web + worker + beat
#   make test      run the pytest suite (PYTEST_ARGS="-k foo -x" to narrow it)
#   make lint      ruff check, ruff format --check, makemigrations --check
#   make help      list all targets

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
MANAGE  := $(PY) manage.py
RUFF    := $(VENV)/bin/ruff
HONCHO  := $(VENV)/bin/honcho
INSTALLED := $(VENV)/.installed
# The LDAP login (python-ldap) compiles against libldap/libsasl: installed when their headers are.
comma := ,
EXTRAS := dev$(if $(wildcard /usr/include/ldap.h),$(if $(wildcard /usr/include/sasl/sasl.h),$(comma)ldap))

PORT ?= 8000
export PORT
# Links in notifications (sent by the worker) point at the web process: honcho gives each process
# its own PORT, so the web's address travels as SITE_URL.
SITE_URL ?= http://127.0.0.1:$(PORT)
export SITE_URL
PYTEST_ARGS ?=

NODE_MODULES := node_modules
NODE_STAMP   := $(NODE_MODULES)/.npm-ci.stamp
VENDOR       := static/vendor
VENDOR_STAMP := $(VENDOR)/.copied.stamp

.PHONY: help install assets vendor-copy dirs migrate seed run test bench lint messages clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

# --- Python -----------------------------------------------------------------

$(INSTALLED): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  py=$$(command -v python3.11 || command -v python3 || true); \
	  if [ -z "$$py" ]; then echo "python3.11 (or python3) is required" >&2; exit 1; fi; \
	  echo "Creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV); \
	fi
	$(PIP) install --disable-pip-version-check --upgrade pip
	$(PIP) install --disable-pip-version-check -e '.[$(EXTRAS)]'
	@touch $@

install: $(INSTALLED) ## create .venv and install the project with dev extras

# --- Front-end assets (npm → static/vendor/, never a CDN) -------------------

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Copy exactly the files the templates use, as static/vendor/<package>/<file>.
# A file's source map is copied only when the file references one: Django's
# ManifestStaticFilesStorage (collectstatic) fails on a dangling sourceMappingURL.
vendor-copy: ## copy dist files from node_modules/ to static/vendor/ (no npm; used by the Dockerfile)
	@test -d $(NODE_MODULES)/bootstrap || { echo "$(NODE_MODULES)/ is missing: run 'npm ci' or 'make assets'" >&2; exit 1; }
	@rm -rf $(VENDOR)
	@copy() { \
	  local src=$(NODE_MODULES)/$$1 dest=$(VENDOR)/$$2 map; \
	  mkdir -p "$$(dirname "$$dest")"; cp "$$src" "$$dest"; echo "  $$dest"; \
	  map=$$(grep -ao 'sourceMappingURL=[^ *]*' "$$src" | tail -n1 | cut -d= -f2 || true); \
	  if [ -n "$$map" ]; then \
	    if [ -f "$$(dirname "$$src")/$$map" ]; then cp "$$(dirname "$$src")/$$map" "$$(dirname "$$dest")/$$map"; \
	    else echo "warning: $$src references missing $$map" >&2; fi; \
	  fi; \
	}; \
	echo "Copying front-end assets to $(VENDOR)/"; \
	copy bootstrap/dist/css/bootstrap.min.css            bootstrap/bootstrap.min.css; \
	copy bootstrap/dist/js/bootstrap.bundle.min.js       bootstrap/bootstrap.bundle.min.js; \
	copy bootstrap-icons/font/bootstrap-icons.min.css    bootstrap-icons/bootstrap-icons.min.css; \
	mkdir -p $(VENDOR)/bootstrap-icons/fonts; \
	cp $(NODE_MODULES)/bootstrap-icons/font/fonts/* $(VENDOR)/bootstrap-icons/fonts/; \
	echo "  $(VENDOR)/bootstrap-icons/fonts/"; \
	copy htmx.org/dist/htmx.min.js                       htmx.org/htmx.min.js; \
	if [ -f $(NODE_MODULES)/chart.js/dist/chart.umd.min.js ]; then \
	  copy chart.js/dist/chart.umd.min.js chart.js/chart.umd.min.js; \
	else \
	  copy chart.js/dist/chart.umd.js     chart.js/chart.umd.min.js; \
	fi; \
	copy mermaid/dist/mermaid.min.js                     mermaid/mermaid.min.js
	@touch $(VENDOR_STAMP)

$(VENDOR_STAMP): $(NODE_STAMP) Makefile
	@$(MAKE) --no-print-directory vendor-copy

assets: $(VENDOR_STAMP) ## npm ci (when needed) and copy vendor files to static/vendor/

# --- Django / Celery --------------------------------------------------------

dirs: # var/ (SQLite) and the filesystem broker folders used when REDIS_URL is unset
	@mkdir -p var/broker/queue var/broker/processed var/broker/control

migrate: install dirs ## apply database migrations
	$(MANAGE) migrate --noinput

seed: migrate ## load idempotent demo data (prints the demo logins)
	$(MANAGE) seed_demo

run: install assets migrate seed ## migrate, seed and start web + worker + beat (Ctrl-C stops all)
	@echo
	@echo "ITSM portal: http://127.0.0.1:$(PORT)/   (web + Celery worker + beat; Ctrl-C stops all)"
	@echo "Public status page (no login): http://127.0.0.1:$(PORT)/status/public/"
	@echo
	exec $(HONCHO) start -f Procfile -p $(PORT)

test: install assets dirs ## run the test suite (PYTEST_ARGS=... passes extra arguments)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install assets dirs ## run the benchmarks (bench/run.py; BENCH=name runs only those)
	$(PY) bench/run.py $(if $(BENCH),-k $(BENCH))

lint: install ## ruff check, ruff format --check, the import order (lint-imports), makemigrations --check
	$(RUFF) check .
	$(RUFF) format --check .
	$(VENV)/bin/lint-imports
	$(MANAGE) makemigrations --check --dry-run

# Needs GNU gettext (xgettext, msgmerge, msgfmt): apt-get install gettext.
# Compiled .mo files are committed, so gettext is only needed to change translations.
# One run at the root: the project's makemessages (itsm/core/management/commands) writes each
# app's strings to <app>/locale/ and the rest to locale/ (one app only: MESSAGES_ARGS=--app=incidents).
MESSAGES_ARGS ?=
messages: install ## update the ja .po catalogs and compile the .mo files (needs gettext)
	@command -v xgettext >/dev/null && command -v msgfmt >/dev/null || \
	  { echo "GNU gettext is required: apt-get install gettext (or brew install gettext)" >&2; exit 1; }
	$(MANAGE) makemessages -l ja --ignore=.venv --ignore=node_modules $(MESSAGES_ARGS)
	$(MANAGE) compilemessages --ignore=.venv --ignore=node_modules --ignore=var

clean: ## remove var/ (local database, broker), static/vendor/ and staticfiles/
	rm -rf var $(VENDOR) staticfiles
