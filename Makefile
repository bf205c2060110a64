# lab: common tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help setup demo pictures test lint typecheck unit scenarios bench mutate mutate-core clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install lab with its dev tools

demo: $(STAMP) ## run the main job: lab up canary-99-1 on the embedded engine, then lab down
	$(BIN)/lab up canary-99-1 --engine local; rc=$$?; $(BIN)/lab down; exit $$rc

pictures: $(STAMP) ## redraw the README's pictures (docs/*.png) with a seeded embedded lab; PORT= moves its 8443
	state=$$(mktemp -d); \
	$(BIN)/lab up canary-99-1 --engine local --seed 20261126 --state-dir $$state --port 8443=$(or $(PORT),8443) \
		--plot docs/canary-99-1-sequential.png \
	&& $(BIN)/lab check --fixed --state-dir $$state --plot docs/canary-99-1.png; \
	rc=$$?; $(BIN)/lab down --state-dir $$state; rm -rf $$state; exit $$rc

lint: $(STAMP) ## ruff on everything
	$(BIN)/ruff check lab tests scenarios bench tools

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy lab

unit: $(STAMP) ## the unit and contract tests (tests/)
	$(BIN)/pytest tests -q

scenarios: $(STAMP) ## every scenario as tests on the embedded engine
	$(BIN)/pytest scenarios -q

test: lint typecheck ## the whole suite: lint, types, tests, scenarios (LAB_SEED fixed: reproducible splits)
	LAB_SEED=$${LAB_SEED-20261126} $(BIN)/pytest -q

bench: $(STAMP) ## the benchmarks under bench/ (ratios printed)
	$(BIN)/python bench/run.py

mutate: $(STAMP) ## mutation testing (mutmut) of the lab modules that differ from main; MODULES=, SAMPLE=, SEED= (not part of test)
	LAB_SEED=$${LAB_SEED-20261126} $(BIN)/python tools/mutate.py

# issue 16's modules: routing, validation, verdict and power (with the modules split off them), the
# kube engines (the modules split off the old kind engine) and the pod-to-Service attribution
CORE_MODULES := lab/spec/routing.py lab/spec/hostnames.py lab/spec/validation.py \
	lab/stats/verdict.py lab/stats/results.py lab/stats/multinomial.py lab/stats/formats.py \
	lab/stats/power.py lab/stats/acceptance.py \
	lab/engines/kube/kind.py lab/engines/kube/cluster.py lab/engines/kube/steps.py \
	lab/engines/kube/documents.py lab/engines/kube/status.py lab/engines/kube/waits.py \
	lab/engines/kube/apply.py lab/engines/kube/install.py lab/traffic/attribution.py

mutate-core: $(STAMP) ## the score in docs/mutation-survivors.md: a sample of the core modules' mutants (SAMPLE=240 SEED=16)
	LAB_SEED=$${LAB_SEED-20261126} $(BIN)/python tools/mutate.py --modules "$(CORE_MODULES)" \
		--sample $(or $(SAMPLE),240) --seed $(or $(SEED),16)

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .lab mutants
