"""Reading a run folder: everything a report needs, and nothing from the training code.

A run folder is `runs/<experiment>/` (or the copy a report keeps under `reports/<exp>/runs/`):
`experiment.json`, and per cell and seed `config.json`, `manifest.json`, `history.csv`,
`predictions.npz`, `examples.npz`, `metrics.json`. Metrics are recomputed from the saved
predictions with the same function the runner used (`fer_keras.core.metrics.compute_metrics`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .cellfiles import (
    ACTIVITY_FILE,
    CONFIG_FILE,
    EXAMPLES_FILE,
    EXPERIMENT_FILE,
    FINISHED_GLOB,
    FRESH_FILE,
    GRADCAM_FILE,
    HISTORY_FILE,
    MANIFEST_FILE,
    NEAR_COPIES_FILE,
    NOISE_GAIN_FILE,
    PLAN_KEY,
    PREDICTIONS_FILE,
    QUALITY_FILE,
    ROBUSTNESS_FILE,
    VALIDATION_FILE,
    verify,
)
from .errors import FerKerasError
from .metrics import compute_metrics


# What a report keeps of each run (no model files, no split indices).
def arm_name(model: str, variant: str) -> str:
    """A model with its variant when it has one: `<model>+<variant>`."""
    return model + (f"+{variant}" if variant else "")


@dataclass(frozen=True)
class SeedRun:
    folder: Path
    format: str
    model: str
    seed: int
    config: dict
    manifest: dict
    history: pd.DataFrame
    y: np.ndarray
    probs: np.ndarray
    indices: np.ndarray
    metrics: dict  # recomputed from predictions.npz
    examples: dict | None
    variant: str = ""  # a named variant of the experiment's config, or ""
    robustness: dict | None = None  # robustness.json: test metrics under added noise
    gradcam: dict | None = None  # gradcam.npz: heat maps of the example images
    quality: dict | None = None  # quality.json: sharpness and contrast of the split's parts
    usage: np.ndarray | None = None  # each test image's original FER-2013 part, when recorded
    activity: dict | None = None  # activity.json: dead ReLU units per layer (example images)
    probs_flipped: np.ndarray | None = None  # the test images mirrored (since 2026-12-07)
    validation: dict | None = None  # validation.npz: probs, probs_flipped, labels, indices

    @property
    def arm(self) -> str:
        """The model, with its variant when it has one: what a comparison compares."""
        return arm_name(self.model, self.variant)

    @property
    def cell(self) -> str:
        return f"{self.format}/{self.arm}"

    @property
    def validation_accuracy(self) -> float | None:
        """The validation accuracy of the epoch the run was scored at: what chose the model
        (None without a validation part or a recorded scored epoch). history.csv counts
        epochs from 0, the manifest's scored_epoch from 1."""
        scored = self.manifest.get("scored_epoch")
        if "val_accuracy" not in self.history or scored is None:
            return None
        row = self.history[self.history["epoch"] == scored - 1]
        return float(row["val_accuracy"].iloc[0]) if len(row) else None

    @property
    def largest_class(self) -> tuple[int, float]:
        """The test set's largest class and its share: the accuracy of always answering it,
        the floor below which a run has learned nothing usable."""
        counts = np.bincount(self.y)
        return int(counts.argmax()), float(counts.max() / self.y.size)


class RunFolderError(FerKerasError, ValueError):
    pass


def read_seed_run(folder: Path) -> SeedRun:
    config = json.loads((folder / CONFIG_FILE).read_text())
    pred = np.load(folder / PREDICTIONS_FILE)
    examples = None
    if (folder / EXAMPLES_FILE).exists():
        with np.load(folder / EXAMPLES_FILE) as z:
            examples = {k: z[k] for k in z.files}
    gradcam = None
    if (folder / GRADCAM_FILE).exists():
        with np.load(folder / GRADCAM_FILE) as z:
            gradcam = {"maps": z["maps"], "layer": str(z["layer"])}
    cell = config["cell"]
    return SeedRun(
        folder=folder, format=cell["format"], model=cell["model"], seed=int(cell["seed"]),
        config=config, manifest=json.loads((folder / MANIFEST_FILE).read_text()),
        history=pd.read_csv(folder / HISTORY_FILE),
        y=pred["labels"], probs=pred["probs"], indices=pred["indices"],
        metrics=compute_metrics(pred["labels"], pred["probs"]), examples=examples,
        variant=cell.get("variant", ""),
        gradcam=gradcam,
        robustness=_optional_json(folder / ROBUSTNESS_FILE),
        quality=_optional_json(folder / QUALITY_FILE),
        usage=pred["usage"] if "usage" in pred.files else None,
        activity=_optional_json(folder / ACTIVITY_FILE),
        probs_flipped=pred["probs_flipped"] if "probs_flipped" in pred.files else None,
        validation=_optional_npz(folder / VALIDATION_FILE),
    )


def _optional_npz(path: Path) -> dict | None:
    if not path.exists():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _optional_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def read_runs(runs_dir: Path) -> tuple[dict, list[SeedRun]]:
    """(experiment config, finished runs in factor order). Unfinished runs are left out, and
    so are damaged ones (cellfiles.verify), each named in one warning line on stderr."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunFolderError(f"{runs_dir}: no such run folder; expected the --out folder of "
                             "`fer-keras run` (e.g. runs/<paper>) or a report's runs/ copy")
    folders = []
    for done in sorted(runs_dir.glob(FINISHED_GLOB)):
        problems = verify(done.parent)
        if problems:
            print(f"warning: {done.parent}: damaged ({problems[0]}): left out of the report",
                  file=sys.stderr)
        else:
            folders.append(done.parent)
    if not folders:
        raise RunFolderError(f"{runs_dir}: no finished cells; expected "
                             "<format>-<model>/seed-<n>/done.json below it (run `fer-keras run` "
                             "first)")
    runs = [read_seed_run(f) for f in folders]
    exp_path = runs_dir / EXPERIMENT_FILE
    experiment = json.loads(exp_path.read_text()) if exp_path.exists() else {}
    if "formats" not in experiment:  # none, or only the plan (a run killed before describing
        experiment = {**runs[0].config, **experiment}  # its first finished cell)
    order = {(f, m): i for i, (f, m) in enumerate(
        (f, m) for f in experiment["formats"] for m in experiment["models"])}
    runs.sort(key=lambda r: (bool(r.variant), r.variant,
                             order.get((r.format, r.model), len(order)), r.seed))
    return experiment, runs


def main_runs(runs: list[SeedRun]) -> list[SeedRun]:
    """The runs of the main factorial (no variant): what the ANOVA and interaction plot use."""
    return [r for r in runs if not r.variant]


def cells_of(runs: list[SeedRun]) -> dict[str, list[SeedRun]]:
    out: dict[str, list[SeedRun]] = {}
    for r in runs:
        out.setdefault(r.cell, []).append(r)
    return out


NOISE_GAIN_KEYS = ("data", "images", "seed", "rows")
NOISE_GAIN_ROW_KEYS = ("stage", "sigma", "rms_added", "gain")


def read_near_copies(runs_dir: Path) -> dict | None:
    """The run folder's near-copies.json (`fer-keras data near-copies --json`: the test
    images with a near-copy among the training images), or None where it has none."""
    path = Path(runs_dir) / NEAR_COPIES_FILE
    if not path.exists():
        return None
    try:
        found = json.loads(path.read_text())
        keys = {"data_fingerprint", "threshold", "part", "of", "copies"}
        if not keys <= set(found) or not all("index" in c for c in found["copies"]):
            raise ValueError(f"expected the keys {', '.join(sorted(keys))}")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunFolderError(f"{path}: unreadable ({e}); expected the JSON that `fer-keras "
                             "data near-copies --json` writes") from None
    return found


def read_fresh(runs_dir: Path) -> dict | None:
    """The run folder's fresh-vs-committed.json (`fer-keras reproduce --fresh`: each cell
    trained anew beside its committed twin), or None where the folder has none."""
    path = Path(runs_dir) / FRESH_FILE
    if not path.exists():
        return None
    try:
        found = json.loads(path.read_text())
        if not {"committed", "cells", "summary"} <= set(found):
            raise ValueError("expected the keys cells, committed, summary")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunFolderError(f"{path}: unreadable ({e}); expected the JSON that `fer-keras "
                             "reproduce --fresh` writes") from None
    return found


def read_noise_gain(runs_dir: Path) -> dict | None:
    """The run folder's noise-gain.json (`fer-keras noise-gain --json`: how much the config's
    preprocessing enlarges added noise), or None where the folder has none."""
    path = Path(runs_dir) / NOISE_GAIN_FILE
    if not path.exists():
        return None
    try:
        found = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{path}: unreadable ({e}); expected the JSON that `fer-keras "
                             "noise-gain --json` writes") from None
    missing = [k for k in NOISE_GAIN_KEYS if not isinstance(found, dict) or k not in found]
    rows = found.get("rows") if not missing else None
    if not missing and (not isinstance(rows, list) or not all(
            isinstance(r, dict) and set(NOISE_GAIN_ROW_KEYS) <= set(r) for r in rows)):
        missing = [f"rows with {', '.join(NOISE_GAIN_ROW_KEYS)}"]
    if missing:
        raise RunFolderError(f"{path}: no {missing[0]!r}; expected the JSON that `fer-keras "
                             "noise-gain --json` writes")
    return found


def not_finished(experiment: dict, runs: list[SeedRun]) -> dict:
    """The runs planned for the folder (experiment.json's plan: every cell and seed asked of
    it, runfolder.record_plan) that are not among `runs`: not finished yet, or left out as
    damaged. `runs`: how many were planned (a folder run before plans were recorded: its
    finished ones); `cells`: the missing ones by cell, each with its seeds, in plan order."""
    have = {(r.format, r.model, r.variant, r.seed) for r in runs}
    missing: dict[str, list[int]] = {}
    for p in experiment.get(PLAN_KEY, []):
        key = (p["format"], p["model"], p.get("variant", ""), int(p["seed"]))
        if key not in have:
            missing.setdefault(f"{key[0]}/{arm_name(key[1], key[2])}", []).append(key[3])
    n = sum(map(len, missing.values()))
    return {"runs": len(runs) + n, "finished": len(runs),
            "cells": [{"cell": c, "seeds": seeds} for c, seeds in missing.items()]}
