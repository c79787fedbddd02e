"""Experiment runner: composes data, models and metrics into factorial runs.

One folder per cell and seed, `<out>/<format>-<model>/seed-<n>/`, holding:
    config.json       resolved experiment config, plus this cell's factors
    manifest.json     git commit, package versions, hardware, start/end, data fingerprint,
                      split sizes, SHA-256 of the saved model, notes from loading
    split.npz         train/val/test indices into the loaded data (auditable)
    history.csv       per-epoch training log (CSVLogger)
    best.keras        the best model by validation loss (ModelCheckpoint)
    predictions.npz   test-set probabilities, labels and indices into the data
    examples.npz      the first 64 test images with their labels and probabilities
    metrics.json      scikit-learn metrics on the test set (fer_keras.metrics)
    done.json         written last: the cell finished with this config (training hash)

The test split is touched once, after training, by the best checkpoint only: early stopping,
checkpoint selection and the learning-rate schedule see the validation split alone.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from . import data as fer_data
from .callbacks import Progress, ResumableEarlyStopping, ResumableReduceLROnPlateau, plateau_state
from .config import ExperimentConfig
from .data import FerData, convert
from .data.directory import split_folders
from .data.errors import DataError
from .data.pipeline import InputSpec, make_dataset
from .data.splits import OFFICIAL, OFFICIAL_COUNTS, split_indices
from .data.synthetic import is_synthetic
from .data.weights import class_weights
from .metrics import RESULT_COLUMNS, RESULT_METRICS, compute_metrics
from .models import create_model, expects_raw_pixels

PACKAGES = ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "opencv-python-headless",
            "scipy", "statsmodels", "matplotlib")
FULL_FER2013 = 35_887
EXAMPLES = 64  # test images kept with their predictions for the report's qualitative figure


@dataclass(frozen=True)
class RunOptions:
    data: Path  # a directory export (root with train/ and test/, or one split) or a CSV
    out: Path  # the experiment's run folder, e.g. runs/ozer
    csv: Path | None = None  # the CSV format; built from `data` by the converter when absent
    strategy: str = "default"  # "default", "mirrored" (several GPUs), "multiworker"
    mixed_precision: bool = False
    shard: tuple[int, int] = (0, 1)  # (i, n): run every n-th cell starting at i
    tensorboard: bool = False


@dataclass(frozen=True)
class Cell:
    format: str
    model: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.format}-{self.model}"

    def folder(self, out: Path) -> Path:
        return out / self.name / f"seed-{self.seed}"


def cells(cfg: ExperimentConfig, shard: tuple[int, int] = (0, 1)) -> list[Cell]:
    """All cells in a fixed order (format, model, seed); a shard takes every n-th from i."""
    everything = [Cell(f, m, s) for f in cfg.formats for m in cfg.models for s in cfg.seeds]
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: expected 0 <= i < n")
    return everything[i::n]


# ---------------------------------------------------------------------------------- data


def _derived_dir(out: Path) -> Path:
    return out / "_data"


def resolve_format(cfg: ExperimentConfig, opts: RunOptions, fmt: str) -> FerData:
    """Load the data of one format, converting from the other format where needed."""
    src = Path(opts.data)
    if not src.exists():
        raise DataError(f"{src}: no such file or folder")
    official = cfg.split == OFFICIAL
    if fmt == "directory":
        root = src
        if src.is_file():  # a CSV was given: write the image export from it once
            root = _derived_dir(opts.out) / "images"
            if not (root / ".complete").exists():
                shutil.rmtree(root, ignore_errors=True)
                print(f"building the directory format from {src} in {root} ...", flush=True)
                convert.write_directory(fer_data.load_csv(src), root)
                (root / ".complete").touch()
        subset = None if official or not split_folders(root) or cfg.directory_subset == "all" \
            else cfg.directory_subset
        return fer_data.load_directory(root, subset=subset)
    if fmt == "csv":
        path = opts.csv or (src if src.is_file() else None)
        if path is None:  # an image export was given: build the challenge CSV from all of it
            path = _derived_dir(opts.out) / "fer2013.csv"
            if not path.exists():
                print(f"building the CSV format from {src} in {path} ...", flush=True)
                tmp = path.with_suffix(".tmp")
                convert.dir_to_csv(src, tmp)
                os.replace(tmp, path)
        loaded = fer_data.load_csv(path)
        if cfg.csv_subset != "all" and not official:
            loaded = loaded.where_usage(cfg.csv_subset)
        return loaded
    raise ValueError(f"unknown data format {fmt!r}; known: directory, csv")


# ---------------------------------------------------------------------------- provenance


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (commit or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The commit of the code this process runs: read once, when the runner is imported, not when a
# cell finishes (files may change on disk while a long experiment runs). "-dirty" marks
# uncommitted changes to tracked files at that moment.
CODE_COMMIT = _git_commit()


def environment() -> dict:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "git_commit": CODE_COMMIT,
        "python": platform.python_version(),
        "packages": versions,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus],
        "platform": platform.platform(),
    }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ training


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":  # reads the cluster from TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; known: default, mirrored, multiworker")


def _read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _backup_epoch(backup: Path) -> int:
    """The epoch a resumed run continues from; 0 to start afresh.

    BackupAndRestore(double_checkpoint=True) keeps the previous backup beside the latest one. A
    run killed while writing the latest leaves it damaged; then the previous one is made the
    latest again here, before Keras loads it, so weights, epoch and the kept history agree.
    """
    latest = (backup / "latest.weights.h5", backup / "training_metadata.json")
    previous = tuple(p.with_name(p.name + ".bkp") for p in latest)
    for weights, meta in (latest, previous):
        try:
            with h5py.File(weights, "r"):
                pass
            epoch = int(json.loads(meta.read_text())["epoch"])
        except (OSError, ValueError, KeyError):
            continue
        if weights != latest[0]:
            for src, dst in zip(previous, latest):
                shutil.copyfile(src, dst)
        return epoch
    shutil.rmtree(backup, ignore_errors=True)
    return 0


def _prepare_folder(folder: Path, cfg_json: dict) -> bool:
    """Make the folder ready; True when an unfinished run of the same config can resume."""
    config_path = folder / "config.json"
    if config_path.exists() and json.loads(config_path.read_text()) == cfg_json:
        return True
    shutil.rmtree(folder, ignore_errors=True)  # another config's leftovers: start afresh
    folder.mkdir(parents=True)
    _write_json(config_path, cfg_json)
    return False


def is_done(folder: Path, cfg: ExperimentConfig) -> bool:
    done = folder / "done.json"
    if not done.exists():
        return False
    return json.loads(done.read_text()).get("training_hash") == cfg.training_hash()


def run_cell(cfg: ExperimentConfig, cell: Cell, data: FerData, opts: RunOptions,
             label: str = "", test_labels: np.ndarray | None = None,
             strategy: tf.distribute.Strategy | None = None) -> dict:
    """Train and evaluate one cell; returns its metrics. `test_labels` replaces the test
    labels at scoring time only (used by the test proving the test split is not seen).
    `strategy`: made once per process by run_experiment (a multi-worker strategy must exist
    before other TensorFlow work); made from opts when a cell is run on its own."""
    folder = cell.folder(opts.out)
    cfg_json = {**cfg.to_json(), "cell": dataclasses.asdict(cell),
                "training_hash": cfg.training_hash()}
    resuming = _prepare_folder(folder, cfg_json)
    started = _now()

    split = split_indices(data.labels, cfg.split, cell.seed, data.usage)
    if cfg.split == OFFICIAL and len(data) == FULL_FER2013 and split.sizes() != OFFICIAL_COUNTS:
        raise DataError(f"official split sizes {split.sizes()} differ from FER-2013's "
                        f"{OFFICIAL_COUNTS}")
    if split.val.size == 0:
        raise DataError(f"split {cfg.split!r} has no validation part; the runner needs one for "
                        "early stopping and checkpoint selection (it never selects on test)")
    np.savez(folder / "split.npz", **split.as_arrays())

    keras.utils.set_random_seed(cell.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = strategy or make_strategy(opts.strategy)
    with strategy.scope():
        model = create_model(cell.model)
        if cfg.optimizer != "adam":
            raise ValueError(f"optimizer {cfg.optimizer!r} is not supported yet (adam)")
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss="categorical_crossentropy", metrics=["accuracy"])
    spec = InputSpec(channels=int(model.input_shape[-1]), raw_pixels=expects_raw_pixels(model))
    batch = cfg.batch_size * strategy.num_replicas_in_sync

    def dataset(idx, training, labels=None):
        return make_dataset(data.images[idx], data.labels[idx] if labels is None else labels,
                            spec, batch_size=batch, training=training, seed=cell.seed,
                            augment=cfg.augment)

    history_path, backup = folder / "history.csv", folder / "backup"
    past = _read_history(history_path)[: _backup_epoch(backup)] if resuming else []
    if not resuming:
        shutil.rmtree(backup, ignore_errors=True)
    if resuming:  # keep exactly the epochs the backup holds
        _rewrite_history(history_path, past)
    val_losses = [row["val_loss"] for row in past]
    callbacks = [
        ResumableEarlyStopping(val_losses, monitor="val_loss",
                               patience=cfg.early_stopping_patience,
                               restore_best_weights=cfg.restore_best_weights),
        ResumableReduceLROnPlateau(val_losses, past[-1].get("learning_rate") if past else None,
                                   monitor="val_loss", patience=cfg.reduce_lr_patience,
                                   factor=cfg.reduce_lr_factor, min_lr=cfg.min_lr),
        keras.callbacks.ModelCheckpoint(
            folder / "best.keras", monitor="val_loss", save_best_only=True,
            initial_value_threshold=plateau_state(val_losses)[0] if val_losses else None),
        keras.callbacks.CSVLogger(history_path, append=resuming and bool(past)),
        keras.callbacks.BackupAndRestore(backup, double_checkpoint=True),
        Progress(label or cell.name, cfg.max_epochs),
    ]
    if opts.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(folder / "tensorboard"))
    weights = class_weights(data.labels[split.train]) if cfg.class_weights else None
    t0 = time.perf_counter()
    model.fit(dataset(split.train, True), validation_data=dataset(split.val, False),
              epochs=cfg.max_epochs, callbacks=callbacks, class_weight=weights, verbose=0,
              shuffle=False)  # tf.data shuffles, seeded
    train_seconds = time.perf_counter() - t0

    # The only use of the test split: the best checkpoint scores it once.
    best = keras.models.load_model(folder / "best.keras")
    y_test = data.labels[split.test] if test_labels is None else test_labels
    probs = best.predict(dataset(split.test, False, y_test), verbose=0)
    metrics = compute_metrics(y_test, probs)
    np.savez_compressed(folder / "predictions.npz", probs=probs.astype(np.float32),
                        labels=y_test.astype(np.int64), indices=split.test,
                        sources=data.sources[split.test])
    # A few test images with their predictions, so a report can show examples from the run
    # folder alone (the first EXAMPLES test images: deterministic, not chosen by outcome).
    np.savez_compressed(folder / "examples.npz", images=data.images[split.test[:EXAMPLES]],
                        labels=y_test[:EXAMPLES].astype(np.int64),
                        probs=probs[:EXAMPLES].astype(np.float32))
    _write_json(folder / "metrics.json", metrics)
    history = _read_history(history_path)
    _write_json(folder / "manifest.json", {
        **environment(),
        "started": started,
        "finished": _now(),
        "resumed": resuming and bool(past),
        "train_seconds_this_session": round(train_seconds, 1),
        "epochs": len(history),
        "best_epoch": int(np.argmin([h["val_loss"] for h in history])) + 1 if history else None,
        "data": {"path": str(opts.data), "csv": str(opts.csv) if opts.csv else None,
                 "format": cell.format, "n": len(data), "fingerprint": data.fingerprint,
                 "notes": list(data.notes),
                 "synthetic": is_synthetic(opts.data) or bool(opts.csv and is_synthetic(opts.csv))},
        "split": {"scheme": cfg.split, "seed": cell.seed, **split.sizes(), "file": "split.npz"},
        "input": {"channels": spec.channels, "raw_pixels": spec.raw_pixels,
                  "model_input_shape": list(model.input_shape[1:])},
        "strategy": opts.strategy, "replicas": strategy.num_replicas_in_sync,
        "mixed_precision": opts.mixed_precision,
        "model_sha256": sha256_file(folder / "best.keras"),
    })
    _write_json(folder / "done.json", {"training_hash": cfg.training_hash(), "finished": _now()})
    return metrics


def _rewrite_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({k: (int(v) if k == "epoch" else v) for k, v in row.items()})


# ------------------------------------------------------------------------------ experiment


def aggregate(out: Path) -> Path:
    """Write `<out>/results.csv`: one row per finished cell and seed (from the run folders)."""
    rows = []
    for done in sorted(out.glob("*/seed-*/done.json")):
        folder = done.parent
        cell = json.loads((folder / "config.json").read_text())["cell"]
        m = json.loads((folder / "metrics.json").read_text())
        man = json.loads((folder / "manifest.json").read_text())
        rows.append({"format": cell["format"], "model": cell["model"], "seed": cell["seed"],
                     "n_test": m["n"], **{k: m[k] for k in RESULT_METRICS},
                     "epochs": man["epochs"], "best_epoch": man["best_epoch"]})
    path = out / "results.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def configure_devices(opts: RunOptions) -> None:
    tf.get_logger().setLevel("ERROR")  # retracing notices: each cell builds new functions
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # devices already initialised
    if opts.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")


def run_experiment(cfg: ExperimentConfig, opts: RunOptions) -> Path:
    """Run (or resume) every cell of this shard; skip cells already done with this config."""
    configure_devices(opts)
    strategy = make_strategy(opts.strategy)
    opts.out.mkdir(parents=True, exist_ok=True)
    _write_json(opts.out / "experiment.json", {**cfg.to_json(), "data": str(opts.data)})
    todo = cells(cfg, opts.shard)
    loaded: dict[str, FerData] = {}
    t0 = time.perf_counter()
    trained = 0
    for i, cell in enumerate(todo, 1):
        label = f"[cell {i}/{len(todo)} {cell.name} seed {cell.seed}]"
        if is_done(cell.folder(opts.out), cfg):
            print(f"{label} already done with this config; skipped", flush=True)
            continue
        if cell.format not in loaded:
            loaded[cell.format] = resolve_format(cfg, opts, cell.format)
        m = run_cell(cfg, cell, loaded[cell.format], opts, label, strategy=strategy)
        trained += 1
        elapsed = time.perf_counter() - t0
        left = elapsed / trained * (len(todo) - i)
        print(f"{label} test accuracy {m['accuracy']:.4f}, macro F1 {m['f1_macro']:.4f} "
              f"({elapsed / 60:.1f} min so far, about {left / 60:.0f} min left)", flush=True)
        aggregate(opts.out)
    return aggregate(opts.out)

