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
    for cell, cruns in cells_of(runs).items():
        cost = costs.get(cruns[0].model, {})
        rows.append({
            "cell": cell, "model": cruns[0].model, "seeds": [r.seed for r in cruns],
            "accuracy": value_interval(cruns, "accuracy"),
            "clean": clean.get(cell),
            "f1": mean_std([r.metrics["f1_macro"] * 100 for r in cruns]),
            "params": cost.get("params"), "forward_flops": cost.get("forward_flops"),
            "seconds_per_epoch": per_epoch.get(cell),
            "one_face_ms": _median([r.manifest.get("one_face_ms") for r in cruns]),
            "validation": _percent([r.validation_accuracy for r in cruns])})
    rows.sort(key=lambda r: -r["accuracy"]["mean"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    judged = [r for r in rows if r["validation"] is not None]
    chosen = max(judged, key=lambda r: r["validation"]["mean"], default=None)
    for row in rows:
        row["chosen"] = row is chosen
    return rows


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
