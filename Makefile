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
comma := ,
FIRST_SEED = $(firstword $(subst $(comma), ,$(SEEDS)))

.PHONY: install install-browser test params lint clean demo reproduce-ozer reproduce-ashok \
	reproduce-emotionnet reproduce-wasey reproduce-xu reproduce-ozer-reachability report bench \
	bench-video bench-faces

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
	$(FER) predict runs/demo/csv-ozer_cnn_lstm/seed-0 \
		$(SAMPLE)/images/test/happy/$$(ls $(SAMPLE)/images/test/happy | head -1)

# The full protocol of Özer & Subaşı on real FER-2013 ($(DATA) or $$FER2013_DIR), then the report.
# Committed cells (reports/ozer/runs/) are copied in first, never over a local cell, and reused.
# Publishing the models (fer-keras publish runs/ozer --out reports/ozer/models) needs the local
# model files, so it is a step of its own.
reproduce-ozer: install
	@if [ -z "$(DATA)" ]; then $(FER) run experiments/ozer.py; exit 2; fi
	@if [ -d reports/ozer/runs ]; then mkdir -p runs/ozer && cp -rn reports/ozer/runs/. runs/ozer/; fi
	$(FER) run experiments/ozer.py --data "$(DATA)" --out runs/ozer seeds=$(SEEDS)
	$(FER) report runs/ozer --out reports/ozer
	$(FER) index reports

# Ashok on real FER-2013: the four CNN-family models in both readings (with and without
# dropout) first with the first seed, then the first reading with all SEEDS (the proposed
# model's test-leak variant alongside), then the three ImageNet-size backbones with
# one seed and at most BACKBONE_EPOCHS epochs (4-5 min an epoch on 2 CPU cores; every cell's
# config records its cap and the report marks it). Finished cells are reused, so the target
# resumes where a stopped run left off. Quick mode on any data (e.g. the embedded sample):
# EPOCHS=2 LIMIT=700 writes runs/ashok-quick/ and its report there, never reports/.
ASHOK_CNN = ashok_cnn,ashok_cnn_lstm,ashok_cnn_bilstm,ashok_cnn_bilstm_attention
ASHOK_NODROPOUT = $(subst $(comma),_nodropout$(comma),$(ASHOK_CNN))_nodropout
ASHOK_BACKBONES = ashok_resnet50,ashok_densenet121,ashok_mobilenetv2
BACKBONE_EPOCHS ?= 15
QUICK = $(strip $(if $(EPOCHS),max_epochs=$(EPOCHS) min_epochs=0) $(if $(LIMIT),limit=$(LIMIT)))
ASHOK_RUNS ?= $(if $(QUICK),runs/ashok-quick,runs/ashok)
ASHOK_REPORT ?= $(if $(QUICK),$(ASHOK_RUNS)/report,reports/ashok)
ASHOK = $(FER) run experiments/ashok.py --data "$(DATA)" --out $(ASHOK_RUNS)

# The reference run takes several sessions: cells committed under reports/ashok/runs/ are
# copied into the run folder first (never over a local cell), so they are reused, not retrained.
reproduce-ashok: install
	@if [ -z "$(DATA)" ]; then $(FER) run experiments/ashok.py; exit 2; fi
	$(if $(QUICK),,@if [ -d reports/ashok/runs ]; then mkdir -p $(ASHOK_RUNS) && \
		cp -rn reports/ashok/runs/. $(ASHOK_RUNS)/; fi)
	$(ASHOK) models=$(ASHOK_CNN),$(ASHOK_NODROPOUT) seeds=$(FIRST_SEED) $(QUICK)
	$(ASHOK) models=$(ASHOK_CNN) seeds=$(SEEDS) $(QUICK)
	$(ASHOK) models=$(ASHOK_BACKBONES) seeds=$(FIRST_SEED) \
		max_epochs=$(if $(EPOCHS),$(EPOCHS),$(BACKBONE_EPOCHS)) $(QUICK)
	$(FER) report $(ASHOK_RUNS) --out $(ASHOK_REPORT)
	$(if $(QUICK),,$(FER) index reports)

# EmotionNet++ on real FER-2013: every model (both pooling readings, the CNN-only and CNN-GRU
# baselines) and both variants (no preprocessing; class-wise augmentation, seed 0 only) with
# seed 0 first, then the proposed model and its no-preprocessing ablation with all SEEDS.
# Preprocessing (dlib alignment + CLAHE of all 35,887 faces, about 2 minutes) is computed once
# and cached in the run folder. Same resume and quick mode (EPOCHS, LIMIT) as reproduce-ashok.
# Last, how much that preprocessing enlarges the robustness check's noise (1,000 random faces,
# about a minute): noise-gain.json beside the report.
EMOTIONNET_RUNS ?= $(if $(QUICK),runs/emotionnet-quick,runs/emotionnet)
EMOTIONNET_REPORT ?= $(if $(QUICK),$(EMOTIONNET_RUNS)/report,reports/emotionnet)
EMOTIONNET = $(FER) run experiments/emotionnet.py --data "$(DATA)" --out $(EMOTIONNET_RUNS)

reproduce-emotionnet: install
	@if [ -z "$(DATA)" ]; then $(FER) run experiments/emotionnet.py; exit 2; fi
	$(if $(QUICK),,@if [ -d reports/emotionnet/runs ]; then mkdir -p $(EMOTIONNET_RUNS) && \
		cp -rn reports/emotionnet/runs/. $(EMOTIONNET_RUNS)/; fi)
	$(EMOTIONNET) seeds=$(FIRST_SEED) $(QUICK)
	$(EMOTIONNET) models=emotionnet_pp seeds=$(SEEDS) $(QUICK)
	$(FER) report $(EMOTIONNET_RUNS) --out $(EMOTIONNET_REPORT)
	$(FER) noise-gain experiments/emotionnet.py --data "$(DATA)" $(if $(LIMIT),--n $(LIMIT)) \
		--json $(EMOTIONNET_REPORT)/noise-gain.json
	$(if $(QUICK),,$(FER) index reports)

# Can Özer's claims be reached at all? An Optuna search per model over what the paper leaves
# open (experiments/ozer_reachability.py; TRIALS finished trials each, SQLite storage in the
# study folder), the best setting with every seed in both formats (test accuracy after every
# epoch recorded as the oracle), then the mini-Xception control (without oneDNN's CPU kernels,
# which abort training it here; see experiments/mini_xception_control.py), then the report. Resumable
# across sessions: the committed study (reports/ozer-reachability/runs/: storage and finished
# cells) is copied into the study folder first, never over local files. Quick mode (EPOCHS,
# LIMIT, and TRIALS) writes runs/ozer-reachability-quick/ and its report there.
TRIALS ?= 30
reproduce-ozer-reachability: install
	@if [ -z "$(DATA)" ]; then $(FER) study experiments/ozer_reachability.py; exit 2; fi
	$(if $(QUICK),,@if [ -d reports/ozer-reachability/runs ]; then \
		mkdir -p $(call RUNS_OF,ozer-reachability) && \
		cp -rn reports/ozer-reachability/runs/. $(call RUNS_OF,ozer-reachability)/; fi)
	$(FER) study experiments/ozer_reachability.py --data "$(DATA)" --trials $(TRIALS) \
		--out $(call RUNS_OF,ozer-reachability) $(QUICK)
	TF_ENABLE_ONEDNN_OPTS=0 $(FER) run experiments/mini_xception_control.py --data "$(DATA)" \
		--out $(call RUNS_OF,ozer-reachability)/control $(QUICK)
	$(FER) report $(call RUNS_OF,ozer-reachability) --out $(call REPORT_OF,ozer-reachability) \
		--reference reports/ozer/runs
	$(if $(QUICK),,$(FER) index reports)

# Wasey and Xu: every model with all SEEDS in one pass (resumable; committed cells reused),
# then the report. Quick mode (EPOCHS, LIMIT) writes runs/<paper>-quick/; RUNS and REPORT
# override the folders.
RUNS_OF = $(or $(RUNS),$(if $(QUICK),runs/$(1)-quick,runs/$(1)))
REPORT_OF = $(or $(REPORT),$(if $(QUICK),$(call RUNS_OF,$(1))/report,reports/$(1)))

reproduce-wasey reproduce-xu: reproduce-%: install
	@if [ -z "$(DATA)" ]; then $(FER) run experiments/$*.py; exit 2; fi
	$(if $(QUICK),,@if [ -d reports/$*/runs ]; then mkdir -p $(call RUNS_OF,$*) && \
		cp -rn reports/$*/runs/. $(call RUNS_OF,$*)/; fi)
	$(FER) run experiments/$*.py --data "$(DATA)" --out $(call RUNS_OF,$*) seeds=$(SEEDS) $(QUICK)
	$(FER) report $(call RUNS_OF,$*) --out $(call REPORT_OF,$*)
	$(if $(QUICK),,$(FER) index reports)

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info runs/demo runs/_sample reports/demo
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
