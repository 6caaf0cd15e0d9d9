# Every target creates the virtual environment it needs; a fresh clone needs nothing else.
# `venv` is the same folder `pulumi up` uses (Pulumi.yaml: virtualenv: venv).
PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  ?= dev
# The Pulumi project to plan: . (the stack) or bootstrap (the CI identity, STACK=ci).
PROJECT_DIR ?= .
REQS   := requirements.txt requirements-dev.txt policies/requirements.txt consumer/requirements.txt

.PHONY: help venv test lint typecheck preview plan check diff base-plan rehearse serve bench clean

help:
	@echo "make rehearse STACK=dev   plan, check and rehearse the secured call offline (main job)"
	@echo "make test                 run the test suite"
	@echo "make preview STACK=dev    show the resource tree and outputs under mocks"
	@echo "make plan STACK=dev       write plans/STACK.json"
	@echo "make check STACK=dev      run the policy pack over the plan"
	@echo "make check PROJECT_DIR=bootstrap STACK=ci   the same for the CI identity project"
	@echo "make base-plan STACK=dev  plan the base branch (BASE_REF=origin/main) into plans/"
	@echo "make diff STACK=dev       compare plans/base-dev.json with plans/dev.json (or BASE=, HEAD=)"
	@echo "make lint typecheck bench clean"

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

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

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) plans .base .pytest_cache .mypy_cache .ruff_cache .hypothesis
