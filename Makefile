# dojangkok-deploy, for developers (an operator only installs the tool: README "Install").
# `make venv` needs Python >= 3.11 and nothing else (any OS). The lab's targets (demo, test,
# lab-*, bench) install the lab's system packages first (scripts/install-system-packages,
# Debian, as root: once; a second run installs nothing) and hold the machine's lab lock while
# they use the lab (scripts/lab-lock: the lab is one per machine, shared by every checkout).
SHELL := /bin/bash
VENV ?= .venv
# The first Python >= 3.11 of scripts/pick-python: Debian's own /usr/bin/python3 when it is
# new enough, not the first python3 on PATH: a distribution build is optimized (PGO, LTO, no
# shared libpython), and every fab run starts faster with it (import fabric: ~270 ms instead
# of ~400 ms with a default pyenv build, on the lab machine). PYTHON=... picks another.
PYTHON ?= $(shell scripts/pick-python 2>/dev/null)
PYTHON_HOME := $(shell dirname "$$(realpath "$$(command -v $(PYTHON))")" 2>/dev/null)
PY := $(VENV)/bin/python
FAB := $(VENV)/bin/fab
# named after the interpreter's directory: another interpreter makes the venv again
STAMP := $(VENV)/.installed$(subst /,_,$(PYTHON_HOME))
LABLOCK := scripts/lab-lock
# The lab hosts' Debian: bookworm (12, the default) or trixie (13: Python 3.13, OpenJDK 21,
# nginx 1.26, systemd 257), e.g. `make demo LAB_SUITE=trixie`. Each suite's images and layers
# are cached side by side; the lab runs one suite at a time (`up` switches, ~30 s warm).
LAB_SUITE ?= $(or $(DOJANGKOK_LAB_SUITE),bookworm)
export DOJANGKOK_LAB_SUITE := $(LAB_SUITE)
LABENV := DOJANGKOK_HOSTS=.lab/hosts.ini DOJANGKOK_ENV=.lab/.env

.PHONY: system-packages venv demo demo-steps test test-unit lint fmt runbook lab-up lab-down \
	lab-reset lab-status bench clean

system-packages:
	@scripts/install-system-packages

venv: $(STAMP)
$(STAMP): pyproject.toml
	@[ -n "$(PYTHON)" ] || scripts/pick-python
	@home=$$(sed -n 's/^home = //p' $(VENV)/pyvenv.cfg 2>/dev/null); \
	if [ -n "$$home" ] && [ "$$home" != "$(PYTHON_HOME)" ]; then \
		echo "$(VENV) was made with $$home's Python, not $(PYTHON_HOME)'s: making it again"; \
		rm -rf $(VENV); \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# `fab` in the clone is the tool's program (tasks/program.py), as `dojangkok` is: Fabric's
	@# own runs `fab -H cpu -- CMD` over a bare connection to the text "cpu" (not hosts.ini)
	ln -sf dojangkok $(VENV)/bin/fab
	touch $(STAMP)

lab-up: system-packages venv
	$(LABLOCK) $(PY) -m tests.lab up
lab-down: system-packages venv
	$(LABLOCK) $(PY) -m tests.lab down
lab-reset: system-packages venv
	$(LABLOCK) $(PY) -m tests.lab reset
lab-status: system-packages venv
	$(PY) -m tests.lab status

# Zero to serving on the local lab: bare hosts (a cloud image: packages, a login user),
# `fab setup` on each, then the manual's full deploy of the sample apps, then a check that the
# sample apps answer with their versions on hosts of LAB_SUITE (tests/lab/versions.py). The
# lab lock is held for the whole run.
# The lab's base image (debootstrap, the slow part of a cold start) is built while the venv
# installs; the two setups run at once (gpu's output follows cpu's).
demo: system-packages
	$(LABLOCK) $(MAKE) --no-print-directory demo-steps
demo-steps:
	@mkdir -p .lab; python3 -m tests.lab image > .lab/image.log 2>&1 & image=$$!; \
	$(MAKE) --no-print-directory venv; venv=$$?; wait $$image; image_rc=$$?; \
	cat .lab/image.log; [ $$venv -eq 0 ] && [ $$image_rc -eq 0 ]
	$(PY) -m tests.lab up --bare
	@( $(LABENV) $(FAB) -H gpu setup --yes > .lab/demo-setup-gpu.log 2>&1; \
	   echo $$? > .lab/demo-setup-gpu.rc ) & \
	$(LABENV) $(FAB) -H cpu setup --yes; cpu=$$?; wait; cat .lab/demo-setup-gpu.log; \
	[ $$cpu -eq 0 ] && [ "$$(cat .lab/demo-setup-gpu.rc)" = 0 ]
	$(LABENV) $(FAB) full-deploy --yes
	$(PY) -m tests.lab served
	@echo "served: https://$$(sed -n 's/^server_name=//p' .lab/hosts.ini)/ (CA: .lab/tls/site-ca.pem; the name resolves here through /etc/hosts)"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Everything: lint, unit tests and the lab tests (boots the lab when it is not up), with the
# lab lock held for the whole run.
test: system-packages lint
	$(LABLOCK) $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$rc

test-unit: venv
	$(PY) -m pytest tests/unit

runbook: venv
	$(PY) -m tasks.runbook > docs/runbook.md
	$(PY) -m tasks.runbook reference > docs/runbook-reference.md

bench: lab-up
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(LABLOCK) $(PY) bench/lab_bench.py
	$(LABLOCK) $(PY) bench/deploy_bench.py

clean: lab-down
	rm -rf $(VENV)
