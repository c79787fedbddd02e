"""The common protocol (experiments/benchmark.py, issue #63): one recipe for every
FER-sized architecture on the official split, and the papers' architectural claims set on its
cells for a second verdict."""

import runpy
from pathlib import Path

from fer_keras.models import get_spec, list_models
from fer_keras.train.config import load_config
from fer_keras.train.reproduce import Publish, Report, Run, load_paper

ROOT = Path(__file__).parents[1]
BENCHMARK = ROOT / "experiments" / "benchmark.py"


def test_one_recipe_for_every_architecture_fixed_in_the_config():
    cfg = load_config(BENCHMARK)
    assert (cfg.formats, cfg.split, cfg.validation) == (("csv",), "official", "split")
    assert (cfg.optimizer, cfg.learning_rate, cfg.batch_size, cfg.max_epochs) == \
        ("adam", 1e-3, 64, 60)
    assert cfg.early_stopping and cfg.early_stopping_patience == 10
    assert cfg.restore_best_weights and cfg.select == "best"
    assert (cfg.reduce_lr, cfg.reduce_lr_factor, cfg.reduce_lr_patience, cfg.min_lr) == \
        (True, 0.5, 4, 1e-5)
    a = cfg.augment  # flips and small shifts, rotations and zooms; nothing photometric
    assert (a.rotation_deg, a.horizontal_flip, a.zoom, a.shift) == (10.0, True, 0.1, 0.1)
    assert (a.brightness, a.contrast, a.noise_std, a.crop, a.shear) == (0, 0, 0, 0, 0)
    assert not cfg.class_weights and not cfg.oversample and not cfg.preprocess.enabled
    assert cfg.seeds == (0, 1, 2) and cfg.threads == 1
    # every FER-sized model, 48x48 input (grey, or grey repeated for Özer's RGB-printed CNN)
    assert len(cfg.models) == 16 and set(cfg.models) <= set(list_models())
    assert not {m for m in cfg.models if m.startswith(("ashok_resnet", "ashok_dense",
                                                       "ashok_mobile"))}
    assert all(get_spec(m).input_shape[:2] == (48, 48) for m in cfg.models)


def test_seed_0_of_every_model_first_longest_first_then_the_others():
    paper = load_paper("benchmark", ROOT / "experiments")
    stages = paper.stages
    namespace = runpy.run_path(str(BENCHMARK))
    assert set(namespace["LONGEST_FIRST"]) | {"mini_xception"} == set(namespace["MODELS"])
    assert [(type(s), getattr(s, "seeds", "")) for s in stages] == [
        (Run, "first"), (Run, "first"), (Run, "all"), (Run, "all"), (Report, ""),
        (Publish, "")]
    assert stages[-1] == Publish(chosen=True)  # the default model: the leaderboard's ★
    assert dict(stages[1].env) == {"TF_ENABLE_ONEDNN_OPTS": "0"}  # the control's kernels
    assert stages[1].models == stages[3].models == ("mini_xception",)


def test_the_papers_architectural_claims_are_judged_again_on_its_cells():
    cfg = load_config(BENCHMARK)
    here = {f"csv/{m}" for m in cfg.models}
    assert all(set(c.cells()) <= here for c in cfg.claims)
    assert {c.kind for c in cfg.claims} == {"order", "best"}
    by_paper = {}
    for c in cfg.claims:
        by_paper.setdefault(c.where.split(",")[0], []).append(c)
    assert {p: len(v) for p, v in by_paper.items()} == {
        "Özer & Subaşı": 1, "Ashok": 4, "Bhardwaj & Singh": 9, "Wasey": 1, "Xu": 1}
    ozer, = by_paper["Özer & Subaşı"]  # CNN-LSTM best of the four cells: here, of the two
    assert (ozer.cell, ozer.among) == ("csv/ozer_cnn_lstm", ("csv/ozer_cnn",))
    wasey, = by_paper["Wasey"]  # §7's architecture stays beside the notebook's model
    assert wasey.readings == {"§7's architecture (wasey_cnn_lstm_paper)": {
        "csv/wasey_cnn_lstm": "csv/wasey_cnn_lstm_paper"}}
    # no claim about a variant (a protocol, not an architecture) or a backbone
    assert not any("+" in x or "resnet" in x for c in cfg.claims for x in c.cells())


def test_each_claim_names_the_paper_claim_it_judges_again():
    """`origin` ("<paper>: <short label>") names exactly one claim of the paper's committed
    ledger (reports/<paper>/summary.json): the verdict the README sets beside this one. A
    claim with an origin carries it into its ledger row; one without has no such key."""
    import json

    from fer_keras.claims.judge import ledger_rows

    cfg = load_config(BENCHMARK)
    ledgers = {}
    for c in cfg.claims:
        paper, short = c.origin.split(": ", 1)
        ledger = ledgers.setdefault(paper, json.loads(
            (ROOT / "reports" / paper / "summary.json").read_text())["ledger"])
        assert [r["short"] for r in ledger].count(short) == 1, c.origin
    assert [c.origin for c in cfg.claims if c.where.startswith("Xu")] == [
        "xu: csv/xu_cnn > csv/xu_rnn_lstm"]
    assert [c.origin for c in cfg.claims if c.where.startswith("Özer")] == [
        "ozer: csv/ozer_cnn_lstm best of 4"]  # both formats there; one here
    xu = [c for c in cfg.claims if c.where.startswith("Xu")]
    assert ledger_rows(xu, [], None)[0]["origin"] == "xu: csv/xu_cnn > csv/xu_rnn_lstm"
    own = load_config(ROOT / "experiments" / "xu.py").claims
    assert all("origin" not in r for r in ledger_rows(list(own), [], None))
