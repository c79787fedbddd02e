"""Claims against measurements, for any paper: the protocol each cell ran with, the ranking
claimed vs measured, the paper's proposed model against every other one, class weights,
per-class recall, what each variant changes, and one headline with a verdict.

Reads run folders only (through SeedRun); knows no paper.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from ..config import NOT_TRAINING, flatten
from ..labels import CLASS_NAMES
from .damaged import DAMAGED_DATA
from .rundata import SeedRun, cells_of, main_runs
from .stats import accuracy_above, mcnemar_test


def mean_std(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "n": int(v.size)}


def claim_of(claimed: dict, run: SeedRun) -> dict:
    """The paper's numbers for a cell. A variant cell stands beside its model's claim (another
    reading of the same method) unless the config gives the variant cell an entry of its own;
    an empty entry claims no number (an ablation the paper only describes in words)."""
    if run.cell in claimed:
        return claimed[run.cell]
    return claimed.get(f"{run.format}/{run.model}", {})


# ----------------------------------------------------------------------------- protocol



def training_of(run: SeedRun) -> dict:
    """The training config a run recorded (its identity; older runs: its config.json)."""
    identity = run.config.get("identity")
    if identity:
        return identity["training"]
    skip = {*NOT_TRAINING, "cell", "training_hash"}
    return {k: v for k, v in run.config.items() if k not in skip}


def protocol(runs: list[SeedRun]) -> dict:
    """The protocol most main cells ran with, and per cell what differs from it (a capped
    epoch budget, a variant's validation policy, ...), so no cell trained differently is
    shown beside the others without saying so."""
    main = main_runs(runs) or runs
    texts = Counter(json.dumps(training_of(r), sort_keys=True) for r in main)
    reference = flatten(json.loads(texts.most_common(1)[0][0]))
    differences = {}
    for cell, cruns in cells_of(runs).items():
        seen = []
        for r in cruns:
            flat = flatten(training_of(r))
            diff = [f"{k} = {flat.get(k, '(unset)')} (protocol: {reference.get(k, '(unset)')})"
                    for k in sorted(set(flat) | set(reference))
                    if flat.get(k, "(unset)") != reference.get(k, "(unset)")]
            if diff not in seen:
                seen.append(diff)
        differences[cell] = [d for d in seen if d]
    return {"reference": reference, "differences": differences,
            "mixed": any(differences.values())}


def consistency(claimed: dict) -> list[dict]:
    """Claimed macro metrics that cannot hold together. Each class's F1 is the harmonic mean
    of its precision and recall, at most their arithmetic mean, so macro F1 <= (macro
    precision + macro recall) / 2 for any predictions. One row per claimed cell giving all
    three."""
    rows: dict[tuple, dict] = {}  # one row per set of numbers, naming every cell claiming it
    for cell, c in claimed.items():
        if all(k in c for k in ("precision_macro", "recall_macro", "f1_macro")):
            key = (c["precision_macro"], c["recall_macro"], c["f1_macro"])
            if key in rows:
                rows[key]["cells"].append(cell)
                continue
            bound = (c["precision_macro"] + c["recall_macro"]) / 2
            rows[key] = {"cell": cell, "cells": [cell], "precision": c["precision_macro"],
                         "recall": c["recall_macro"], "f1": c["f1_macro"], "bound": bound,
                         "possible": c["f1_macro"] <= bound + 0.05}  # printed to 0.1
    return list(rows.values())


def preprocessing(runs: list[SeedRun]) -> list[dict]:
    """What the preprocessing stage did, per cell (its manifests; the same data set and
    settings give the same numbers for every seed)."""
    rows = []
    for cell, cruns in cells_of(runs).items():
        seen = []
        for r in cruns:
            s = r.manifest.get("preprocess")
            if s and s not in seen:
                seen.append(s)
        rows += [{"cell": cell, **s} for s in seen]
    return rows


def robustness(runs: list[SeedRun]) -> list[dict]:
    """Per cell, test accuracy (%) at each added-noise level, mean over seeds."""
    rows = []
    for cell, cruns in cells_of(runs).items():
        levels: dict[float, list[float]] = {}
        for r in cruns:
            for lv in (r.robustness or {}).get("levels", []):
                levels.setdefault(float(lv["sigma"]), []).append(lv["accuracy"] * 100)
        if levels:
            rows.append({"cell": cell, "levels": {s: mean_std(v)
                                                  for s, v in sorted(levels.items())}})
    return rows


def noise_gain(found: dict | None) -> dict | None:
    """The run folder's noise-gain measurement as a table: one row per noise level, the gain
    of each preprocessing stage (RMS change after the stage over RMS noise added, 1 = the
    noise passes unchanged). Measured on a copy known to be damaged: kept, but marked, like
    any run on it."""
    if not found:
        return None
    stages = list(dict.fromkeys(r["stage"] for r in found["rows"]))
    by_sigma: dict[float, dict] = {}
    for r in found["rows"]:
        row = by_sigma.setdefault(float(r["sigma"]), {"sigma": float(r["sigma"]),
                                                       "added": r["rms_added"], "gain": {}})
        row["gain"][r["stage"]] = r["gain"]
    fingerprint = found.get("data_fingerprint")
    return {"stages": stages, "rows": list(by_sigma.values()), "images": found["images"],
            "data": found["data"], "seed": found["seed"],
            "fingerprint": (fingerprint or "")[:12],
            "damaged": DAMAGED_DATA.get(fingerprint)}


def proposed_pairs(runs: list[SeedRun], proposed: str) -> list[tuple[SeedRun, SeedRun]]:
    """Every run but the proposed model's main ones, each with the proposed model's main run
    of its format and seed (the same split): what a claim about the proposed model compares."""
    mine = {(r.format, r.seed): r for r in runs if r.arm == proposed}
    return [(r, mine[(r.format, r.seed)]) for r in runs
            if r.arm != proposed and (r.format, r.seed) in mine]


def more_robust(runs: list[SeedRun], claimed: list[str] | tuple, proposed: str) -> list[dict]:
    """The claim that the proposed model loses less accuracy to added noise than each of the
    `claimed` cells: per noise level above 0, the points each side loses from its own clean
    accuracy, seed by seed against the proposed model's cell of the same format and seed;
    `margin` is the other's loss minus the proposed model's (> 0: the claim holds there)."""
    def lost(run: SeedRun) -> dict[float, float]:
        acc = {float(lv["sigma"]): lv["accuracy"] * 100
               for lv in (run.robustness or {}).get("levels", [])}
        return {s: acc[0.0] - a for s, a in acc.items() if s > 0} if 0.0 in acc else {}

    rows = []
    for cell in claimed:
        reference = f"{cell.split('/')[0]}/{proposed}"
        pairs = [(lost(base), lost(r), r.seed) for r, base in proposed_pairs(runs, proposed)
                 if r.cell == cell]
        pairs = [(mine, other, seed) for mine, other, seed in pairs if mine and other]
        if not pairs:
            continue
        levels = sorted(set.intersection(*(set(m) & set(o) for m, o, _ in pairs)))
        per_level = {s: {"proposed": mean_std([m[s] for m, _, _ in pairs]),
                         "other": mean_std([o[s] for _, o, _ in pairs]),
                         "margin": mean_std([o[s] - m[s] for m, o, _ in pairs])}
                     for s in levels}
        rows.append({"cell": cell, "reference": reference, "seeds": [s for *_, s in pairs],
                     "levels": per_level,
                     "holds": [s for s in levels if per_level[s]["margin"]["mean"] > 0],
                     "fails": [s for s in levels if per_level[s]["margin"]["mean"] <= 0]})
    return rows


# ------------------------------------------------------------------------------ ranking


def ranking(table1: list[dict], runs: list[SeedRun]) -> list[dict]:
    """Main cells with a claimed accuracy: claimed rank and measured rank (1 = best). Equal
    values share a rank ("1, 2, 2, 4"): two readings of one model carry the same claim.

    Cells may have run different seeds (e.g. three for the small models, one for a slow
    backbone), and a mean over seeds 0-2 is not like for like with seed 0 alone. So each row
    also gives its accuracy over the seeds every ranked cell has (`common`, over
    `common_seeds`), ranked as `common_rank`; the rows are ordered by that like-for-like rank
    when there is one."""
    accuracy: dict[str, dict[int, float]] = {}
    for r in main_runs(runs):
        accuracy.setdefault(r.cell, {})[r.seed] = r.metrics["accuracy"] * 100
    rows = [{"cell": t["cell"], "claimed": t["metrics"]["accuracy"]["paper"],
             "measured": t["metrics"]["accuracy"]["mean"],
             "std": t["metrics"]["accuracy"]["std"], "seeds": sorted(accuracy[t["cell"]])}
            for t in table1 if t["cell"] in accuracy
            and t["metrics"]["accuracy"]["paper"] is not None]
    common = sorted(set.intersection(*(set(r["seeds"]) for r in rows))) if rows else []
    for row in rows:
        row["common_seeds"] = common
        row["common"] = (float(np.mean([accuracy[row["cell"]][s] for s in common]))
                         if common else None)
    keys = ("claimed", "measured", "common") if common else ("claimed", "measured")
    for key in keys:
        for row in rows:
            row[f"{key}_rank"] = 1 + sum(other[key] > row[key] for other in rows)
    like_for_like = "common_rank" if common else "measured_rank"
    return sorted(rows, key=lambda r: (r["claimed_rank"], r[like_for_like]))


def proposed_against_others(mcnemar: list[dict], proposed: str,
                            alpha: float = 0.05) -> list[dict]:
    """The paper's proposed model (its main arm) against every other arm: per other arm the
    seeds compared, mean accuracies, and in how many seeds each side was significantly
    better (McNemar, p < alpha: the level the paper claims, config claimed_significance)."""
    out: dict[str, dict] = {}
    for t in mcnemar:
        if proposed not in (t["a"], t["b"]):
            continue
        flip = t["b"] == proposed
        other = t["a"] if flip else t["b"]
        acc_p, acc_o = (t["acc_b"], t["acc_a"]) if flip else (t["acc_a"], t["acc_b"])
        row = out.setdefault(other, {"other": other, "seeds": [], "acc_proposed": [],
                                     "acc_other": [], "p": [], "proposed_better": 0,
                                     "other_better": 0, "alpha": alpha})
        row["seeds"].append(t["seed"])
        row["acc_proposed"].append(acc_p * 100)
        row["acc_other"].append(acc_o * 100)
        row["p"].append(t["p"])
        if t["p"] < alpha:
            row["proposed_better" if acc_p > acc_o else "other_better"] += 1
    for row in out.values():
        row["acc_proposed"] = mean_std(row["acc_proposed"])
        row["acc_other"] = mean_std(row["acc_other"])
    return list(out.values())


def drops(runs: list[SeedRun], mcnemar: list[dict], claimed: dict, proposed: str,
          alpha: float = 0.05) -> list[dict]:
    """Each cell the paper says scores low..high points below the proposed model (an
    ablation, a baseline), against the proposed model's main cell of its format, seed by seed
    on the same test images: the drop in points (mean +/- std over the paired seeds),
    McNemar's p per seed and a verdict on the mean: "as claimed" (within the range), "within
    noise" (the range within two standard deviations of it), else "no drop" (<= 0),
    "smaller than claimed" or "larger than claimed"."""
    rows = []
    for cell, (low, high) in claimed.items():
        reference = f"{cell.split('/')[0]}/{proposed}"
        pairs = [(r, base) for r, base in proposed_pairs(runs, proposed) if r.cell == cell]
        tests = [next((t for t in mcnemar if t["seed"] == r.seed and t["format"] == r.format
                       and {t["a"], t["b"]} == {r.arm, base.arm}), None) for r, base in pairs]
        pairs = [pair for pair, t in zip(pairs, tests) if t is not None]  # same test images
        tests = [t for t in tests if t is not None]
        if not pairs:
            continue
        drop = mean_std([(base.metrics["accuracy"] - r.metrics["accuracy"]) * 100
                         for r, base in pairs])
        # rounded: accuracies are ratios of counts, so a drop of exactly 4 points may come out
        # as 3.9999999999
        m, spread = round(drop["mean"], 9), 2 * (drop["std"] or 0.0)
        verdict = ("as claimed" if low <= m <= high
                   else "within noise" if (low - m if m < low else m - high) <= spread
                   else "no drop" if m <= 0
                   else "smaller than claimed" if m < low else "larger than claimed")
        rows.append({"cell": cell, "reference": reference, "claimed": [low, high],
                     "seeds": [r.seed for r, _ in pairs], "drop": drop,
                     "p": [t["p"] for t in tests], "alpha": alpha,
                     "significant": sum(t["p"] < alpha for t, (r, base) in zip(tests, pairs)
                                        if base.metrics["accuracy"] > r.metrics["accuracy"]),
                     "verdict": verdict})
    return rows


# ------------------------------------------------------------------------------ classes


def better_classes(runs: list[SeedRun], classes: list[str] | tuple, proposed: str,
                   alpha: float = 0.05) -> list[dict]:
    """The claim that the proposed model recognises `classes` better than the other models:
    per class and other arm (not a variant of the proposed model), the recall of each on that
    class's test images (%, mean +/- std over seeds), McNemar's test on those images per seed,
    and in how many seeds the proposed model's recall is higher, and significantly so."""
    rows: dict[tuple, dict] = {}
    for r, base in proposed_pairs(runs, proposed):
        if r.arm.split("+")[0] == proposed or not np.array_equal(r.indices, base.indices):
            continue  # a variant of the proposed model; or not the same test images
        for name in classes:
            k = CLASS_NAMES.index(name)
            on = base.y == k
            right_mine, right_other = base.probs.argmax(1)[on] == k, r.probs.argmax(1)[on] == k
            t = mcnemar_test(right_mine, right_other)
            row = rows.setdefault((name, r.cell), {
                "class": name, "other": r.cell, "reference": base.cell, "seeds": [],
                "recall_proposed": [], "recall_other": [], "p": [], "higher": 0,
                "significant": 0, "alpha": alpha})
            row["seeds"].append(r.seed)
            row["recall_proposed"].append(right_mine.mean() * 100)
            row["recall_other"].append(right_other.mean() * 100)
            row["p"].append(t["p"])
            higher = right_mine.mean() > right_other.mean()
            row["higher"] += int(higher)
            row["significant"] += int(higher and t["p"] < alpha)
    for row in rows.values():
        for k in ("recall_proposed", "recall_other"):
            row[k] = mean_std(row[k])
    return list(rows.values())


def class_weights_used(runs: list[SeedRun], claimed: dict) -> list[dict]:
    """The class weights the runs trained with (their manifests) beside the paper's."""
    used = [r.manifest.get("split", {}).get("class_weights") for r in main_runs(runs)]
    used = [u for u in used if u]
    if not used and not claimed:
        return []
    rows = []
    for i, name in enumerate(CLASS_NAMES):
        values = sorted({round(float(u[str(i)]), 4) for u in used})
        rows.append({"cls": name, "used": values, "paper": claimed.get(name)})
    return rows


def per_class_recall(runs: list[SeedRun]) -> list[dict]:
    """Per cell, each class's recall (%), mean over seeds: what class weights are for."""
    return [{"cell": cell, "recall": {
        name: mean_std([r.metrics["per_class"][name]["recall"] * 100 for r in cruns])
        for name in CLASS_NAMES}} for cell, cruns in cells_of(runs).items()]


USAGE_PARTS = ("Training", "PublicTest", "PrivateTest")  # FER-2013's challenge parts


def accuracy_by_usage(runs: list[SeedRun]) -> dict:
    """Test accuracy (%) per original FER-2013 part (the CSV's Usage) of the test images, for
    runs whose test split draws from several parts. The parts are random draws from one
    collection, so a model should score them alike; a gap points at the parts' images
    differing (as when a copy's Training part was blurred: docs/data.md). {"parts": [...],
    "rows": [{cell, parts: {part: mean_std}, images: {part: images per seed}}]}, empty
    without such runs."""
    per_cell: dict[str, dict[str, list]] = {}
    for r in runs:
        if r.usage is None or len(set(r.usage) & set(USAGE_PARTS)) < 2:
            continue
        ok = r.probs.argmax(1) == r.y
        cell = per_cell.setdefault(r.cell, {})
        for part in USAGE_PARTS:
            mask = r.usage == part
            if mask.any():
                cell.setdefault(part, []).append((ok[mask].mean() * 100, int(mask.sum())))
    if not per_cell:
        return {}
    parts = [p for p in USAGE_PARTS if any(p in c for c in per_cell.values())]
    return {"parts": parts, "rows": [
        {"cell": cell, "parts": {p: mean_std([a for a, _ in v]) for p, v in c.items()},
         "images": {p: sorted({n for _, n in v}) for p, v in c.items()}}
        for cell, c in per_cell.items()]}


def no_better_than_majority(runs: list[SeedRun]) -> list[dict]:
    """Seeds whose test accuracy is no better than always answering the test set's largest
    class: the model has not learned (a run stuck on its initial plateau), or what it learned
    does not carry over to the test images. Their numbers enter the means like any other run
    (nothing is dropped); the report names them, with the class they answer most."""
    rows = []
    for r in runs:
        largest, share = r.largest_class
        if r.metrics["accuracy"] > share:
            continue
        predicted = np.bincount(r.probs.argmax(1), minlength=len(CLASS_NAMES))
        rows.append({"cell": r.cell, "seed": r.seed, "accuracy": r.metrics["accuracy"] * 100,
                     "majority": CLASS_NAMES[largest], "majority_share": share * 100,
                     "predicted": CLASS_NAMES[int(predicted.argmax())],
                     "predicted_share": float(predicted.max() / r.y.size) * 100,
                     "dead": dead_layers(r)})
    return rows


def dead_layers(run: SeedRun, share: float = 0.5) -> list[dict]:
    """The ReLU layers of a run's scored model in which at least `share` of the units never
    fire on the example images (activity.json; [] where it was not recorded)."""
    a = run.activity or {}
    return [{**row, "images": a["images"]} for row in a.get("layers", [])
            if row["units"] and row["dead"] >= share * row["units"]]


def recall_extremes(runs: list[SeedRun], claim: dict) -> list[dict]:
    """Per main cell: are the classes the paper says are recognised best (worst) the ones with
    the highest (lowest) measured recall, mean over seeds?"""
    if not claim:
        return []
    high, low = tuple(claim.get("highest", ())), tuple(claim.get("lowest", ()))
    rows = []
    for cell, cruns in cells_of(main_runs(runs)).items():
        recall = {name: float(np.mean([r.metrics["per_class"][name]["recall"] for r in cruns]))
                  * 100 for name in CLASS_NAMES}
        order = sorted(recall, key=lambda n: -recall[n])
        top, bottom = order[:len(high)], order[len(order) - len(low):]
        rows.append({"cell": cell, "seeds": len(cruns), "recall": recall, "top": top,
                     "bottom": bottom, "claimed_highest": list(high), "claimed_lowest": list(low),
                     "highest_holds": set(top) == set(high),
                     "lowest_holds": set(bottom) == set(low)})
    return rows


def above(runs: list[SeedRun], claimed: dict) -> list[dict]:
    """Per main cell with a claimed floor: the exact one-sided binomial test per seed, and
    whether every seed is significantly above the floor (p < 0.05)."""
    rows = []
    for cell, cruns in cells_of(main_runs(runs)).items():
        floor = claimed.get(cell)
        if floor is None:
            continue
        tests = [accuracy_above(r, floor) for r in cruns]
        rows.append({"cell": cell, "floor": floor, "tests": tests,
                     "holds": all(t["p"] < 0.05 for t in tests),
                     "mean": mean_std([t["accuracy"] for t in tests])})
    return rows


def literature(runs: list[SeedRun], quoted: dict) -> list[dict]:
    """The paper's quoted results and the measured main cells, highest accuracy first."""
    rows = [{"label": k, "accuracy": float(v), "std": None, "ours": False}
            for k, v in quoted.items()]
    for cell, cruns in cells_of(main_runs(runs)).items():
        m = mean_std([r.metrics["accuracy"] * 100 for r in cruns])
        rows.append({"label": f"{cell} (measured)", "accuracy": m["mean"], "std": m["std"],
                     "ours": True})
    return sorted(rows, key=lambda r: -r["accuracy"])


# ------------------------------------------------------------------------------ variants


def scored_epoch(run: SeedRun) -> int | None:
    """The epoch (1-based) whose weights were scored on the test split; manifests written
    before `scored_epoch` existed give `best_epoch` (their runs restored the best weights)."""
    epoch = run.manifest.get("scored_epoch", run.manifest.get("best_epoch"))
    return int(epoch) if epoch else None


def leak_at_twin_epoch(variant: SeedRun, base: SeedRun) -> float | None:
    """A test-validated variant's test accuracy (%) at the epoch its honest twin (the main arm,
    same seed and split) chose on its own validation part: a stopping rule that never saw the
    test images, applied to the variant's training. The variant's validation curve IS its test
    curve, so this needs no retraining. None when the variant stopped before that epoch."""
    epoch = scored_epoch(base)
    if epoch is None or "val_accuracy" not in variant.history or epoch > len(variant.history):
        return None
    return float(variant.history["val_accuracy"].iloc[epoch - 1]) * 100


def variant_effects(runs: list[SeedRun]) -> list[dict]:
    """Each variant arm against its model's main arm, seed by seed on the same split:
    accuracy difference in points (mean +/- std over paired seeds); whether the variant
    selects on the test split (leakage), and both arms' training sizes, since a variant that
    validates elsewhere may also train on more images.

    For a leaking variant the difference splits in two (each mean +/- std over the seeds
    where the twin's epoch exists): `images`, the variant at its twin's epoch minus the twin
    (more training images, chosen without the test set), and `selection`, the variant minus
    itself at that epoch (what choosing the epoch on the test images adds)."""
    base = {(r.format, r.model, r.seed): r for r in main_runs(runs)}
    out: dict[tuple, dict] = {}
    for r in runs:
        if not r.variant or (r.format, r.model, r.seed) not in base:
            continue
        b = base[(r.format, r.model, r.seed)]
        row = out.setdefault((r.format, r.model, r.variant), {
            "cell": r.cell, "base": b.cell, "seeds": [], "variant_acc": [], "base_acc": [],
            "diff": [], "leak": training_of(r).get("validation") == "test",
            "train": set(), "base_train": set(), "images": [], "selection": [],
            "split_seeds": []})
        row["train"].add(r.manifest["split"]["train"])
        row["base_train"].add(b.manifest["split"]["train"])
        row["seeds"].append(r.seed)
        acc, base_acc = r.metrics["accuracy"] * 100, b.metrics["accuracy"] * 100
        row["variant_acc"].append(acc)
        row["base_acc"].append(base_acc)
        row["diff"].append((r.metrics["accuracy"] - b.metrics["accuracy"]) * 100)
        honest = leak_at_twin_epoch(r, b) if row["leak"] else None
        if honest is not None:
            row["split_seeds"].append(r.seed)
            row["images"].append(honest - base_acc)
            row["selection"].append(acc - honest)
    for row in out.values():
        for k in ("variant_acc", "base_acc", "diff"):
            row[k] = mean_std(row[k])
        for k in ("images", "selection"):
            row[k] = mean_std(row[k]) if row[k] else None
        row["train"], row["base_train"] = sorted(row["train"]), sorted(row["base_train"])
    return list(out.values())


# ------------------------------------------------------------------------------ headline


def checks(proposed: str, proposed_vs: list[dict], floors: list[dict],
           extremes: list[dict], drops_: list[dict] = (),
           robust: list[dict] = (), classes: list[dict] = ()) -> list[str]:
    """The report's claim checks as one sentence each, for the scoreboard: the proposed model
    against every other one (McNemar), claimed drops below it (ablations), classes it is
    claimed to recognise better, robustness to noise claimed against other cells, claimed
    accuracy floors (binomial), and which classes are recognised best and worst (those of the
    proposed model when it ran)."""
    out = []
    for row in proposed_vs:
        if row["other"].split("+")[0] == proposed:
            continue  # a variant of the proposed model: the report's Variants section
        n = len(row["seeds"])
        out.append(f"{proposed} more often right than {row['other']}: significant in "
                   f"{row['proposed_better']} of {n} seed(s), the other way in "
                   f"{row['other_better']} (McNemar, p < {row['alpha']:g})")
    for row in drops_:
        d = row["drop"]
        sd = f" ± {d['std']:.2f}" if d["std"] is not None else ""
        out.append(f"{row['cell']} {row['claimed'][0]:g}-{row['claimed'][1]:g} points below "
                   f"{row['reference']}: {row['verdict']} ({d['mean']:.2f}{sd} points over "
                   f"{len(row['seeds'])} seed(s); McNemar p < {row['alpha']:g} in "
                   f"{row['significant']} of {len(row['seeds'])})")
    for row in classes:
        n = len(row["seeds"])
        out.append(f"{row['reference']} recognises {row['class']} better than {row['other']}: "
                   f"higher recall in {row['higher']} of {n} seed(s), significantly (McNemar "
                   f"on the {row['class']} test images, p < {row['alpha']:g}) in "
                   f"{row['significant']} ({row['recall_proposed']['mean']:.1f} vs "
                   f"{row['recall_other']['mean']:.1f} %)")
    def sigmas(levels):
        return ", ".join(f"{s:g}" for s in levels)

    for row in robust:
        lost = "; ".join(f"σ {s:g}: {v['proposed']['mean']:.2f} vs {v['other']['mean']:.2f}"
                         for s, v in row["levels"].items())
        if not row["fails"]:
            where = "holds at every noise level"
        elif not row["holds"]:
            where = "does not hold at any noise level"
        else:
            where = f"does not hold (holds at σ {sigmas(row['holds'])}, not at σ " \
                    f"{sigmas(row['fails'])})"
        out.append(f"{row['reference']} loses less accuracy to added noise than {row['cell']}: "
                   f"{where} (points lost, mean over {len(row['seeds'])} seed(s): {lost})")
    for row in floors:
        significant = sum(t["p"] < 0.05 for t in row["tests"])
        out.append(f"{row['cell']} above {row['floor']:g} %: "
                   f"{'holds' if row['holds'] else 'does not hold'} "
                   f"({row['mean']['mean']:.2f} % mean; one-sided binomial p < 0.05 in "
                   f"{significant} of {len(row['tests'])} seed(s))")
    mine = [r for r in extremes if r["cell"].split("/")[-1] == proposed] or extremes
    for row in mine:
        for side, claimed, measured in (("highest", "claimed_highest", "top"),
                                        ("lowest", "claimed_lowest", "bottom")):
            if row[claimed]:
                out.append(f"{row['cell']}: {' and '.join(row[claimed])} {side} recall: "
                           f"{'holds' if row[f'{side}_holds'] else 'does not hold'} "
                           f"(measured: {', '.join(row[measured])})")
    return out


def headline(table1: list[dict], runs: list[SeedRun], proposed: str) -> dict | None:
    """The claim a reader looks for first: the proposed model's accuracy when the paper names
    one, else its best claimed cell; with a verdict. "reached": measured mean at or above the
    claim; "within noise": the claim is within two standard deviations over seeds above the
    mean; otherwise "not reached"."""
    main_cells = {r.cell: r for r in main_runs(runs)}
    candidates = [t for t in table1 if t["cell"] in main_cells
                  and t["metrics"]["accuracy"]["paper"] is not None]
    if not candidates:
        return None
    chosen = next((t for t in candidates if main_cells[t["cell"]].model == proposed), None) \
        or max(candidates, key=lambda t: t["metrics"]["accuracy"]["paper"])
    a = chosen["metrics"]["accuracy"]
    gap = a["mean"] - a["paper"]
    spread = 2 * (a["std"] or 0.0)
    verdict = ("reached" if gap >= 0 else "within noise" if -gap <= spread
               else f"not reached ({gap:+.1f} points)")
    return {"cell": chosen["cell"], "claimed": a["paper"], "measured": a["mean"],
            "std": a["std"], "seeds": list(chosen["seeds"]), "gap": gap, "verdict": verdict}
