# remnant: make demo | make test | make verify | make bench | make lint | make reliability
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test verify bench lint clean chromium reliability

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# --no-compile: Python compiles the modules a run imports on first use; byte-compiling every
# installed file up front took half of the install's time
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/remnant demo --out-dir demo-output

# Headless Chromium renders the HTML report and drives the calculator's page in the tests
# (Debian's chromium and chromium-driver; Noto CJK for the Chinese page).
chromium:
	@{ command -v chromium && command -v chromedriver && fc-list :lang=zh | grep -q .; } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; }

# One pytest worker per core (pytest-xdist); a file's tests stay on one worker, so its module
# fixtures are built once. Results do not depend on the split (fixed seeds, pure functions).
test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -m "not slow" -n auto --dist loadfile --durations=15 tests

# Every door holds: the command line's contract on bad input, paths, files, faults and signals;
# the tally is written to docs/reliability.md (tests/reliability_report.py).
reliability: $(STAMP)
	REMNANT_RELIABILITY_REPORT=docs/reliability.md $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/test_doors_cli.py tests/test_doors_fuzz.py tests/test_doors_signals.py

verify: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests
	$(BIN)/python -m remnant.checks.verification --out-dir docs/verification
	$(BIN)/python -m remnant.inference.recovery --seeds 20 > docs/fit_recovery.txt.tmp
	mv docs/fit_recovery.txt.tmp docs/fit_recovery.txt
	$(BIN)/remnant anchors --patients 1000000 --seed 1 --out docs/anchors.md --figures docs/anchors --no-progress

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/fit.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output
