# The two commands: `make run` (the helpdesk on http://127.0.0.1:8000 with a Celery worker and beat)
# and `make test`. Everything else is installed into .venv from the pinned requirements.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n auto

.PHONY: run test lint check format clean axe-core

# axe-core for the accessibility tests (tests/accessibility), pinned by its package-lock.json. Without npm
# the tests are skipped, except in CI (CI=true), where they must run.
AXE_DIR := tests/accessibility
AXE_STAMP := $(AXE_DIR)/node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Embedded mode unless configured otherwise: SQLite under var/, the filesystem broker, DEBUG on.
run: export DEBUG ?= true
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runstack 127.0.0.1:8000

$(AXE_STAMP): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(AXE_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "CI: npm is needed for the accessibility tests (apt-get install -y npm)" >&2; exit 1; \
	else \
		echo "npm not found: the accessibility tests (axe-core) will be skipped"; \
	fi

axe-core: $(AXE_STAMP)

test: $(VENV)/.installed axe-core
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Django's system checks, migrations in step with the models, and the production checklist.
check: export SECRET_KEY ?= check-only-$(shell date +%s)-not-a-real-secret-but-long-enough-for-the-check
check: $(VENV)/.installed
	DEBUG=false $(PY) manage.py check
	DEBUG=false $(PY) manage.py makemigrations --check --dry-run
	DEBUG=false ALLOWED_HOSTS=helpdesk.example.com $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var staticfiles
