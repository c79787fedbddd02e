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
    metrics.json      scikit-learn metrics on the test set (fer_keras.metrics)
    robustness.json   with noise_eval: test metrics with Gaussian noise added to the images
    model.keras       the scored model behind the one input contract, no optimizer state
                      (fer_keras.models.inference), and inference.json describing it
    gradcam.npz       Grad-CAM heat maps of the example images (fer_keras.explain)
    activity.json     dead ReLU units per layer on the example images (fer_keras.explain)
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
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from .callbacks import (
    AtomicModelCheckpoint,
    EpochSeeds,
    EpochTimes,
    HistoryLog,
    Progress,
    ResumableEarlyStopping,
    ResumableReduceLROnPlateau,
    StopWhenSignalled,
    TestCurve,
    plateau_state,
)
from .cellfiles import (
    BACKUP_DIR,
    CHECKPOINT_FILE,
    EPOCH_TIMES_FILE,
    EXAMPLES_FILE,
    HISTORY_FILE,
    INFERENCE_FILE,
    LOCK_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    ROBUSTNESS_FILE,
    SPLIT_FILE,
    TENSORBOARD_DIR,
    TEST_CURVE_FILE,
    TRAINED_FILE,
)
from .config import ExperimentConfig
from .data import FerData, sources
from .data.audit import data_shift, source_shifts
from .data.errors import DataError
from .data.pipeline import EpochClock, InputSpec, make_dataset
from .data.preprocess import LandmarkEyes, Preprocessed, preprocess, with_noise
from .data.splits import (
    FOLDERS,
    OFFICIAL,
    OFFICIAL_COUNTS,
    Split,
    split_indices,
    subsample,
    with_validation,
)
from .data.synthetic import is_synthetic
from .data.weights import class_weights, oversampled
from .explain import write_activity, write_gradcam
from .labels import CLASS_NAMES
from .metrics import compute_metrics
from .models import create_model, expects_raw_pixels
from .models.inference import CONTRACT, as_input, inference_model
from .models.summary import signatures
from .paths import output_folder
from .provenance import (
    atomic_path,
    environment,
    now,
    remove_temporaries,
    sha256_file,
    write_json,
    write_npz,
)
from .runfolder import (
    Cell,
    CellState,
    Identity,
    RunConflictError,
    aggregate,
    cells,
    conflict_message,
    finish,
    inspect,
    move_aside,
    read_history,
    record_plan,
    rewrite_history,
    run_lock,
    start_folder,
)
from .tfprocess import pin_threads, threads_in_effect
from .upkeep import record_quality, reuse
from .workers import Task, run_tasks, stops_between_batches

__all__ = ["Cell", "CellPlan", "RunOptions", "cells", "plan", "plan_cell", "run_cell",
           "run_experiment"]

FULL_FER2013 = 35_887
EXAMPLES = 64  # test images kept with their predictions for the report's qualitative figure
OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}


@dataclass(frozen=True)
class RunOptions:
    data: Path  # a directory export (root with train/ and test/, or one split) or a CSV
    out: Path  # the experiment's run folder, e.g. runs/<paper>
    csv: Path | None = None  # the CSV format; built from `data` by the converter when absent
    strategy: str = "default"  # "default", "mirrored" (several GPUs), "multiworker"
    mixed_precision: bool = False
    shard: tuple[int, int] = (0, 1)  # (i, n): run every n-th cell starting at i
    tensorboard: bool = False
    force: bool = False  # move conflicting cells aside (never delete) and train them again
    dry_run: bool = False  # check and print the plan; train nothing
    # where converted and preprocessed data go (default: <out>/_data); a dry run that has no
    # such folder yet uses a temporary one, so it writes nothing
    derived: Path | None = None
    jobs: int = 1  # cells trained at once, each in a worker process (1: in this process
    # when its TensorFlow threads are those the cells ask for, else in one worker)
    # Train although the training images differ from the test images in sharpness
    # (check_data_shift); every cell's manifest then records the difference.
    allow_data_shift: bool = False
    # More callbacks for every cell, each made fresh per cell by a call without arguments
    # (e.g. a search's pruning report); they come last, after the backup is written.
    callbacks: tuple = ()


# ---------------------------------------------------------------------------------- data


def derived_root(opts: RunOptions) -> Path:
    """The run folder's cache of converted and preprocessed data (data.sources)."""
    return Path(opts.derived) if opts.derived is not None else Path(opts.out) / "_data"


def csv_source(opts: RunOptions) -> Path:
    return sources.csv_source(opts.data, opts.csv, derived_root(opts))


def resolve_format(cfg: ExperimentConfig, opts: RunOptions, fmt: str) -> FerData:
    """Load the data of one format, converting from the other format where needed; a split
    by the challenge's own parts (official, folders) needs every part."""
    return sources.load_format(fmt, opts.data, opts.csv, derived_root(opts),
                               whole=cfg.split in (OFFICIAL, FOLDERS),
                               directory_subset=cfg.directory_subset, csv_subset=cfg.csv_subset)


def split_of(cfg: ExperimentConfig, data: FerData, seed: int, where: str = "") -> Split:
    """The split of one cell; a split that cannot serve the runner is refused, naming the data."""
    try:
        split = with_validation(split_indices(data.labels, cfg.split, seed, data.usage),
                                data.labels, cfg.validation, cfg.validation_fraction,
                                data.sources)
    except DataError as e:
        raise DataError(f"{where}: {e}" if where else str(e)) from None
    if cfg.split == OFFICIAL and len(data) == FULL_FER2013 and split.sizes() != OFFICIAL_COUNTS:
        raise DataError(f"{where}: official split sizes {split.sizes()} differ from FER-2013's "
                        f"{OFFICIAL_COUNTS}")
    if split.val.size == 0:
        raise DataError(f"split {cfg.split!r} has no validation part; the runner needs one for "
                        "early stopping and checkpoint selection: expected validation=carve "
                        "(a part of the training images) or a split with one")
    return split


def check_data_shift(planned: list[CellPlan], source: Path) -> None:
    """Refuse, before the first epoch, to train any cell on data whose parts differ (one line
    naming both figures and the way forward)."""
    for cp in planned:
        if cp.shifts:
            raise DataError(
                f"{source}: {cp.cell.format} data, seed {cp.cell.seed}: {cp.shifts[0]}. Expected "
                "training and test images of one kind (a damaged or differently processed "
                f"copy? `fer-keras data audit {source}` measures every part); to train anyway, "
                "run with --allow-data-shift (every cell's manifest and the report then say so)")


def prepare(cfg: ExperimentConfig, data: FerData, opts: RunOptions
            ) -> tuple[FerData, Preprocessed | None]:
    """The preprocessing stage: every image through cfg.preprocess, once per data set and
    settings (data.sources.preprocessed)."""
    return sources.preprocessed(data, cfg.preprocess, derived_root(opts))


# ------------------------------------------------------------------------------ cells


@dataclass(frozen=True)
class CellPlan:
    """One cell as `plan` found it, everything its stages need and nothing computed twice:
    its config (the experiment's, with the cell's variant), its data as loaded (before
    preprocessing), its split, its identity, its state on disk, and the data-shift guard's
    findings (None for a finished cell: it trains no more)."""

    cell: Cell
    cfg: ExperimentConfig
    data: FerData
    split: Split
    identity: Identity
    state: CellState
    shifts: tuple[str, ...] | None
    label: str

    @property
    def folder(self) -> Path:
        return self.state.folder


@dataclass(frozen=True)
class Training:
    """What the training stage did, for the manifest."""

    started: str
    seconds: float
    resumed: bool
    replicas: int


def plan_cell(cfg: ExperimentConfig, cell: Cell, data: FerData, opts: RunOptions,
              model_signatures: tuple | None = None, label: str = "") -> CellPlan:
    """One cell's plan from the experiment's config and the cell's data as loaded (raises,
    naming the data, when its split cannot serve the runner)."""
    k = cfg.variant(cell.variant)
    pin_threads(k.threads)  # planned on its own: before the model below starts TensorFlow
    split = split_of(k, data, cell.seed,
                     where=f"{cell.format} data ({len(data)} images), seed {cell.seed}")
    identity = identity_of(k, data, model_signatures or signatures(create_model(cell.model)))
    state = inspect(cell, opts.out, identity)
    return CellPlan(cell, k, data, split, identity, state,
                    None if state.status == "done" else tuple(data_shift(data, split)),
                    label or f"[{cell.name} seed {cell.seed}]")


# ------------------------------------------------------------------------------ stages


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":  # reads the cluster from TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; known: default, mirrored, multiworker")


def build(cfg: ExperimentConfig, cell: Cell, strategy: tf.distribute.Strategy
          ) -> tuple[keras.Model, InputSpec]:
    """The cell's model, compiled, with initial weights from the cell's seed."""
    keras.utils.set_random_seed(cell.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        model = create_model(cell.model)
        model.compile(optimizer=OPTIMIZERS[cfg.optimizer](cfg.learning_rate),
                      loss="categorical_crossentropy", metrics=["accuracy"])
    return model, InputSpec(channels=int(model.input_shape[-1]),
                            raw_pixels=expects_raw_pixels(model))


def identity_of(cfg: ExperimentConfig, data: FerData, model_signatures: tuple) -> Identity:
    """`model_signatures`: `models.summary.signatures` (the current form first)."""
    return Identity(cfg.training_config(), data.fingerprint, model_signatures[0],
                    tuple(model_signatures[1:]))


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




def epoch_times(backup: Path, epochs: int) -> list[float] | None:
    """The seconds of the first `epochs` epochs as the backup's EPOCH_TIMES_FILE holds them;
    None where it holds fewer (a backup begun before the file existed): the cell's whole
    training time is then unknown."""
    try:
        seconds = json.loads((backup / EPOCH_TIMES_FILE).read_text())
    except (OSError, ValueError):
        seconds = []
    return seconds[:epochs] if len(seconds) >= epochs else None


def resume_point(folder: Path, cfg: ExperimentConfig, label: str) -> tuple[list[dict], bool]:
    """What an unfinished cell resumes from: the history rows of the epochs its backup holds,
    and whether its training had ended (only its evaluation and record were missing). All or
    nothing: a backup whose history or checkpoint is missing or short is discarded with them,
    and the cell starts again, saying why."""
    history_path, backup = folder / HISTORY_FILE, folder / BACKUP_DIR
    epoch = _backup_epoch(backup)
    history = read_history(history_path)
    why = ("its backup holds no finished epoch" if epoch == 0 else
           f"its history.csv holds {len(history)} of the {epoch} epochs its backup holds"
           if len(history) < epoch else
           "its checkpoint best.keras is missing" if not (folder / CHECKPOINT_FILE).exists()
           else None)
    if why:
        shutil.rmtree(backup, ignore_errors=True)
        for name in (HISTORY_FILE, CHECKPOINT_FILE, TEST_CURVE_FILE):
            (folder / name).unlink(missing_ok=True)
        print(f"{label} unfinished, but {why}: starting again", flush=True)
        return [], False
    past = history[:epoch]
    rewrite_history(history_path, past)
    try:
        ended = json.loads((backup / TRAINED_FILE).read_text())["epochs"] == epoch
    except (OSError, ValueError, KeyError):
        ended = False
    print(f"{label} training had ended after epoch {epoch}: evaluating and recording it"
          if ended else f"{label} resuming from its backup after epoch {epoch} of "
          f"{cfg.max_epochs}", flush=True)
    return past, ended


def train(cp: CellPlan, model: keras.Model, spec: InputSpec, data: FerData, resuming: bool,
          opts: RunOptions, batch: int) -> tuple[float, bool]:
    """Fit with the paper's callbacks; resumable. Returns (seconds, resumed from a backup).

    Every random draw of epoch e (shuffle, augmentation, dropout) follows from (seed, e)
    (EpochSeeds), and weights, optimizer and callback state come back from the backup, so a
    run killed at any epoch and resumed ends exactly as an uninterrupted one. `data` is the
    cell's data after its preprocessing."""
    cfg, cell, split, folder, label = cp.cfg, cp.cell, cp.split, cp.folder, cp.label
    history_path, backup = folder / HISTORY_FILE, folder / BACKUP_DIR
    remove_temporaries(folder)  # what a writer killed mid-file left; the files are whole
    past, ended = resume_point(folder, cfg, label) if resuming else ([], False)
    if ended:
        return 0.0, True
    if not past:
        shutil.rmtree(backup, ignore_errors=True)
    clock = EpochClock(cell.seed)
    train_index = oversampled(data.labels, split.train, cell.seed) if cfg.oversample \
        else split.train
    train_ds = make_dataset(data.images[train_index], data.labels[train_index], spec,
                            batch_size=batch, training=True, clock=clock, augment=cfg.augment)
    val_ds = make_dataset(data.images[split.val], data.labels[split.val], spec,
                          batch_size=batch, training=False)
    val_losses = [row["val_loss"] for row in past]
    callbacks = [StopWhenSignalled(), EpochSeeds(clock)]
    if cfg.early_stopping:
        callbacks.append(ResumableEarlyStopping(
            val_losses, monitor="val_loss", patience=cfg.early_stopping_patience,
            restore_best_weights=cfg.restore_best_weights, start_from_epoch=cfg.min_epochs))
    if cfg.reduce_lr:
        callbacks.append(ResumableReduceLROnPlateau(
            val_losses, past[-1].get("learning_rate") if past else None, monitor="val_loss",
            patience=cfg.reduce_lr_patience, factor=cfg.reduce_lr_factor, min_lr=cfg.min_lr))
    clock = EpochTimes(backup / EPOCH_TIMES_FILE, epoch_times(backup, len(past)))
    callbacks += [
        AtomicModelCheckpoint(
            folder / CHECKPOINT_FILE, monitor="val_loss", save_best_only=cfg.select == "best",
            initial_value_threshold=plateau_state(val_losses)[0] if val_losses else None),
        HistoryLog(history_path, past),
        # before the backup: it then holds at least the backup's epochs (epoch_times)
        clock,
        keras.callbacks.BackupAndRestore(backup, double_checkpoint=True,
                                         delete_checkpoint=False),
        Progress(label, cfg.max_epochs, clock),
    ]
    if cfg.test_curve:  # an oracle, written beside the history; no callback reads it
        callbacks.append(TestCurve(
            make_dataset(data.images[split.test], data.labels[split.test], spec,
                         batch_size=batch, training=False),
            data.labels[split.test], folder / TEST_CURVE_FILE, len(past)))
    if opts.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(folder / TENSORBOARD_DIR))
    callbacks += [make() for make in opts.callbacks]
    weights = class_weights(data.labels[split.training_part]) if cfg.class_weights else None
    t0 = time.perf_counter()
    with stops_between_batches():  # Ctrl-C and SIGTERM stop it in StopWhenSignalled
        model.fit(train_ds, validation_data=val_ds, epochs=cfg.max_epochs, callbacks=callbacks,
                  class_weight=weights, verbose=0, shuffle=False)  # the pipeline shuffles
    seconds = time.perf_counter() - t0
    # the backup stays until done.json: a kill from here on loses no epoch (resume_point)
    write_json(backup / TRAINED_FILE, {"epochs": len(read_history(history_path))})
    return seconds, bool(past)


def save_inference_model(folder: Path, cfg: ExperimentConfig, cell: Cell) -> keras.Model:
    """The scored checkpoint behind the one input contract (fer_keras.models.inference):
    model.keras (no optimizer state) and inference.json, what `fer-keras predict` and
    `export` read."""
    model = inference_model(keras.models.load_model(folder / CHECKPOINT_FILE, compile=False))
    with atomic_path(folder / MODEL_FILE) as tmp:
        model.save(tmp)
    write_json(folder / INFERENCE_FILE, {
        "contract": CONTRACT, "classes": list(CLASS_NAMES), "model": cell.model,
        "cell": cell.name, "seed": cell.seed, "experiment": cfg.name, "paper": cfg.paper,
        "preprocess": dataclasses.asdict(cfg.preprocess) if cfg.preprocess.enabled else None,
        "sha256": sha256_file(folder / MODEL_FILE)})
    return model


def evaluate(folder: Path, model: keras.Model, data: FerData, split: Split, batch: int,
             test_labels: np.ndarray | None) -> dict:
    """The only use of the test split: the scored checkpoint, through the input contract
    (the saved model.keras itself), predicts it once."""
    y_test = data.labels[split.test] if test_labels is None else test_labels
    probs = model.predict(as_input(data.images[split.test]), batch_size=batch, verbose=0)
    metrics = compute_metrics(y_test, probs)
    write_npz(folder / PREDICTIONS_FILE, probs=probs.astype(np.float32),
              labels=y_test.astype(np.int64), indices=split.test,
              sources=data.sources[split.test], usage=data.usage[split.test])
    # A few test images with their predictions, so a report can show examples from the run
    # folder alone (the first EXAMPLES test images: deterministic, not chosen by outcome),
    # and where the model looked in them (Grad-CAM, for models with a convolution).
    examples = data.images[split.test[:EXAMPLES]]
    write_npz(folder / EXAMPLES_FILE, images=examples,
              labels=y_test[:EXAMPLES].astype(np.int64),
              probs=probs[:EXAMPLES].astype(np.float32))
    write_gradcam(folder, model, examples)
    write_activity(folder, model, examples)  # dead ReLU units: why a run did not learn
    write_json(folder / METRICS_FILE, metrics)
    return metrics


def score_perturbed(model: keras.Model, cfg: ExperimentConfig, raw: FerData, split: Split,
                    batch: int, perturb, levels) -> list[dict]:
    """Test metrics of the scored model at each level of a perturbation of the raw test images
    (perturb(images, level) -> images), which then go through the cell's own preprocessing, as
    the test images did. Scores only; nothing is chosen by them."""
    y = raw.labels[split.test]
    out = []
    for level in levels:
        images = perturb(raw.images[split.test], level)
        if cfg.preprocess.enabled:
            images = preprocess(images, cfg.preprocess).images
        m = compute_metrics(y, model.predict(as_input(images), batch_size=batch, verbose=0))
        out.append({"sigma": level, "accuracy": m["accuracy"], "f1_macro": m["f1_macro"]})
    return out


def robustness(folder: Path, cfg: ExperimentConfig, model: keras.Model, raw: FerData,
               split: Split, batch: int, seed: int) -> None:
    """With cfg.noise_eval: the best checkpoint scores the test split again with Gaussian noise
    added to the raw images (a model trained on aligned, CLAHE-enhanced faces meets noisy
    faces the same way)."""
    if not cfg.noise_eval:
        return
    levels = score_perturbed(model, cfg, raw, split, batch,
                             lambda images, sigma: with_noise(images, sigma, seed),
                             cfg.noise_eval)
    write_json(folder / ROBUSTNESS_FILE, {
        "noise": "Gaussian, standard deviation in grey levels (0-255), added to the raw test "
                 "images and rounded/clipped to 0-255, before the cell's preprocessing",
        "preprocess": cfg.preprocess.enabled, "levels": levels})


def record(cp: CellPlan, opts: RunOptions, data: FerData, prepared: Preprocessed | None,
           spec: InputSpec, model: keras.Model, training: Training) -> None:
    """manifest.json, then done.json: the cell is finished. `data` is the cell's data after
    its preprocessing (`prepared` says what that did)."""
    cfg, cell, split, folder = cp.cfg, cp.cell, cp.split, cp.folder
    history = read_history(folder / HISTORY_FILE)
    best_epoch = int(np.argmin([h["val_loss"] for h in history])) + 1 if history else None
    gpus = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
            for g in tf.config.list_physical_devices("GPU")]
    write_json(folder / MANIFEST_FILE, {
        **environment(gpus),
        "started": training.started,
        "finished": now(),
        "resumed": training.resumed,
        "train_seconds_this_session": round(training.seconds, 1),
        # every epoch's seconds, over all the sessions a resumed cell was trained in; None
        # where a resumed cell's earlier epochs were not timed
        "epoch_seconds": (times := epoch_times(folder / BACKUP_DIR, len(history))),
        "train_seconds": None if times is None else round(sum(times), 1),
        "epochs": len(history),
        "best_epoch": best_epoch,
        "scored_epoch": len(history) if cfg.select == "last" else best_epoch,
        "data": {"path": str(opts.data), "csv": str(opts.csv) if opts.csv else None,
                 "format": cell.format, "n": len(data), "fingerprint": data.fingerprint,
                 # the data as loaded, before the preprocessing stage changed its pixels (and
                 # so `fingerprint`): ties the cell to the copy it was made from
                 "source_fingerprint": cp.data.fingerprint if prepared is not None else None,
                 "notes": list(data.notes),
                 "synthetic": is_synthetic(opts.data) or bool(opts.csv and is_synthetic(opts.csv))},
        "split": {"scheme": cfg.split, "seed": cell.seed, **split.sizes(), "file": SPLIT_FILE,
                  "validation": split.validation,
                  "class_weights": (class_weights(data.labels[split.training_part])
                                    if cfg.class_weights else None),
                  "oversampled_train": (len(oversampled(data.labels, split.train, cell.seed))
                                        if cfg.oversample else None)},
        "preprocess": prepared.summary() if prepared is not None else None,
        "input": {"channels": spec.channels, "raw_pixels": spec.raw_pixels,
                  "model_input_shape": list(model.input_shape[1:])},
        "threads": threads_in_effect(),
        # the training and test images differ (trained with --allow-data-shift): said in red
        "data_shift": {"allowed": opts.allow_data_shift,
                       "shifts": list(cp.shifts or ())},
        "strategy": opts.strategy, "replicas": training.replicas,
        "mixed_precision": opts.mixed_precision,
        "model_sha256": sha256_file(folder / CHECKPOINT_FILE),
        "inference_model_sha256": sha256_file(folder / MODEL_FILE),
    })
    finish(folder, cp.identity, now())
    shutil.rmtree(folder / BACKUP_DIR, ignore_errors=True)  # kept until done.json (train)


def run_cell(cp: CellPlan, opts: RunOptions, strategy: tf.distribute.Strategy | None = None,
             test_labels: np.ndarray | None = None) -> dict:
    """Train and evaluate one planned cell (`plan`, or `plan_cell` for one cell); returns its
    metrics. `strategy`: made once per process by run_experiment (a multi-worker strategy must
    exist before other TensorFlow work); made from opts when a cell is run on its own.
    `test_labels` replaces the test labels at scoring time only (used by the test proving the
    test split is not seen)."""
    if not pin_threads(cp.cfg.threads):
        raise RuntimeError(f"{cp.label}: this process's TensorFlow already runs with other "
                           f"threads than the cell's {cp.cfg.threads} (config key threads); "
                           "expected run_experiment, which trains it in a worker process of "
                           "its own")
    started = now()
    strategy = strategy or make_strategy(opts.strategy)
    model, spec = build(cp.cfg, cp.cell, strategy)
    data, prepared = prepare(cp.cfg, cp.data, opts)
    resuming = start_folder(cp.state, cp.cfg, cp.identity)
    write_npz(cp.folder / SPLIT_FILE, **cp.split.as_arrays())
    batch = cp.cfg.batch_size * strategy.num_replicas_in_sync
    seconds, resumed = train(cp, model, spec, data, resuming, opts, batch)
    scored = save_inference_model(cp.folder, cp.cfg, cp.cell)
    metrics = evaluate(cp.folder, scored, data, cp.split, batch, test_labels)
    robustness(cp.folder, cp.cfg, scored, cp.data, cp.split, batch, cp.cell.seed)
    cp = dataclasses.replace(cp, shifts=record_quality(cp.folder, cp.data, cp.split, cp.shifts))
    record(cp, opts, data, prepared, spec, model,
           Training(started, seconds, resumed, strategy.num_replicas_in_sync))
    return metrics


# ------------------------------------------------------------------------------ experiment


def configure_devices(opts: RunOptions) -> None:
    tf.get_logger().setLevel("ERROR")  # retracing notices: each cell builds new functions
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # devices already initialised
    if opts.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")


@dataclass(frozen=True)
class Plan:
    """What a run will do, checked before anything is trained."""

    cells: list[CellPlan]

    def render(self) -> str:
        lines = [f"{'cell':<44} {'seed':>4}  {'status':<9} {'images':>7}  "
                 "train/val/test (validation)"]
        for cp in self.cells:
            s, split = cp.state, cp.split
            sizes = split.sizes()
            lines.append(f"{s.cell.name:<44} {s.cell.seed:>4}  {s.status:<9} "
                         f"{len(cp.data):>7}  {sizes['train']}/{sizes['val']}/"
                         f"{sizes['test']} ({split.scheme}, {split.validation})"
                         + (f"  ({'; '.join(s.differs)})" if s.differs else ""))
        return "\n".join(lines)


def plan(cfg: ExperimentConfig, opts: RunOptions) -> Plan:
    """Check everything every cell of this shard needs, load every data source once, and
    find each cell's state on disk; raises before any training."""
    todo = cells(cfg.validate(), opts.shard)
    configs = {c: cfg.variant(c.variant) for c in todo}
    loaded: dict[tuple, FerData] = {}
    data = {}
    for c in todo:  # each data source once: what loading depends on is the key
        k = configs[c]
        key = (c.format, k.directory_subset, k.csv_subset, k.split in (OFFICIAL, FOLDERS),
               k.limit)
        if key not in loaded:
            loaded[key] = resolve_format(k, opts, c.format)
            if k.limit:  # quick checks: the same stratified subsample for every cell
                full = loaded[key]
                part = full.subset(subsample(full.labels, k.limit))
                loaded[key] = dataclasses.replace(part, notes=(
                    *part.notes, f"limit: a stratified {len(part)} of {len(full)} images"))
        data[c] = loaded[key]
    sigs = {m: signatures(create_model(m)) for m in dict.fromkeys(c.model for c in todo)}
    sizes = {k.preprocess.landmark_size for k in configs.values() if k.preprocess.align}
    for size in sizes:  # the landmark model loads (dlib installed, model file present)
        try:
            LandmarkEyes(size)
        except RuntimeError as e:
            raise DataError(f"preprocess.align: {e}") from None
    # every split, identity and state before the first epoch
    planned = [plan_cell(cfg, c, data[c], opts, sigs[c.model],
                         f"[cell {i}/{len(todo)} {c.name} seed {c.seed}]")
               for i, c in enumerate(todo, 1)]
    # the data source itself too, whatever a protocol draws its parts from: a blurred train/
    # beside a sharp test/ is found even where the cells never load test/
    if any(cp.shifts is not None for cp in planned):
        found = tuple(source_shifts(Path(opts.data)))
        planned = [dataclasses.replace(cp, shifts=tuple(dict.fromkeys((*cp.shifts, *found))))
                   if found and cp.shifts is not None else cp for cp in planned]
    if not opts.allow_data_shift:
        check_data_shift(planned, Path(opts.data))
    return Plan(planned)


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
