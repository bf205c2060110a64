# lab: common tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help setup demo test lint typecheck unit scenarios bench mutate clean

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

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .lab mutants
