"""Experiment runner: composes data, models and metrics into factorial runs.

One folder per cell and seed, `<out>/<format>-<model>/seed-<n>/`, holding:
    config.json       resolved experiment config, this cell's factors and its identity
    manifest.json     git commit, package versions, hardware, start/end, data fingerprint,
                      split sizes, SHA-256 of the saved model, notes from loading
    split.npz         train/val/test indices into the loaded data (auditable)
    history.csv       per-epoch training log (HistoryLog, as Keras' CSVLogger writes it)
    best.keras        the scored model: the best by validation loss (ModelCheckpoint), or the
                      last epoch's with select=last
    predictions.npz   test-set probabilities, labels, indices into the data, and each
                      test image's source and original FER-2013 part (usage)
    examples.npz      the first 64 test images with their labels and probabilities
    metrics.json      scikit-learn metrics on the test set (fer_keras.core.metrics)
    robustness.json   with noise_eval: test metrics with Gaussian noise added to the images
    model.keras       the scored model behind the one input contract, no optimizer state
                      (fer_keras.models.inference), and inference.json describing it
    gradcam.npz       Grad-CAM heat maps of the example images (fer_keras.models.explain)
    activity.json     dead ReLU units per layer on the example images (fer_keras.models.explain)
    test_curve.csv    with test_curve: the test accuracy after every epoch (an oracle)
    done.json         written last: the cell finished with this identity (runfolder.py)

Before the first epoch, `run_experiment` checks everything every cell needs: the config, every
data source, every split and every model, and whether each cell on disk may be reused or
resumed (runfolder.py). The test split is touched once, after training, by the best
checkpoint only: early stopping, checkpoint selection and the learning-rate schedule see the
validation split alone. (With test_curve, an oracle for studies, every epoch's test accuracy
is also written to test_curve.csv, which nothing reads while training.)
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf

from ..core.cellfiles import (
    LOCK_FILE,
)
from ..core.paths import output_folder
from ..core.tfprocess import pin_threads
from .cell import make_strategy, prepare, run_cell
from .config import ExperimentConfig
from .plan import CellPlan, Plan, RunOptions, derived_root, plan, plan_cell
from .runfolder import (
    Cell,
    RunConflictError,
    aggregate,
    cells,
    conflict_message,
    move_aside,
    record_plan,
    run_lock,
)
from .upkeep import reuse
from .workers import Task, run_tasks

# the runner's face: what a caller needs to plan and run an experiment, wherever it lives
__all__ = ["Cell", "CellPlan", "RunOptions", "cells", "plan", "plan_cell", "run_cell",
           "run_experiment"]


def configure_devices(opts: RunOptions) -> None:
    tf.get_logger().setLevel("ERROR")  # retracing notices: each cell builds new functions
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # devices already initialised
    if opts.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")


def run_experiment(cfg: ExperimentConfig, opts: RunOptions) -> Path | None:
    """Run (or resume) every cell of this shard; reuse cells finished with the same identity.
    Up to opts.jobs cells train at once, each in a worker process; with one job, in this
    process when its threads can be the cells' (always the same numbers: config key threads).
    With opts.dry_run, print the plan and return None."""
    pin_threads(cfg.threads)  # before TensorFlow's first op (the plan builds every model)
    configure_devices(opts)
    if opts.dry_run:
        if derived_root(opts).is_dir():  # a run's own converted data: read, not written
            print(plan(cfg, opts).render())
            return None
        with tempfile.TemporaryDirectory(prefix="fer-keras-dry-run-") as tmp:
            print(plan(cfg, dataclasses.replace(opts, derived=Path(tmp))).render())
        return None
    created = not Path(opts.out).exists()
    output_folder(opts.out, "the run")  # a read-only or blocked --out: before the data loads
    try:
        with run_lock(opts.out):
            return _run(cfg, opts, plan(cfg, opts))
    except BaseException:
        if created and {p.name for p in Path(opts.out).iterdir()} <= {LOCK_FILE}:
            shutil.rmtree(opts.out, ignore_errors=True)  # refused before writing anything
        raise


def _run(cfg: ExperimentConfig, opts: RunOptions, p: Plan) -> Path:
    """The planned cells, in this process or in workers, while holding the folder's lock."""
    strategy = make_strategy(opts.strategy)
    conflicts = [cp.state for cp in p.cells if cp.state.status == "conflict"]
    if conflicts and not opts.force:
        raise RunConflictError(conflict_message(conflicts, opts.out))
    for s in conflicts:
        print(f"--force: moved {s.folder} aside to {move_aside(s, opts.out)}", flush=True)
    for s in (cp.state for cp in p.cells if cp.state.status == "damaged"):  # never deleted
        print(f"{s.folder}: damaged ({s.differs[0]}): moved aside to "
              f"{move_aside(s, opts.out)}; training it again", flush=True)
    if any(cp.state.status in ("conflict", "damaged") for cp in p.cells):
        aggregate(opts.out, cfg)  # results.csv and experiment.json: the cells still here
    planned = [dataclasses.replace(cp, state=dataclasses.replace(cp.state, status="new"))
               if cp.state.status in ("conflict", "damaged") else cp for cp in p.cells]
    for cp in planned:
        if cp.state.status == "done":
            reuse(cp.folder, cp.data, cp.split, cp.label)
    todo = {cp.cell: cp for cp in planned if cp.state.status != "done"}
    # before the first epoch: a report made while these train names them as not finished
    record_plan(opts.out, [cp.cell for cp in planned])
    t0, trained = time.perf_counter(), []

    def finished(cell: Cell, m: dict) -> None:  # in this process, as each cell ends
        trained.append(cell)
        elapsed = time.perf_counter() - t0
        left = elapsed / len(trained) * (len(todo) - len(trained))
        print(f"{todo[cell].label} test accuracy {m['accuracy']:.4f}, macro F1 "
              f"{m['f1_macro']:.4f} ({elapsed / 60:.1f} min so far, about {left / 60:.0f} min "
              "left)", flush=True)
        aggregate(opts.out, cfg)

    jobs = min(opts.jobs, len(todo))
    if jobs <= 1 and all(pin_threads(cp.cfg.threads) for cp in todo.values()):
        for cell, cp in todo.items():
            finished(cell, run_cell(cp, opts, strategy))
    else:
        if opts.callbacks:
            raise ValueError("RunOptions.callbacks are made in this process: expected jobs=1")
        for cp in todo.values():  # preprocessing computed once here, before workers race
            prepare(cp.cfg, cp.data, opts)
        run_tasks([Task(cell, train_in_worker, (cp, opts)) for cell, cp in todo.items()],
                  jobs, finished)
    return aggregate(opts.out, cfg)


def train_in_worker(cp: CellPlan, opts: RunOptions) -> dict:
    """One cell in a worker process of its own (workers.run_tasks): its threads are pinned
    before TensorFlow's first op."""
    pin_threads(cp.cfg.threads)
    configure_devices(opts)
    return run_cell(cp, opts)
