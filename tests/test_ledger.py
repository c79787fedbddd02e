"""The claims ledger: typed claims (fer_keras.claims.ledger) and their two-sided verdicts
(fer_keras.claims.judge), on hand-made predictions whose verdicts are known."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from fer_keras.claims import judge, ledger, stats
from fer_keras.claims.ledger import (
    Best,
    Bound,
    Consistent,
    Effect,
    Extremes,
    Order,
    Robust,
    Value,
)
from fer_keras.core.metrics import compute_metrics
from fer_keras.core.rundata import SeedRun
from fer_keras.train.config import ConfigError, load_config

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
N = 1000


def run(cell: str, seed: int, y: np.ndarray, pred: np.ndarray, indices=None,
        robustness=None) -> SeedRun:
    """A finished run whose test predictions are `pred` (one-hot probabilities)."""
    fmt, arm = cell.split("/")
    model, _, variant = arm.partition("+")
    probs = np.full((y.size, 7), 0.01, np.float32)
    probs[np.arange(y.size), pred] = 0.94
    return SeedRun(folder=Path("."), format=fmt, model=model, seed=seed, config={},
                   manifest={}, history=pd.DataFrame(), y=y, probs=probs,
                   indices=np.arange(y.size) if indices is None else indices,
                   metrics=compute_metrics(y, probs), examples=None, variant=variant,
                   robustness=robustness)


def labels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 7, N)


def right_on(y: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Predictions that are right exactly where `right` is True (wrong: the next class)."""
    return np.where(right, y, (y + 1) % 7)


def accuracy_runs(cell: str, correct: list[int], y=None) -> list[SeedRun]:
    """One run per seed, right on the first `correct[seed]` images."""
    y = labels() if y is None else y
    return [run(cell, s, y, right_on(y, np.arange(N) < c)) for s, c in enumerate(correct)]


def row(claim, runs, anova=None):
    return judge.ledger_rows((claim,), runs, anova)[0]


# ----------------------------------------------------------------------------- values


def test_a_value_agrees_inside_the_interval_and_is_measured_above_or_below_outside_it():
    runs = accuracy_runs("csv/m", [500, 520, 540])  # 52 % +/- 2 over seeds
    iv = judge.value_interval(runs, "accuracy")
    assert iv["mean"] == pytest.approx(52.0) and iv["std"] == pytest.approx(2.0)
    # the test-set part: close to the binomial standard error, sqrt(p (1 - p) / n)
    assert iv["sampling_sd"] == pytest.approx(np.sqrt(0.52 * 0.48 / N) * 100, rel=0.1)
    half = judge.Z95 * np.sqrt(4.0 + iv["sampling_sd"] ** 2)
    assert (iv["low"], iv["high"]) == pytest.approx((52 - half, 52 + half))
    claim = dict(cell="csv/m", metric="accuracy", quote="q", where="T1")
    assert row(Value(value=52.0, **claim), runs)["verdict"] == "agrees"
    assert row(Value(value=52 + half + 0.1, **claim), runs)["verdict"] == "below"
    above = row(Value(value=52 - half - 0.1, **claim), runs)
    assert above["verdict"] == "above" and above["verdict_text"] == "measured above the claim"
    assert above["reproduced"] is False  # above is a disagreement too


def test_the_bootstrap_scores_macro_metrics_as_scikit_learn_does():
    y = labels()
    pred = np.where(np.arange(N) % 3 == 0, (y + 2) % 7, y)
    pred[pred == 1] = 0  # class 1 never predicted: its precision counts as 0
    cm = np.bincount(y * 7 + pred, minlength=49).reshape(1, 7, 7)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(7), average="macro",
                                                 zero_division=0)
    for metric, expected in (("precision_macro", p), ("recall_macro", r), ("f1_macro", f),
                             ("accuracy", np.mean(y == pred))):
        assert stats._from_confusions(cm, metric)[0] == pytest.approx(expected)
    # and the same seed gives the same spread
    assert stats.bootstrap_sd(y, pred, "f1_macro", 7) == stats.bootstrap_sd(y, pred, "f1_macro", 7)


def test_an_auc_claim_uses_the_hanley_mcneil_standard_error():
    # by hand: AUC 0.9, 50 and 50 images: Q1 = 0.9 / 1.1 = 0.81818, Q2 = 2 x 0.81 / 1.9 =
    # 0.85263; var = (0.09 + 49 x 0.00818 + 49 x 0.04263) / 2500 = 0.0010319; SE = 0.03212
    assert stats.auc_sd(0.9, 50, 50) == pytest.approx(0.03212, abs=1e-5)


def test_another_reading_of_a_claim_is_judged_beside_it():
    runs = accuracy_runs("csv/a", [500, 520, 540]) + accuracy_runs("csv/b", [700, 710, 720])
    claim = Value(cell="csv/a", metric="accuracy", value=52.0, quote="q", where="T1",
                  readings={"other": {"csv/a": "csv/b"}})
    r = row(claim, runs)
    assert r["verdict"] == "agrees"
    assert [(o["label"], o["verdict"]) for o in r["readings"]] == [("other", "above")]


# ----------------------------------------------------------------------------- orders


def paired(better_right: int, worse_right: int, seeds=3, nested=False):
    """Two cells on the same images: `better` right on the first `better_right`, `worse` on
    the last `worse_right` (so the discordant pairs are many), or with `nested` on the first
    `worse_right` (few discordant pairs: a tight difference)."""
    y = labels()
    out = []
    for s in range(seeds):
        worse = np.arange(N) < worse_right if nested else np.arange(N) >= N - worse_right
        out.append(run("csv/better", s, y, right_on(y, np.arange(N) < better_right)))
        out.append(run("csv/worse", s, y, right_on(y, worse)))
    return out


def test_an_order_holds_is_not_significant_or_is_reversed():
    order = Order(better="csv/better", worse="csv/worse", quote="q", where="§4")
    held = row(order, paired(600, 500))
    assert held["verdict"] == "holds" and held["verdict_text"] == "holds (3 of 3 seeds significant)"
    assert "McNemar" not in held["measured"] or "chi-square" in held["measured"]
    assert row(order, paired(505, 500))["verdict"] == "not significant"
    reversed_ = row(order, paired(500, 600))
    assert reversed_["verdict"] == "reversed"
    assert reversed_["verdict_text"] == "reversed (3 of 3 seeds significant the other way)"


def test_an_order_on_different_test_images_uses_a_two_proportion_test():
    y = labels()
    runs = []
    for s in range(2):
        runs.append(run("csv/better", s, y, right_on(y, np.arange(N) < 650)))
        runs.append(run("directory/worse", s, y, right_on(y, np.arange(N) < 500),
                        indices=np.arange(N) + N))  # other images
    r = row(Order(better="csv/better", worse="directory/worse", quote="q", where="§"), runs)
    assert r["verdict"] == "holds" and "two-proportion z" in r["measured"]


def test_a_claimed_size_must_lie_in_the_measured_interval():
    order = dict(better="csv/better", worse="csv/worse", quote="q", where="§")
    wide = paired(600, 500)  # 10 points, 900 discordant pairs: 95 % interval about 4 to 16
    assert row(Order(size=(4.0, 6.0), **order), wide)["verdict"] == "holds"
    ten = paired(600, 500, nested=True)  # 10 points, 100 discordant: about 8.1 to 11.9
    assert row(Order(size=(8.0, 12.0), **order), ten)["verdict"] == "holds"
    large = row(Order(size=(4.0, 6.0), **order), ten)
    assert large["verdict"] == "does not hold"
    assert large["verdict_text"].endswith("size 4-6 points: measured larger")


def test_an_order_on_one_class_recall_counts_that_class_images_only():
    y = labels()
    fear = y == 2
    runs = []
    for s in range(3):  # equal accuracy overall, but only `better` gets fear right
        runs.append(run("csv/better", s, y, right_on(y, fear | (np.arange(N) < 300))))
        runs.append(run("csv/worse", s, y, right_on(y, ~fear & (np.arange(N) < 450))))
    r = row(Order(better="csv/better", worse="csv/worse", metric="recall.fear", quote="q",
                  where="§"), runs)
    assert r["verdict"] == "holds"


def test_best_holds_only_when_it_beats_every_other_cell():
    runs = paired(600, 500) + accuracy_runs("csv/third", [550, 550, 550])
    claim = dict(quote="q", where="§")
    assert row(Best(cell="csv/better", among=("csv/worse", "csv/third"), **claim),
               runs)["verdict"] == "holds"
    r = row(Best(cell="csv/worse", among=("csv/better", "csv/third"), **claim), runs)
    assert r["verdict"] == "reversed" and "csv/better" in r["verdict_text"]


# ----------------------------------------------------------------------------- effects


ANOVA = {"ok": True, "n": 12, "rows": [
    {"effect": "format", "p": 0.2}, {"effect": "architecture", "p": 0.001},
    {"effect": "format x architecture", "p": 0.66}, {"effect": "residual", "p": None}]}


def test_a_main_effect_is_read_from_the_anova_with_its_sign():
    runs = (accuracy_runs("csv/m", [550, 560, 570]) + accuracy_runs("directory/m", [540, 550,
                                                                                      560]))
    fmt = row(Effect(factor="format", high="csv", low="directory", quote="q", where="§"), runs,
              ANOVA)
    assert fmt["verdict"] == "not significant" and fmt["p"] == 0.2
    assert fmt["diff"] == pytest.approx(1.0)
    assert row(Effect(factor="model", quote="q", where="§"), runs, ANOVA)["verdict"] == "holds"
    assert row(Effect(factor="interaction", quote="q", where="§"), runs,
               ANOVA)["verdict"] == "not significant"
    wrong_sign = row(Effect(factor="format", high="directory", low="csv", quote="q", where="§"),
                     runs, {**ANOVA, "rows": [{"effect": "format", "p": 0.01}]})
    assert wrong_sign["verdict"] == "reversed"
    no_anova = row(Effect(factor="format", quote="q", where="§"), runs,
                   {"ok": False, "reason": "the ANOVA needs two levels of both factors"})
    assert no_anova["verdict"] == "not judged" and no_anova["reproduced"] is None


def test_a_simple_effect_within_a_model_uses_welch_and_its_size():
    runs = (accuracy_runs("csv/m", [550, 552, 554]) + accuracy_runs("directory/m", [500, 502,
                                                                                      504]))
    claim = dict(factor="format", within="m", high="csv", low="directory", quote="q", where="§")
    assert row(Effect(size=5.0, **claim), runs)["verdict"] == "holds"  # +5.0 points exactly
    small = row(Effect(size=15.0, **claim), runs)
    assert small["verdict"] == "does not hold" and small["verdict_text"].endswith(
        "measured smaller")


# ------------------------------------------------------------------- per-seed kinds


def test_extremes_and_bounds_hold_seed_by_seed():
    y = labels()
    runs = []
    for s, worst in enumerate((1, 1, 4)):  # seed 2: sad, not disgust, among the two lowest
        right = np.ones(N, bool)
        right[(y == worst) | (y == 2)] = False
        right[y == 4 if worst == 1 else y == 1] = np.arange(N)[y == 4 if worst == 1
                                                               else y == 1] % 2 == 0
        runs.append(run("csv/m", s, y, right_on(y, right)))
    r = row(Extremes(cell="csv/m", lowest=("fear", "disgust"), quote="q", where="§9"), runs)
    assert r["verdict"] == "does not hold" and r["verdict_text"] == "holds in 2 of 3 seed(s)"
    bound = dict(cell="csv/m", quote="q", where="§")
    high = accuracy_runs("csv/m", [700, 700, 700])
    assert row(Bound(above=65.0, **bound), high)["verdict"] == "holds"
    near = accuracy_runs("csv/m", [660, 660, 660])  # above 65 %, not significantly
    assert row(Bound(above=65.0, **bound), near)["verdict_text"] == "holds in 0 of 3 seed(s)"


def test_printed_numbers_that_cannot_hold_together_are_inconsistent():
    claims = (Value(cell="csv/m", metric="precision_macro", value=85.3, quote="q", where="R"),
              Value(cell="csv/m", metric="recall_macro", value=87.8, quote="q", where="R"),
              Value(cell="csv/m", metric="f1_macro", value=90.0, quote="q", where="R"),
              Consistent(cell="csv/m", quote="q", where="R"))
    rows = judge.ledger_rows(claims, accuracy_runs("csv/m", [500]), None)
    assert rows[-1]["verdict"] == "inconsistent" and "86.55" in rows[-1]["verdict_text"]


def test_robustness_holds_where_the_cell_loses_less_at_every_noise_level():
    y = labels()

    def noisy(acc0, acc10):
        return {"levels": [{"sigma": 0.0, "accuracy": acc0}, {"sigma": 10.0, "accuracy": acc10}]}
    runs = [run("csv/m", 0, y, y, robustness=noisy(0.6, 0.55)),
            run("csv/m+raw", 0, y, y, robustness=noisy(0.6, 0.45))]
    assert row(Robust(cell="csv/m", than="csv/m+raw", quote="q", where="R"),
               runs)["verdict"] == "holds"
    assert row(Robust(cell="csv/m+raw", than="csv/m", quote="q", where="R"),
               runs)["verdict"] == "does not hold"


# ---------------------------------------------------------------- ledger and papers


def test_central_findings_come_first_and_are_tallied():
    runs = paired(600, 500)
    claims = (Value(cell="csv/better", metric="accuracy", value=90.0, quote="a", where="T"),
              Order(better="csv/worse", worse="csv/better", central=True, quote="b",
                    where="Abstract"),
              Value(cell="csv/worse", metric="accuracy", value=80.0, quote="c", where="T",
                    scope="another data set"))
    rows = judge.ledger_rows(claims, runs, None)
    assert [r["quote"] for r in rows] == ["b", "a", "c"]
    assert rows[2]["verdict"] == "not judged" and "another data set" in rows[2]["verdict_text"]
    assert judge.tally(rows) == {"claims": 3, "central": {"judged": 1, "reproduced": 0},
                                 "verdicts": {"below": 1, "not judged": 1, "reversed": 1}}
    h = judge.headline(rows, claims, proposed="better")
    assert h["cell"] == "csv/better" and h["verdict"] == "below" and h["claimed"] == 90.0


# Every number each paper prints about its results, and each central finding: a claim cannot
# silently drop out (the counts are the papers' text, read in full; docs/claims.md).
PAPER_CLAIMS = {"ozer": (35, 5), "ashok": (12, 3), "emotionnet": (20, 12), "wasey": (3, 1),
                "xu": (2, 2)}


@pytest.mark.parametrize("paper", sorted(PAPER_CLAIMS))
def test_every_paper_declares_its_claims_in_the_typed_form(paper):
    cfg = load_config(EXPERIMENTS / f"{paper}.py")
    total, central = PAPER_CLAIMS[paper]
    assert len(cfg.claims) == total
    assert sum(c.central for c in cfg.claims) == central
    assert all(c.quote and c.where for c in cfg.claims)
    assert ledger.from_json(ledger.to_json(cfg.claims)) == cfg.claims  # experiment.json


def test_ozer_table_1_and_table_2_are_claims_as_printed():
    cfg = load_config(EXPERIMENTS / "ozer.py")
    values = ledger.claimed_values(cfg.claims)
    assert values["csv/ozer_cnn_lstm"]["f1_macro"] == 55.995
    assert values["directory/ozer_cnn"] == {"accuracy": 50.571, "precision_macro": 50.218,
                                            "recall_macro": 47.145, "f1_macro": 48.095}
    assert values["csv/ozer_cnn_lstm"]["roc_auc.fear"] == 0.785  # Table 2 before §3.3's 0.91
    kinds = sorted(c.kind for c in cfg.claims if c.central)
    assert kinds == ["best", "effect", "effect", "effect", "effect"]


def test_a_claim_naming_a_cell_the_config_lacks_is_refused(tmp_path):
    config = tmp_path / "c.py"
    config.write_text(
        "from fer_keras.train.config import ExperimentConfig\n"
        "from fer_keras.claims.ledger import Value\n"
        "CONFIG = ExperimentConfig(name='c', paper='p', formats=('csv',), models=('ozer_cnn',),"
        " claims=(Value(cell='csv/ozer_cnn_lstm', metric='accuracy', value=1.0, quote='q',"
        " where='T'),))\n")
    with pytest.raises(ConfigError, match=r"cell 'csv/ozer_cnn_lstm' is not a cell of the "
                                          r"config; expected one of csv/ozer_cnn"):
        load_config(config)
    # narrowed from the command line, the config's claims stay valid
    assert load_config(EXPERIMENTS / "ozer.py", ["models=ozer_cnn"]).claims


@pytest.mark.parametrize("claim, message", [
    (dict(kind=Value, cell="ozer_cnn", metric="accuracy", value=1.0),
     "cell='ozer_cnn': expected a cell 'format/model'"),
    (dict(kind=Value, cell="csv/m", metric="f1", value=1.0), "metric='f1': expected one of"),
    (dict(kind=Order, better="csv/a", worse="csv/b", size=(6, 4)), "size=(6, 4): expected"),
    (dict(kind=Order, better="csv/a", worse="csv/b", alpha=0.0), "alpha=0.0: expected"),
    (dict(kind=Extremes, cell="csv/a", lowest=("anger",)), "'anger': expected one of angry"),
    (dict(kind=Effect, factor="size"), "effect factor='size': expected format, model"),
])
def test_a_malformed_claim_is_refused_naming_what_is_wrong(claim, message):
    kind = claim.pop("kind")
    with pytest.raises(ledger.ClaimError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ledger.validate_claims((kind(quote="q", where="w", **claim),))
