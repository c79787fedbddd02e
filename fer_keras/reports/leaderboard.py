"""A leaderboard: the cells of one protocol ranked by test accuracy, beside what each costs.

Read from the run folder alone: accuracy with the claims ledger's 95 % interval (one run of
the method: seed spread and test-set sampling, claims.value_interval), the same accuracy on the
test images without a near-copy in training (near-copies.json), macro F1, the validation
accuracy of the scored epoch (the part that selected it: on the official split, PublicTest)
with the cell it chooses (the best mean validation accuracy: a model is taken by what selected
it, never by its test score), and the costs the
run folder records: parameters and forward FLOPs per image (experiment.json `model_costs`,
written when the config sets model_costs), seconds an epoch and milliseconds of one face
through the saved model (the manifests: `one_face_ms`, recorded since 2026-12-07; a cell
finished before has none).

What inference-time choices would add, measured from the recorded views (validation.npz and
the mirrored test images, recorded since 2026-12-07): flip averaging per cell, and averages of
the top cells by validation accuracy (`ensembles`); each is judged on validation, its test
score shown beside.
"""

from __future__ import annotations

import numpy as np

from ..claims.judge import mean_std, value_interval
from ..core.rundata import SeedRun, cells_of


def _median(values: list) -> float | None:
    found = sorted(v for v in values if v is not None)
    return float(np.median(found)) if found else None


def leaderboard(experiment: dict, runs: list[SeedRun], near: dict | None,
                training_time: list[dict]) -> list[dict] | None:
    """One row per cell, best accuracy first; None when the run folder records no costs.
    `near`: findings.without_near_copies; `training_time`: build.training_time."""
    costs = experiment.get("model_costs")
    if not costs:
        return None
    clean = {row["cell"]: row["clean"] for row in (near or {}).get("rows", [])}
    per_epoch = {row["cell"]: row["seconds_per_epoch"] for row in training_time}
    rows = []
    for row, cruns in zip(cell_rows(runs), cells_of(runs).values()):
        cell = row["cell"]
        cost = costs.get(cruns[0].model, {})
        rows.append({
            **row, "model": cruns[0].model, "seeds": [r.seed for r in cruns],
            "accuracy": value_interval(cruns, "accuracy"),
            "clean": clean.get(cell),
            "f1": mean_std([r.metrics["f1_macro"] * 100 for r in cruns]),
            "params": cost.get("params"), "forward_flops": cost.get("forward_flops"),
            "seconds_per_epoch": per_epoch.get(cell),
            "flip": flip_gain(cruns)})
    rows.sort(key=lambda r: -r["accuracy"]["mean"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    chosen = chosen_cell(runs)
    for row in rows:
        row["chosen"] = row["cell"] == chosen
    return rows


def cell_rows(runs: list[SeedRun]) -> list[dict]:
    """What choosing among the cells needs, one row per cell in cells_of order: `cell`, its
    mean validation accuracy (`validation`, % mean ± sd; None unless every seed records one)
    and `one_face_ms` (the median over its seeds that measured it)."""
    return [{"cell": cell,
             "validation": _percent([r.validation_accuracy for r in cruns]),
             "one_face_ms": _median([r.manifest.get("one_face_ms") for r in cruns])}
            for cell, cruns in cells_of(runs).items()]


def chosen_cell(runs: list[SeedRun]) -> str | None:
    """The cell a protocol's choice falls on (the ★ of the leaderboard, what `fer-keras
    publish --chosen` publishes): the best mean validation accuracy over its seeds, the part
    that selected each seed's epoch; a model is taken by what selected it, never by its test
    score. A tie goes to the cell named first. None when no cell records a validation part in
    every seed."""
    means = {cell: v["mean"] for cell, cruns in cells_of(runs).items()
             if (v := _percent([r.validation_accuracy for r in cruns])) is not None}
    return max(sorted(means), key=means.get, default=None)


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probs.argmax(1) == labels) * 100)


def _views(r: SeedRun) -> dict | None:
    """A run's recorded views: {part: (probs, mirrored probs, labels, indices)} of its
    validation and test images; None for a run finished before they were recorded."""
    v = r.validation
    if r.probs_flipped is None or v is None or "probs_flipped" not in v:
        return None
    return {"validation": (v["probs"], v["probs_flipped"], v["labels"], v["indices"]),
            "test": (r.probs, r.probs_flipped, r.y, r.indices)}


def flip_gain(cruns: list[SeedRun]) -> dict | None:
    """Points of accuracy that flip averaging (the mean of a face's and its mirror image's
    probabilities) adds on validation and on test, mean ± sd over the seeds that recorded both
    views (`seeds`: a cell's first seed may have finished before they were recorded, its
    later ones after); None when none did."""
    viewed = [(r.seed, v) for r in cruns if (v := _views(r)) is not None]
    if not viewed:
        return None
    return {"seeds": [seed for seed, _ in viewed],
            **{part: mean_std([_accuracy((p + m) / 2, y) - _accuracy(p, y)
                               for p, m, y, _ in (v[part] for _, v in viewed)])
               for part in ("validation", "test")}}


def ensembles(rows: list[dict], runs: list[SeedRun], top: int = 5) -> list[dict]:
    """Averages of the k best cells by validation accuracy (k = 2..top): for each seed every
    one of them ran with both views recorded, the mean of their probabilities, as they are and
    flip-averaged; accuracy on validation (what decides whether an average is worth its
    cost) and on test, mean ± sd over those seeds (`by_seed`: each seed's), and each seed's
    validation loss (the mean cross-entropy of the averaged probabilities); beside it
    `alone`, the best of them by itself on the same seeds and images (an average is worth
    taking only where it beats that on validation: `beats_alone`); its cost, ms of one face
    (_cost). The cells of `rows` (the leaderboard's, or cell_rows)."""
    cells = cells_of(runs)
    # best first, a tie to the cell named first: the order chosen_cell picks in
    ranked = sorted((r for r in rows if r["validation"] is not None),
                    key=lambda r: (-r["validation"]["mean"], r["cell"]))
    out = []
    for k in range(2, min(top, len(ranked)) + 1):
        names = [r["cell"] for r in ranked[:k]]
        by_seed = [{r.seed: v for r in cells[n] if (v := _views(r)) is not None}
                   for n in names]
        seeds = [seed for seed in sorted(set.intersection(*(set(s) for s in by_seed)))
                 if all(np.array_equal(s[seed][part][3], by_seed[0][seed][part][3])
                        for s in by_seed for part in ("validation", "test"))]  # same images
        if not seeds:
            continue
        found = {"cells": names, "seeds": seeds, "one_face_ms": _cost(ranked[:k])}
        found["alone"], found["by_seed"] = {}, {}
        for part in ("validation", "test"):
            plain, flipped, alone, loss = [], [], [], []
            for seed in seeds:
                views = [s[seed][part] for s in by_seed]
                p = np.mean([v[0] for v in views], axis=0)
                m = np.mean([v[1] for v in views], axis=0)
                plain.append(_accuracy(p, views[0][2]))
                flipped.append(_accuracy((p + m) / 2, views[0][2]))
                alone.append(_accuracy(views[0][0], views[0][2]))
                loss.append(round(_log_loss(p, views[0][2]), 6))
            if part == "validation":  # to choose a seed to publish, as a cell's: lowest loss
                found["validation_loss"] = loss  # per seed, in the order of `seeds`
            found[part] = mean_std(plain)
            found["by_seed"][part] = [round(v, 4) for v in plain]  # in the order of `seeds`
            found[f"{part}_flip"] = mean_std(flipped)
            found["alone"][part] = mean_std(alone)
        found["beats_alone"] = found["validation"]["mean"] > found["alone"]["validation"]["mean"]
        out.append(found)
    return out


def chosen_average(found: list[dict]) -> dict | None:
    """The average of `found` (ensembles) that the protocol's choice falls on instead of its
    ★ cell: of those that beat their first cell alone on validation, the best there (a tie to
    the one of fewer cells, the cheaper); None when none beats it, and the ★ cell stands."""
    better = [e for e in found if e["beats_alone"]]
    return max(better, key=lambda e: (e["validation"]["mean"], -len(e["cells"])), default=None)


def marked_ensembles(rows: list[dict], runs: list[SeedRun]) -> list[dict]:
    """ensembles, each with `chosen`: whether it is chosen_average, the one a protocol's
    choice (`publish --chosen`) takes instead of its ★ cell."""
    found = ensembles(rows, runs)
    pick = chosen_average(found)
    return [{**e, "chosen": e is pick} for e in found]


def _log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of the true classes (what Keras' val_loss measures)."""
    picked = probs[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def _cost(rows: list[dict]) -> float | None:
    """Milliseconds of one face through an average of these cells: each face goes through every
    model in turn, so the sum of their measured one_face_ms; None unless each was measured."""
    found = [r.get("one_face_ms") for r in rows]
    return None if any(v is None for v in found) else float(sum(found))


def _percent(values: list) -> dict | None:
    """mean ± sd (%) of fractions; None when a seed has none (no validation part)."""
    if not values or any(v is None for v in values):
        return None
    return mean_std([v * 100 for v in values])


def verdict_line(row: dict | None, cells: str = "") -> str:
    """A ledger row's verdict, then in brackets the cells it was judged on where they differ
    (`cells`) and its other readings' verdicts where they differ; "–" for no row."""
    if row is None:
        return "–"
    notes = ([f"as {cells}"] if cells else []) + [
        f"{o['label']}: {o['verdict']}" for o in row["readings"]
        if o["verdict"] != row["verdict"]]
    return row["verdict"] + (f" ({'; '.join(notes)})" if notes else "")


def rejudged(ledger: list[dict], own: dict[str, list[dict]]) -> list[dict]:
    """The claims of a ledger that judge another experiment's claim again (their `origin`,
    "<experiment>: <short label>"), each beside that claim's verdict in its own experiment's
    ledger (`own`: {experiment: ledger rows}; "–" where that report is not committed), with
    that claim's own label where its cells differ (e.g. another format's)."""
    out = []
    for row in ledger:
        if not row.get("origin"):
            continue
        paper, short = row["origin"].split(": ", 1)
        mine = next((r for r in own.get(paper, []) if r["short"] == short), None)
        out.append({"paper": paper, "short": row["short"], "where": row["where"],
                    "own": verdict_line(mine, short if short != row["short"] else ""),
                    "here": verdict_line(row), "reproduced": row["reproduced"]})
    return out
