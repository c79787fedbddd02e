# fer-keras: every target installs what it needs first (into .venv/), so a fresh machine
# needs no manual step.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FER := $(VENV)/bin/fer-keras
STAMP := $(VENV)/.installed
DATA ?= $(FER2013_DIR)
SEEDS ?= 0,1,2
SAMPLE := runs/_sample

.PHONY: install install-browser test params lint clean demo reproduce-ozer report bench
# `make report` rebuilds from the local runs when there are any, else from the committed copy.
OZER_RUNS = $(if $(wildcard runs/ozer/*/seed-*/done.json),runs/ozer,reports/ozer/runs)

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Debian's Chromium for the report's browser test (Playwright drives it; no browser download).
install-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium (sudo apt-get install chromium) for the browser test"; fi; }

test: install
	$(PY) -m pytest

params: install
	$(FER) params

lint: install
	$(VENV)/bin/ruff check fer_keras tests experiments

# The whole Özer factorial on the embedded synthetic sample (not FER-2013), then its report.
demo: install
	$(FER) data sample $(SAMPLE)
	$(FER) run experiments/ozer.py --data $(SAMPLE)/images --csv $(SAMPLE)/fer2013.csv \
		--out runs/demo --force seeds=0,1 max_epochs=8
	$(FER) report runs/demo --out reports/demo

# The full protocol of Özer & Subaşı on real FER-2013 ($(DATA) or $$FER2013_DIR), then the report.
reproduce-ozer: install
	@if [ -z "$(DATA)" ]; then $(FER) run experiments/ozer.py; exit 2; fi
	$(FER) run experiments/ozer.py --data "$(DATA)" --out runs/ozer seeds=$(SEEDS)
	$(FER) report runs/ozer --out reports/ozer
	$(FER) index reports

report: install
	$(FER) report $(OZER_RUNS) --out reports/ozer
	$(FER) index reports

# Data loading, training and inference against the plain paper-style pipeline. On real data
# ($(DATA)) it writes reports/bench/; without, it runs on the synthetic sample (runs/bench-sample/).
bench: install
	$(FER) bench $(if $(DATA),--data "$(DATA)")

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info runs/demo runs/_sample reports/demo
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
