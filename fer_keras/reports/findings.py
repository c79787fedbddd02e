"""What a report shows about a run folder beyond the claims' verdicts: each cell's claimed
numbers, the training protocol as the cells ran it, preprocessing, robustness, the noise gain,
rankings, per-class recall, accuracy by FER-2013 part and without near-copies, cells no better
than the majority class, dead layers, the literature, the variants' effects. Read from the run
folder alone; the verdicts themselves are the claims judge's (fer_keras.claims.judge).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from ..claims.judge import mean_std
from ..core.damaged import DAMAGED_DATA
from ..core.labels import CLASS_NAMES
from ..core.protocol import NOT_TRAINING, flatten
from ..core.rundata import SeedRun, cells_of, main_runs


def claim_of(claimed: dict, run: SeedRun) -> dict:
    """The paper's numbers for a cell ({metric: value}, ledger.values_of): its own claims,
    those of a claim's other reading naming it (e.g. a model's no-dropout reading beside the
    model's number); none for any other cell (an ablation the paper only describes in words
    claims no number)."""
    return claimed.get(run.cell, {})


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


# ------------------------------------------------------------------------------ classes


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


def without_near_copies(runs: list[SeedRun], near: dict | None) -> dict | None:
    """Per cell, test accuracy (%) on all its test images and on those without a near-copy
    among the training images (near-copies.json, `fer-keras data near-copies`), for runs
    trained on the data the list was computed from (the same fingerprint); None without a
    list or such runs."""
    if not near:
        return None
    copies = np.array(sorted(c["index"] for c in near["copies"]), dtype=np.int64)
    rows = []
    for cell, cruns in cells_of(runs).items():
        mine = [r for r in cruns if r.manifest.get("data", {}).get("fingerprint")
                == near["data_fingerprint"]]
        if not mine:
            continue
        full, clean, kept = [], [], set()
        for r in mine:
            right = r.probs.argmax(1) == r.y
            keep = ~np.isin(r.indices, copies)
            full.append(right.mean() * 100)
            clean.append(right[keep].mean() * 100)
            kept.add((int(keep.sum()), int(keep.size)))
        rows.append({"cell": cell, "seeds": [r.seed for r in mine], "all": mean_std(full),
                     "clean": mean_std(clean), "images": sorted(kept)})
    if not rows:
        return None
    return {"threshold": near["threshold"], "part": near["part"], "of": near["of"],
            "near": len(copies), "rows": rows}


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
