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
	$(BIN)/python -m remnant.fit.recovery --seeds 20 > docs/fit_recovery.txt.tmp
	mv docs/fit_recovery.txt.tmp docs/fit_recovery.txt

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/fit.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output
