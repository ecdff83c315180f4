# remnant: make demo | make test | make verify | make bench | make lint
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test verify bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/remnant demo --out-dir demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

verify: $(STAMP)
	$(BIN)/python -m remnant.verification --out-dir docs/verification

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output
