# dojangkok-deploy: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FAB := $(VENV)/bin/fab
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-unit lint fmt runbook lab-up lab-down lab-reset lab-status bench clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

lab-up: venv
	$(PY) -m tests.lab up
lab-down: venv
	$(PY) -m tests.lab down
lab-reset: venv
	$(PY) -m tests.lab reset
lab-status: venv
	$(PY) -m tests.lab status

# A full deploy of the sample apps to the local lab, then the report.
demo: lab-up
	DOJANGKOK_HOSTS=.lab/hosts.ini DOJANGKOK_ENV=.lab/.env $(FAB) full-deploy --yes

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Everything: lint, unit tests and the lab tests (boots the lab when it is not up).
test: lint
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$rc

test-unit: venv
	$(PY) -m pytest tests/unit

runbook: venv
	$(PY) -m tasks.runbook > docs/runbook.md

bench: lab-up
	$(PY) bench/lab_bench.py
	$(PY) bench/deploy_bench.py

clean: lab-down
	rm -rf $(VENV)
