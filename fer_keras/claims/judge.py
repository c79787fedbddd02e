"""The claims judge, for any paper: every claim of the paper's config (fer_keras.claims.ledger)
judged two-sided from finished runs, one rule per kind (docs/claims.md); the interval in which
one run of a method falls; the ledger's rows, tally and headline.

Reads run folders only (through core's SeedRun); knows no paper. The report (reports/) and the
reachability study (train/study, through claims.printed) both use it; neither imports the
other.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..core.labels import CLASS_NAMES
from ..core.rundata import SeedRun, cells_of, main_runs
from . import ledger, stats


def mean_std(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "n": int(v.size)}


# ------------------------------------------------------------------------- the claims ledger
# One two-sided rule per kind of claim (fer_keras.claims.ledger; docs/claims.md states the rules).

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval
# What each verdict counts as: a claim of the paper reproduced here, or not (None: the
# claim concerns the paper's own numbers, or is not judged).
REPRODUCED = {"agrees": True, "holds": True, "below": False, "above": False,
              "not significant": False, "reversed": False, "does not hold": False,
              "consistent": None, "inconsistent": None, "not judged": None}
METRIC_NAMES = {"accuracy": "accuracy", "precision_macro": "macro precision",
                "recall_macro": "macro recall", "f1_macro": "macro F1"}


def metric_name(metric: str) -> str:
    if metric.startswith(ledger.AUC_PREFIX):
        return f"ROC-AUC of {metric[len(ledger.AUC_PREFIX):]}"
    if metric.startswith(ledger.RECALL_PREFIX):
        return f"recall of {metric[len(ledger.RECALL_PREFIX):]}"
    return METRIC_NAMES[metric]


def value_interval(runs: list[SeedRun], metric: str) -> dict:
    """A cell's metric over its seeds (mean +/- sd) and the 95 % interval in which one run of
    the method (one seed, one test set of this size) falls: mean +/- 1.96 x sqrt(sd over
    seeds^2 + the mean over seeds of the test-set sampling variance), the latter from a
    bootstrap of each run's test images (AUC: Hanley & McNeil's standard error). Percent, or
    0-1 for an AUC."""
    auc = metric.startswith(ledger.AUC_PREFIX)
    values, sampling = [], []
    for r in runs:
        if auc:
            name = metric[len(ledger.AUC_PREFIX):]
            v = r.metrics["roc_auc"][name]
            if v is None:  # no test image of the class (or only those): no AUC
                continue
            positives = int(np.sum(r.y == CLASS_NAMES.index(name)))
            values.append(v)
            sampling.append(stats.auc_sd(v, positives, r.y.size - positives))
        else:
            values.append(r.metrics[metric] * 100)
            sampling.append(stats.bootstrap_sd(r.y, r.probs.argmax(1), metric,
                                               len(CLASS_NAMES)))
    if not values:
        return None
    m = mean_std(values)
    sd = float(np.sqrt((m["std"] or 0.0) ** 2 + np.mean(np.square(sampling))))
    return {**m, "sampling_sd": float(np.sqrt(np.mean(np.square(sampling)))), "sd": sd,
            "low": m["mean"] - Z95 * sd, "high": m["mean"] + Z95 * sd,
            "seeds": [r.seed for r in runs if not auc or r.metrics["roc_auc"][
                metric[len(ledger.AUC_PREFIX):]] is not None]}


def value_side(iv: dict, claim: float) -> str:
    """The rule for a claimed number: "agrees" inside the interval (value_interval), else the
    measurement is "below" or "above" the claim."""
    if iv["low"] <= claim <= iv["high"]:
        return "agrees"
    return "below" if iv["high"] < claim else "above"


def _right(run: SeedRun, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Which test images the run gets right, on the images a metric counts (all of them for
    accuracy, one class's for its recall), and the mask of those images."""
    pred = run.probs.argmax(1)
    if metric.startswith(ledger.RECALL_PREFIX):
        k = CLASS_NAMES.index(metric[len(ledger.RECALL_PREFIX):])
        mask = run.y == k
        return pred[mask] == k, mask
    return pred == run.y, np.ones(run.y.size, bool)


def compare(better: list[SeedRun], worse: list[SeedRun], metric: str, alpha: float) -> dict:
    """One cell against another seed by seed: the difference in points, McNemar's test where
    both were scored on the same test images (else a two-proportion z-test), and the mean
    difference with its 95 % interval (seed spread and each seed's test sampling)."""
    mine = {r.seed: r for r in worse}
    pairs = [(a, mine[a.seed]) for a in better if a.seed in mine]
    rows = []
    for a, b in pairs:
        ra, ma = _right(a, metric)
        rb, mb = _right(b, metric)
        paired = np.array_equal(a.indices, b.indices)
        diff = (ra.mean() - rb.mean()) * 100
        if paired:
            t = stats.mcnemar_test(ra, rb)
            n = ra.size
            var = (t["only_a"] + t["only_b"] - (t["only_a"] - t["only_b"]) ** 2 / n) / n ** 2
        else:
            t = stats.unpaired_test(ra, rb)
            var = ra.mean() * (1 - ra.mean()) / ra.size + rb.mean() * (1 - rb.mean()) / rb.size
        rows.append({"seed": a.seed, "diff": float(diff), "p": t["p"], "test": t["test"],
                     "paired": paired, "var": float(var) * 100 ** 2,
                     "significant": t["p"] < alpha})
    if not rows:
        return {"seeds": [], "rows": []}
    d = mean_std([r["diff"] for r in rows])
    sd = float(np.sqrt((d["std"] or 0.0) ** 2 + np.mean([r["var"] for r in rows])))
    k = sum(r["significant"] and r["diff"] > 0 for r in rows)
    against = sum(r["significant"] and r["diff"] < 0 for r in rows)
    n = len(rows)
    if d["mean"] > 0 and against == 0 and 2 * k >= n:
        verdict = "holds"
    elif d["mean"] < 0 and k == 0 and 2 * against >= n:
        verdict = "reversed"
    else:
        verdict = "not significant"
    return {"seeds": [r["seed"] for r in rows], "rows": rows, "diff": d,
            "low": d["mean"] - Z95 * sd, "high": d["mean"] + Z95 * sd, "significant": k,
            "against": against, "verdict": verdict, "alpha": alpha}


def _size_verdict(low: float, high: float, size: tuple) -> str:
    """Where a claimed size (low..high points) stands against a measured interval."""
    if high < size[0]:
        return "smaller"
    if low > size[1]:
        return "larger"
    return "agrees"


def _pm(m: dict, d: int = 2) -> str:
    return f"{m['mean']:.{d}f}" + ("" if m.get("std") is None else f" ± {m['std']:.{d}f}")


def _judge_value(c, cells, _):
    runs = cells.get(c.cell)
    if not runs:
        return None
    iv = value_interval(runs, c.metric)
    if iv is None:
        return None
    d = 4 if c.metric.startswith(ledger.AUC_PREFIX) else 2
    verdict = value_side(iv, c.value)
    text = {"agrees": "agrees", "below": "measured below the claim",
            "above": "measured above the claim"}[verdict]
    measured = (f"{_pm(iv, d)} over {iv['n']} seed(s); 95 % interval "
                f"{iv['low']:.{d}f} to {iv['high']:.{d}f}")
    return {"verdict": verdict, "verdict_text": text, "measured": measured,
            "gap": iv["mean"] - c.value, "mean": iv["mean"], "std": iv["std"],
            "low": iv["low"], "high": iv["high"], "seeds_run": iv["seeds"]}


def _order_text(cmp: dict) -> str:
    n = len(cmp["rows"])
    tests = sorted({r["test"] for r in cmp["rows"]})
    return (f"difference {_pm(cmp['diff'])} points over {n} seed(s) (95 % interval "
            f"{cmp['low']:.2f} to {cmp['high']:.2f}); significant (p < {cmp['alpha']:g}, "
            f"{' / '.join(tests)}) in {cmp['significant']} of {n} seed(s)"
            + (f", the other way in {cmp['against']}" if cmp["against"] else ""))


def _verdict_text(cmp: dict) -> str:
    n = len(cmp["rows"])
    return {"holds": f"holds ({cmp['significant']} of {n} seeds significant)",
            "reversed": f"reversed ({cmp['against']} of {n} seeds significant the other way)",
            "not significant": f"not significant ({cmp['significant']} of {n} seeds"
                               + (f"; {cmp['against']} the other way" if cmp["against"]
                                  else "") + ")"}[cmp["verdict"]]


def _judge_order(c, cells, _):
    better, worse = cells.get(c.better), cells.get(c.worse)
    if not better or not worse:
        return None
    cmp = compare(better, worse, c.metric, c.alpha)
    if not cmp["rows"]:
        return None
    out = {"verdict": cmp["verdict"], "verdict_text": _verdict_text(cmp),
           "measured": _order_text(cmp), "compare": cmp}
    if c.size:
        size = _size_verdict(cmp["low"], cmp["high"], c.size)
        out["size"] = size
        out["verdict_text"] += f"; size {c.size[0]:g}-{c.size[1]:g} points: " + (
            "agrees" if size == "agrees" else f"measured {size}")
        if out["verdict"] == "holds" and size != "agrees":
            out["verdict"] = "does not hold"
    return out


def _judge_best(c, cells, _):
    if not cells.get(c.cell):
        return None
    each = [(other, compare(cells[c.cell], cells[other], "accuracy", c.alpha))
            for other in c.among if cells.get(other)]
    each = [(o, cmp) for o, cmp in each if cmp["rows"]]
    if not each:
        return None
    verdicts = [cmp["verdict"] for _, cmp in each]
    verdict = ("holds" if all(v == "holds" for v in verdicts)
               else "reversed" if "reversed" in verdicts else "not significant")
    held = verdicts.count("holds")
    beaten = [o for o, cmp in each if cmp["verdict"] == "reversed"]
    text = {"holds": f"holds (beats all {len(each)})",
            "reversed": f"reversed ({', '.join(beaten)} significantly better)",
            "not significant": f"not significant (significantly better than {held} of "
                               f"{len(each)})"}[verdict]
    measured = "; ".join(f"vs {o}: {cmp['diff']['mean']:+.2f} points, {_verdict_text(cmp)}"
                         for o, cmp in each)
    return {"verdict": verdict, "verdict_text": text, "measured": measured,
            "against": [{"other": o, "verdict": cmp["verdict"], "diff": cmp["diff"]}
                        for o, cmp in each]}


ANOVA_ROWS = {"format": "format", "model": "architecture",
              ledger.INTERACTION: "format x architecture"}


def _judge_effect(c, cells, context):
    if c.within:
        high, low = cells.get(f"{c.high}/{c.within}"), cells.get(f"{c.low}/{c.within}")
        if not high or not low:
            return None
        w = stats.welch([r.metrics["accuracy"] * 100 for r in high],
                        [r.metrics["accuracy"] * 100 for r in low])
        if w["p"] is None:
            return {"verdict": "not judged", "verdict_text": "not judged (a test needs two "
                    "seeds on each side)", "measured": f"difference {w['diff']:+.2f} points"}
        p, diff, low_ci, high_ci = w["p"], w["diff"], w["low"], w["high"]
        how = f"Welch's t-test over seeds, {len(high)} and {len(low)} runs"
    else:
        anova = context.get("anova") or {}
        if not anova.get("ok"):
            return {"verdict": "not judged", "verdict_text": "not judged (" + anova.get(
                "reason", "no factorial analysis") + ")", "measured": "–"}
        row = next(r for r in anova["rows"] if r["effect"] == ANOVA_ROWS[c.factor])
        p = row["p"]
        how = f"two-way ANOVA, {anova['n']} runs"
        diff = low_ci = high_ci = None
        if c.high:
            key = "format" if c.factor == "format" else "model"
            main = [r for r in context["main"]]
            a = [r.metrics["accuracy"] * 100 for r in main if getattr(r, key) == c.high]
            b = [r.metrics["accuracy"] * 100 for r in main if getattr(r, key) == c.low]
            w = stats.welch(a, b)
            diff, low_ci, high_ci = w["diff"], w["low"], w["high"]
    significant = p < c.alpha
    if not significant:
        verdict = "not significant"
    elif diff is not None and diff < 0:
        verdict = "reversed"
    else:
        verdict = "holds"
    measured = f"p = {p:.3g} ({how})"
    if diff is not None:
        measured += (f"; {c.high} minus {c.low}: {diff:+.2f} points"
                     + (f" (95 % interval {low_ci:.2f} to {high_ci:.2f})"
                        if low_ci is not None else ""))
    text = {"holds": f"holds (p = {p:.3g})", "reversed": f"reversed (p = {p:.3g})",
            "not significant": f"not significant (p = {p:.3g})"}[verdict]
    out = {"verdict": verdict, "verdict_text": text, "measured": measured, "p": p,
           "diff": diff}
    if c.size is not None and diff is not None and low_ci is not None:
        size = _size_verdict(low_ci, high_ci, (c.size, c.size))
        out["size"] = size
        out["verdict_text"] += f"; size {c.size:+g} points: " + (
            "agrees" if size == "agrees" else f"measured {size}")
        if verdict == "holds" and size != "agrees":
            out["verdict"] = "does not hold"
    return out


def _per_seed(runs: list[SeedRun], holds) -> tuple[int, int, list[dict]]:
    rows = [{"seed": r.seed, **holds(r)} for r in runs]
    return sum(r["holds"] for r in rows), len(rows), rows


def _seed_verdict(k: int, n: int) -> dict:
    return {"verdict": "holds" if k == n else "does not hold",
            "verdict_text": f"holds in {k} of {n} seed(s)"}


def _judge_extremes(c, cells, _):
    runs = cells.get(c.cell)
    if not runs:
        return None

    def holds(r):
        recall = {n: r.metrics["per_class"][n]["recall"] for n in CLASS_NAMES}
        order = sorted(recall, key=lambda n: -recall[n])
        top, bottom = order[:len(c.highest)], order[len(order) - len(c.lowest):]
        ok = (not c.highest or set(top) == set(c.highest)) and \
            (not c.lowest or set(bottom) == set(c.lowest))
        return {"holds": ok, "top": top, "bottom": bottom}

    k, n, rows = _per_seed(runs, holds)
    measured = "; ".join(f"seed {r['seed']}: " + ", ".join(
        ([f"highest {' and '.join(r['top'])}"] if c.highest else [])
        + ([f"lowest {' and '.join(r['bottom'])}"] if c.lowest else [])) for r in rows)
    return {**_seed_verdict(k, n), "measured": measured, "seeds": rows}


def _judge_bound(c, cells, _):
    runs = cells.get(c.cell)
    if not runs:
        return None

    def holds(r):
        t = stats.accuracy_above(r, c.above)
        return {"holds": t["p"] < c.alpha, "accuracy": t["accuracy"], "p": t["p"]}

    k, n, rows = _per_seed(runs, holds)
    m = mean_std([r["accuracy"] for r in rows])
    measured = (f"{_pm(m)} %; one-sided exact binomial test, p per seed: "
                + ", ".join(f"{r['p']:.3g}" for r in rows))
    return {**_seed_verdict(k, n), "measured": measured, "seeds": rows}


def _judge_consistent(c, _, context):
    values = context["values"].get(c.cell, {})
    if not all(k in values for k in ("precision_macro", "recall_macro", "f1_macro")):
        return None
    p, r, f = values["precision_macro"], values["recall_macro"], values["f1_macro"]
    bound = (p + r) / 2
    ok = f <= bound + 0.05  # printed to 0.1
    return {"verdict": "consistent" if ok else "inconsistent",
            "verdict_text": ("can hold together" if ok else
                             f"cannot all be true: macro F1 {f:g} > (P + R) / 2 = {bound:.2f}"),
            "measured": f"bound on macro F1: ({p:g} + {r:g}) / 2 = {bound:.2f}"}


def _judge_robust(c, cells, _):
    mine, other = cells.get(c.cell), cells.get(c.than)
    if not mine or not other:
        return None

    def lost(run: SeedRun) -> dict[float, float]:
        acc = {float(lv["sigma"]): lv["accuracy"] * 100
               for lv in (run.robustness or {}).get("levels", [])}
        return {s: acc[0.0] - a for s, a in acc.items() if s > 0} if 0.0 in acc else {}

    theirs = {r.seed: lost(r) for r in other}
    rows = []
    for r in mine:
        a, b = lost(r), theirs.get(r.seed, {})
        levels = sorted(set(a) & set(b))
        if levels:
            margins = {s: b[s] - a[s] for s in levels}
            rows.append({"seed": r.seed, "holds": all(m > 0 for m in margins.values()),
                         "margins": margins})
    if not rows:
        return None
    k, n = sum(r["holds"] for r in rows), len(rows)
    levels = sorted(rows[0]["margins"])
    measured = "points lost by the other minus by this cell, mean over seeds: " + ", ".join(
        f"σ {s:g}: {np.mean([r['margins'][s] for r in rows]):+.2f}" for s in levels)
    return {**_seed_verdict(k, n), "measured": measured, "seeds": rows}


JUDGES = {"value": _judge_value, "order": _judge_order, "best": _judge_best,
          "effect": _judge_effect, "extremes": _judge_extremes, "bound": _judge_bound,
          "consistent": _judge_consistent, "robust": _judge_robust}


def _value(c) -> str:
    return f"{c.value:g}" + ("" if c.metric.startswith(ledger.AUC_PREFIX) else " %")


def _by(c) -> str:
    return f" by {c.size[0]:g}-{c.size[1]:g} points" if c.size else ""


def claim_text(c) -> str:
    """What the claim says, in one line of our words (the quote is the paper's)."""
    if c.kind == "value":
        return f"{c.cell}: {metric_name(c.metric)} {_value(c)}"
    if c.kind == "order":
        return (f"{c.better} beats {c.worse}{_by(c)} on {metric_name(c.metric)}"
                + (f" (p < {c.alpha:g})" if c.alpha != 0.05 else ""))
    if c.kind == "best":
        return f"{c.cell} beats every one of {', '.join(c.among)}"
    if c.kind == "effect":
        if c.factor == ledger.INTERACTION:
            return "the format x architecture interaction is significant"
        what = {"format": "data format", "model": "architecture"}[c.factor]
        where = f" within {c.within}" if c.within else ""
        sign = f": {c.high} above {c.low}" if c.high else ""
        size = f" by {c.size:g} points" if c.size is not None else ""
        return f"the {what} effect{where} is significant{sign}{size}"
    if c.kind == "extremes":
        parts = ([f"highest recall {' and '.join(c.highest)}"] if c.highest else []) + \
            ([f"lowest {' and '.join(c.lowest)}"] if c.lowest else [])
        return f"{c.cell}: {'; '.join(parts)}"
    if c.kind == "bound":
        return f"{c.cell}: accuracy above {c.above:g} %"
    if c.kind == "consistent":
        return f"{c.cell}: the claimed macro precision, recall and F1 can hold together"
    if c.kind == "robust":
        return f"{c.cell} loses less accuracy to added noise than {c.than}"
    raise ValueError(c.kind)


def short_text(c) -> str:
    """The claim in a few words, for one line of the README and the scoreboard."""
    if c.kind == "value":
        return f"{metric_name(c.metric)} {_value(c)} ({c.cell})"
    if c.kind == "order":
        on = "" if c.metric == "accuracy" else f" on {metric_name(c.metric)}"
        return f"{c.better} > {c.worse}{_by(c)}{on}"
    if c.kind == "best":
        return f"{c.cell} best of {len(c.among) + 1}"
    if c.kind == "effect":
        if c.factor == ledger.INTERACTION:
            return "format x architecture interaction"
        what = {"format": "format", "model": "architecture"}[c.factor]
        size = f", {c.size:+g} points" if c.size is not None else ""
        return f"{what} effect" + (f" within {c.within}" if c.within else "") + size
    return claim_text(c)


def judge(c, cells: dict[str, list[SeedRun]], context: dict) -> dict:
    """One claim's row of the ledger: what it says, where, what we measured and the verdict;
    its other readings beside it."""
    row = {"kind": c.kind, "quote": c.quote, "where": c.where, "central": c.central,
           "claim": claim_text(c), "short": short_text(c), "scope": c.scope, "readings": []}
    if c.origin:  # only where set: the ledgers of the papers themselves stay as they were
        row["origin"] = c.origin
    found = None if c.scope else JUDGES[c.kind](c, cells, context)
    if found is None:
        found = {"verdict": "not judged",
                 "verdict_text": f"not judged: {c.scope}" if c.scope
                 else "not judged: no finished run of its cells", "measured": "–"}
    row.update(found)
    row["reproduced"] = REPRODUCED[row["verdict"]]
    for label in c.readings:
        sub = None if c.scope else JUDGES[c.kind](c.reading(label), cells, context)
        if sub is not None:
            row["readings"].append({"label": label, "claim": claim_text(c.reading(label)),
                                    "verdict": sub["verdict"],
                                    "verdict_text": sub["verdict_text"],
                                    "measured": sub["measured"]})
    return row


def ledger_rows(claims: list, runs: list[SeedRun], anova: dict | None) -> list[dict]:
    """Every claim of the paper judged from the runs, central findings first (each group in
    the paper's order). Rows carry plain numbers and sentences only (summary.json)."""
    claims = ledger.from_json(claims) if claims and isinstance(claims[0], dict) else claims
    context = {"anova": anova, "main": main_runs(runs), "values": ledger.claimed_values(claims)}
    cells = cells_of(runs)
    rows = [judge(c, cells, context) for c in claims]
    for r in rows:  # what the interval holds is in the row's text; keep the JSON small
        for key in ("interval", "compare", "against", "seeds"):
            r.pop(key, None)
    return [r for r in rows if r["central"]] + [r for r in rows if not r["central"]]


def tally(rows: list[dict]) -> dict:
    """Claims by verdict, and the central findings reproduced: {"verdicts": {verdict: n},
    "central": {"judged": n, "reproduced": k}}."""
    verdicts = Counter(r["verdict"] for r in rows)
    central = [r for r in rows if r["central"] and r["reproduced"] is not None]
    return {"verdicts": dict(sorted(verdicts.items())), "claims": len(rows),
            "central": {"judged": len(central),
                        "reproduced": sum(bool(r["reproduced"]) for r in central)}}


def headline(rows: list[dict], claims: list, proposed: str) -> dict | None:
    """The number a reader looks for first: the judged accuracy claim of the proposed model
    (a central one first), else the highest claimed accuracy; with its two-sided verdict."""
    claims = ledger.from_json(claims) if claims and isinstance(claims[0], dict) else claims
    by_claim = {(r["quote"], r["claim"]): r for r in rows}
    judged = [(c, by_claim[(c.quote, claim_text(c))]) for c in claims
              if c.kind == "value" and c.metric == "accuracy"
              and by_claim[(c.quote, claim_text(c))]["verdict"] != "not judged"]
    if not judged:
        return None
    mine = [(c, r) for c, r in judged if c.cell.split("/", 1)[1] == proposed]
    c, r = sorted(mine, key=lambda cr: not cr[0].central)[0] if mine else \
        max(judged, key=lambda cr: cr[0].value)
    return {"cell": c.cell, "claimed": c.value, "measured": r["mean"], "std": r["std"],
            "seeds": r["seeds_run"], "low": r["low"], "high": r["high"], "gap": r["gap"],
            "verdict": r["verdict"], "verdict_text": r["verdict_text"], "where": c.where}
