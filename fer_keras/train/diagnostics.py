"""`fer-keras blur-check`: a diagnostic of finished cells, never part of a run. Each cell's
scored model on its own test images blurred by Gaussians of several sigmas: a model trained on
blurrier images than it is tested on scores higher as the blur grows (how the blurred copy of
FER-2013's training images showed itself)."""

from __future__ import annotations

from pathlib import Path

import keras

from ..core.provenance import write_csv
from ..data.errors import DataError
from ..data.preprocess import with_blur
from ..models.inference import inference_model, model_file
from .cell import score_perturbed
from .config import ExperimentConfig
from .plan import RunOptions, plan
from .runner import configure_devices

BLUR_CHECK_FILE = "blur_check.csv"


def blur_check(cfg: ExperimentConfig, opts: RunOptions, sigmas: tuple[float, ...]) -> Path:
    """Every finished cell's scored model (kept in its local run folder) on its own test
    images blurred by a Gaussian of each sigma (pixels; 0 = as loaded, which reproduces
    metrics.json). A model that scores higher on blurred test images than on the images as
    they are was trained on blurrier images than it is tested on. Writes <out>/blur_check.csv
    (one row per cell, seed and sigma); trains and changes nothing."""
    configure_devices(opts)
    p = plan(cfg, opts)
    rows = []
    for cp in p.cells:
        path = model_file(cp.folder)
        if cp.state.status != "done" or path is None:
            continue
        model = inference_model(keras.models.load_model(path, compile=False))
        for level in score_perturbed(model, cp.cfg, cp.data, cp.split, cp.cfg.batch_size,
                                     with_blur, sigmas):
            rows.append({"cell": cp.cell.name, "seed": cp.cell.seed, **level})
            print(f"{cp.cell.name} seed {cp.cell.seed}: blur sigma {level['sigma']:g} px, "
                  f"test accuracy {level['accuracy']:.4f}", flush=True)
    if not rows:
        raise DataError(f"{opts.out}: no finished cell with its model (model.keras or "
                        "best.keras) for this config; expected a local run folder")
    return write_csv(Path(opts.out) / BLUR_CHECK_FILE, rows)
