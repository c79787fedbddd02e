"""Statistics of the factorial design (statsmodels): two-way ANOVA and McNemar's test; the
exact binomial test of an accuracy against a claimed floor (scipy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.stats import binomtest
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.contingency_tables import mcnemar

from ..core.rundata import SeedRun

ANOVA_DIGITS = 10  # significant digits kept of the ANOVA's sums of squares, F and p


def significant(x: float, digits: int = ANOVA_DIGITS) -> float:
    """`x` to `digits` significant digits. The least-squares fit behind the ANOVA differs in
    its last bits from one CPU to another (the BLAS kernel chosen for it: a committed report
    built on an Intel Xeon and rebuilt on an AMD EPYC differed at the 14th digit), so that a
    report rebuilds to the same summary.json on any machine; ten digits are far more than any
    reading of an F or a p needs."""
    return float(f"{float(x):.{digits}g}")


def two_way_anova(runs: list[SeedRun], metric: str = "accuracy") -> dict:
    """metric ~ C(format) * C(model) over seeds (Type II sums of squares).

    Needs both levels of both factors and at least two seeds in every cell (otherwise there is
    no within-cell error term); returns {"ok": False, "reason": ...} when they are missing."""
    frame = pd.DataFrame({"format": [r.format for r in runs], "model": [r.model for r in runs],
                          "value": [r.metrics[metric] for r in runs]})
    per_cell = frame.groupby(["format", "model"]).size()
    if frame["format"].nunique() < 2 or frame["model"].nunique() < 2:
        return {"ok": False, "reason": "the ANOVA needs two levels of both factors"}
    if len(per_cell) < frame["format"].nunique() * frame["model"].nunique() or per_cell.min() < 2:
        return {"ok": False, "reason": f"the ANOVA needs at least two seeds in every cell "
                                       f"(fewest here: {int(per_cell.min())})"}
    fit = smf.ols("value ~ C(format) * C(model)", data=frame).fit()
    table = anova_lm(fit, typ=2)
    names = {"C(format)": "format", "C(model)": "architecture",
             "C(format):C(model)": "format x architecture", "Residual": "residual"}
    rows = [{"effect": names[i], "df": float(r["df"]), "sum_sq": significant(r["sum_sq"]),
             "F": None if np.isnan(r["F"]) else significant(r["F"]),
             "p": None if np.isnan(r["PR(>F)"]) else significant(r["PR(>F)"])}
            for i, r in table.iterrows()]
    return {"ok": True, "metric": metric, "rows": rows, "n": int(len(frame))}


def mcnemar_test(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """McNemar's test of two classifiers right/wrong on the same images: chi-square with
    continuity correction, the exact binomial test when fewer than 25 discordant pairs."""
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    table = [[int(np.sum(right_a & right_b)), only_a], [only_b, int(np.sum(~right_a & ~right_b))]]
    exact = only_a + only_b < 25
    res = mcnemar(table, exact=exact, correction=True)
    return {"only_a": only_a, "only_b": only_b, "statistic": float(res.statistic),
            "p": float(res.pvalue), "test": "exact binomial" if exact else "chi-square, corrected"}


def mcnemar_pairs(runs: list[SeedRun]) -> list[dict]:
    """McNemar's test between every two models scored on the same test images (same format
    and seed, hence the same split). Exact binomial test when fewer than 25 discordant pairs."""
    out = []
    by_key: dict[tuple[str, int], list[SeedRun]] = {}
    for r in runs:
        by_key.setdefault((r.format, r.seed), []).append(r)
    for (fmt, seed), group in sorted(by_key.items()):
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                a, b = group[i], group[j]
                if not np.array_equal(a.indices, b.indices):
                    continue  # not the same test images: no paired test
                ca = a.probs.argmax(1) == a.y
                cb = b.probs.argmax(1) == b.y
                out.append({"format": fmt, "seed": seed, "a": a.arm, "b": b.arm,
                            "n": int(a.y.size), "acc_a": float(ca.mean()),
                            "acc_b": float(cb.mean()), **mcnemar_test(ca, cb)})
    return out


def accuracy_above(run: SeedRun, percent: float) -> dict:
    """One-sided exact binomial test of H0 "accuracy <= percent" on a run's test images."""
    correct = int(np.sum(run.probs.argmax(1) == run.y))
    res = binomtest(correct, int(run.y.size), percent / 100, alternative="greater")
    return {"seed": run.seed, "correct": correct, "n": int(run.y.size),
            "accuracy": correct / run.y.size * 100, "p": float(res.pvalue)}


# ------------------------------------------------------------------ the claims ledger's tests

BOOTSTRAP_DRAWS = 1000  # test-set resamples per run for a Value claim's interval
BOOTSTRAP_SEED = 0  # fixed: a report rebuilds to the same intervals


def bootstrap_sd(y: np.ndarray, pred: np.ndarray, metric: str, k: int,
                 draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED) -> float:
    """Standard deviation (points, percent) of accuracy or a macro precision / recall / F1
    over `draws` resamples of the test images with replacement: how much the score of one
    trained model moves with the test set drawn. Confusion matrices are counted for all draws
    at once; each is scored like scikit-learn (a class never predicted has precision 0)."""
    y, pred = np.asarray(y, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    n = y.size
    rng = np.random.default_rng(seed)
    codes = y * k + pred
    values = []
    for start in range(0, draws, 100):  # 100 draws at a time: memory stays ~n x 100
        rows = min(100, draws - start)
        picked = codes[rng.integers(0, n, size=(rows, n))] + (np.arange(rows) * k * k)[:, None]
        cm = np.bincount(picked.ravel(), minlength=rows * k * k).reshape(rows, k, k)
        values.append(_from_confusions(cm, metric))
    return float(np.std(np.concatenate(values), ddof=1) * 100)


def _from_confusions(cm: np.ndarray, metric: str) -> np.ndarray:
    diag = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    if metric == "accuracy":
        return diag.sum(1) / cm.sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.nan_to_num(diag / cm.sum(2))
        precision = np.nan_to_num(diag / cm.sum(1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {"precision_macro": precision, "recall_macro": recall, "f1_macro": f1}[metric].mean(1)


def auc_sd(auc: float, positives: int, negatives: int) -> float:
    """Standard error of a ROC-AUC from its value and class sizes (Hanley & McNeil, 1982,
    Radiology 143:29-36): the test-set sampling part of an AUC claim's interval."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
           + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    return float(np.sqrt(max(var, 0.0)))


def unpaired_test(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """Two proportions right on different test images (two-sided z-test, statsmodels):
    what compares two runs that were not scored on the same images."""
    from statsmodels.stats.proportion import proportions_ztest

    counts = np.array([int(np.sum(right_a)), int(np.sum(right_b))])
    sizes = np.array([right_a.size, right_b.size])
    if counts.sum() in (0, sizes.sum()):  # both all wrong or all right: no difference to test
        return {"statistic": 0.0, "p": 1.0, "test": "two-proportion z"}
    stat, p = proportions_ztest(counts, sizes)
    return {"statistic": float(stat), "p": float(p), "test": "two-proportion z"}


def welch(a: list[float], b: list[float]) -> dict:
    """Welch's t-test of two sets of per-seed scores (scipy), with the difference of means and
    its 95 % confidence interval; p None with fewer than two values on a side."""
    from scipy import stats as st

    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return {"diff": diff, "p": None, "low": None, "high": None}
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = float(np.sqrt(va + vb))
    if se == 0:
        return {"diff": diff, "p": 0.0 if diff else 1.0, "low": diff, "high": diff}
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    t = float(st.t.ppf(0.975, df))
    p = float(st.ttest_ind(a, b, equal_var=False).pvalue)
    return {"diff": diff, "p": p, "low": diff - t * se, "high": diff + t * se}
