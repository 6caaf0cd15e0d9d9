# Every target creates the virtual environment it needs; a fresh clone needs nothing else.
# `venv` is the same folder `pulumi up` uses (Pulumi.yaml: virtualenv: venv).
PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  ?= dev
# The Pulumi project to plan: . (the stack) or bootstrap (the CI identity, STACK=ci).
PROJECT_DIR ?= .
REQS   := requirements.txt requirements-dev.txt requirements-tools.txt policies/requirements.txt \
          consumer/requirements.txt pyproject.toml
PIP    := $(PY) -m pip --disable-pip-version-check

# `make plan STACK=` would pass the next option as the stack name: refuse it in one line.
STACK_TARGETS := preview plan check diff base-plan rehearse serve scan
ifneq ($(filter $(STACK_TARGETS),$(MAKECMDGOALS)),)
ifeq ($(strip $(STACK)),)
$(error STACK is empty: name a stack, e.g. make $(firstword $(MAKECMDGOALS)) STACK=dev)
endif
ifeq ($(strip $(PROJECT_DIR)),)
$(error PROJECT_DIR is empty: leave it out (the stack's project) or give PROJECT_DIR=bootstrap)
endif
endif

# The user's own stacks (every Pulumi.<stack>.yaml here and in bootstrap/), for check-stacks.
STACKS           := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
BOOTSTRAP_STACKS := $(patsubst bootstrap/Pulumi.%.yaml,%,$(wildcard bootstrap/Pulumi.*.yaml))

.PHONY: help venv test lint typecheck preview plan check check-stacks diff base-plan rehearse \
	serve bench clean scan

help:
	@echo "make rehearse STACK=dev   plan, check and rehearse the secured call offline (main job)"
	@echo "make test                 run the test suite"
	@echo "make preview STACK=dev    show the resource tree and outputs under mocks"
	@echo "make plan STACK=dev       write plans/STACK.json"
	@echo "make check STACK=dev      run the policy pack over the plan"
	@echo "make check PROJECT_DIR=bootstrap STACK=ci   the same for the CI identity project"
	@echo "make base-plan STACK=dev  plan the base branch (BASE_REF=origin/main) into plans/"
	@echo "make diff STACK=dev       compare plans/base-dev.json with plans/dev.json (or BASE=, HEAD=)"
	@echo "make check-stacks         plan, check and rehearse every Pulumi.<stack>.yaml (your stacks)"
	@echo "make scan                 Checkov's ARM checks over the prod stack exported to ARM (STACK=)"
	@echo "make lint typecheck bench clean"

# The first run takes one to three minutes (about 60 pinned packages); every step says what
# it does and pip shows its progress. Later runs skip this until a requirements file changes.
$(STAMP): $(REQS)
	@if [ ! -x $(PY) ]; then echo "== venv: creating $(VENV)/ with $(PYTHON) (first run only)"; \
		$(PYTHON) -m venv $(VENV); fi
	@echo "== venv: installing the pinned requirements (requirements-dev.txt) into $(VENV)/"
	@$(PIP) install --progress-bar on -r requirements-dev.txt
	@echo "== venv: installing this checkout's tools editable: $(VENV)/bin/secure-api-calls"
	@$(PIP) install --progress-bar on --editable .
	@touch $(STAMP)
	@echo "== venv: ready"

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

preview: $(STAMP)
	$(PY) -m sandbox preview --stack $(STACK) --project-dir $(PROJECT_DIR)

plan: $(STAMP)
	@mkdir -p plans
	$(PY) -m sandbox plan --stack $(STACK) --project-dir $(PROJECT_DIR) --out plans/$(STACK).json

check: $(STAMP)
	$(PY) -m sandbox check --stack $(STACK) --project-dir $(PROJECT_DIR)

# `make diff` compares plans/base-STACK.json (from `make base-plan`, the base branch planned with
# its own code) with plans/STACK.json (from `make plan`). Any two plan files: BASE=... HEAD=...
BASE_REF ?= origin/main
BASE ?= plans/base-$(STACK).json
HEAD ?= plans/$(STACK).json
FORMAT ?= text
# Exit 1 (changes, none identity-critical) is a normal outcome for make; 3 (identity-critical)
# and 2 (bad input) fail the target.
diff: $(STAMP)
	@test -f $(BASE) || { echo "error: $(BASE) does not exist; run \`make base-plan STACK=$(STACK)\` first (it plans $(BASE_REF) with its own code)" >&2; exit 2; }
	@test -f $(HEAD) || { echo "error: $(HEAD) does not exist; run \`make plan STACK=$(STACK)\` first" >&2; exit 2; }
	@$(PY) -m sandbox diff $(BASE) $(HEAD) --format $(FORMAT) || test $$? -eq 1

base-plan: $(STAMP)
	@rm -rf .base && mkdir -p .base plans
	git archive "$(BASE_REF)" | tar -x -C .base
	cd .base && ../$(PY) -m sandbox plan --stack $(STACK) --out ../plans/base-$(STACK).json
	@rm -rf .base

rehearse: $(STAMP)
	$(PY) -m sandbox rehearse --stack $(STACK)

serve: $(STAMP)
	$(PY) -m sandbox rehearse --stack $(STACK) --serve

# Your stacks are your data, judged here (and in CI: pr-checks.yml), not by `make test`, which
# uses its own fixture stacks. Every stack is tried; the target fails if any of them fails, if
# one gives the rehearsal nothing to try (exit 2, docs/rehearsal.md), or if there is none.
check-stacks: $(STAMP)
	@if [ -z "$(STACKS)" ]; then echo "error: no Pulumi.<stack>.yaml here to check; add one (README.md, Configuration)" >&2; exit 2; fi
	@failed=""; \
	for s in $(STACKS); do \
		echo "== stack $$s: plan, check, rehearse"; \
		$(PY) -m sandbox rehearse --stack $$s || failed="$$failed $$s"; \
	done; \
	for s in $(BOOTSTRAP_STACKS); do \
		echo "== bootstrap stack $$s: plan, check"; \
		$(PY) -m sandbox check --stack $$s --project-dir bootstrap || failed="$$failed bootstrap/$$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "== failed:$$failed" >&2; exit 1; fi; \
	echo "== every stack passed: $(STACKS) $(addprefix bootstrap/,$(BOOTSTRAP_STACKS))"

# `make scan`: the stack (prod unless STACK= is given) exported to an ARM template
# (`secure-api-calls export-arm`), scanned by Checkov's ARM checks. Checkov lives in a virtual
# environment of its own, plans/scan-venv (its many dependencies never touch venv/); the first
# run installs it. Fails when one of SCAN_CHECKS fails (the Key Vault firewall and public
# access, secret expiry and content type, the gateway's VNet); SCAN_CHECKS= runs every check.
CHECKOV     := checkov==3.3.30
SCAN_VENV   := plans/scan-venv
SCAN_STACK  := $(if $(filter command line environment,$(origin STACK)),$(STACK),prod)
SCAN_CHECKS ?= CKV_AZURE_41,CKV_AZURE_107,CKV_AZURE_109,CKV_AZURE_114,CKV_AZURE_189

$(SCAN_VENV)/.installed:
	@echo "== scan: creating $(SCAN_VENV)/ with $(CHECKOV) (first run only, about a minute)"
	@mkdir -p plans
	@$(PYTHON) -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/python -m pip --disable-pip-version-check install --progress-bar on $(CHECKOV)
	@touch $@

scan: $(STAMP) $(SCAN_VENV)/.installed
	@mkdir -p plans/arm-$(SCAN_STACK)
	$(PY) -m sandbox export-arm --stack $(SCAN_STACK) --out plans/arm-$(SCAN_STACK)/template.json
	$(SCAN_VENV)/bin/checkov -d plans/arm-$(SCAN_STACK) --framework arm --skip-download --compact \
		$(if $(SCAN_CHECKS),--check $(SCAN_CHECKS))

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) plans .base .pytest_cache .mypy_cache .ruff_cache .hypothesis
