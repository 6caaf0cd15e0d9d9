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
