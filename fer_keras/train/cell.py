"""One cell, as a short sequence of named stages over its `CellPlan`: preprocess, build,
train (resumable from its backup), save the inference model, evaluate the test split once,
record. The files each stage writes are listed in runner.py's docstring.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from ..core.cellfiles import (
    BACKUP_DIR,
    CHECKPOINT_FILE,
    EPOCH_TIMES_FILE,
    EXAMPLES_FILE,
    HISTORY_FILE,
    INFERENCE_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PREDICTIONS_FILE,
    ROBUSTNESS_FILE,
    SESSIONS_FILE,
    SPLIT_FILE,
    TENSORBOARD_DIR,
    TEST_CURVE_FILE,
    TRAINED_FILE,
    VALIDATION_FILE,
)
from ..core.labels import CLASS_NAMES
from ..core.metrics import compute_metrics
from ..core.provenance import (
    atomic_path,
    cpu_model,
    environment,
    now,
    remove_temporaries,
    sha256_file,
    write_json,
    write_npz,
)
from ..core.tfprocess import pin_threads, threads_in_effect
from ..data import FerData, sources
from ..data.pipeline import EpochClock, InputSpec, make_dataset
from ..data.preprocess import Preprocessed, preprocess, with_noise
from ..data.splits import (
    Split,
)
from ..data.synthetic import is_synthetic
from ..data.weights import class_weights, oversampled
from ..models import create_model, expects_raw_pixels
from ..models.explain import write_activity, write_gradcam
from ..models.inference import CONTRACT, as_input, inference_model, one_face_ms, predict_views
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
from .config import ExperimentConfig
from .plan import CellPlan, RunOptions, derived_root
from .runfolder import (
    Cell,
    finish,
    read_history,
    rewrite_history,
    start_folder,
)
from .upkeep import record_quality
from .workers import stops_between_batches

EXAMPLES = 64  # test images kept with their predictions for the report's qualitative figure

OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}


def prepare(cfg: ExperimentConfig, data: FerData, opts: RunOptions
            ) -> tuple[FerData, Preprocessed | None]:
    """The preprocessing stage: every image through cfg.preprocess, once per data set and
    settings (data.sources.preprocessed)."""
    return sources.preprocessed(data, cfg.preprocess, derived_root(opts))


@dataclass(frozen=True)
class Training:
    """What the training stage did, for the manifest."""

    started: str
    seconds: float
    resumed: bool
    replicas: int
    one_face_ms: float | None = None  # inference cost, measured after training (one_face_ms)


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


def _read_sessions(backup: Path) -> list[dict] | None:
    try:
        return json.loads((backup / SESSIONS_FILE).read_text())
    except (OSError, ValueError):
        return None


def epoch_times(backup: Path, epochs: int) -> list[float] | None:
    """The seconds of the first `epochs` epochs as the backup's EPOCH_TIMES_FILE holds them;
    None where it holds fewer (a backup begun before the file existed): the cell's whole
    training time is then unknown."""
    try:
        seconds = json.loads((backup / EPOCH_TIMES_FILE).read_text())
    except (OSError, ValueError):
        seconds = []
    return seconds[:epochs] if len(seconds) >= epochs else None


def training_sessions(backup: Path, kept: int) -> list[dict]:
    """The sessions a cell has trained in, this one (now starting after the `kept` epochs its
    backup holds) last: each {"cpu", "from_epoch"} (epochs count from 1). Another CPU type
    computes the last digits of the sums otherwise (docs/runs.md), so a cell resumed on one
    agrees with an uninterrupted run only to floating-point noise: the manifest says so. A
    session that kept none of its epochs is replaced; one before the record existed (a backup
    begun earlier) is {"cpu": None}."""
    try:
        sessions = json.loads((backup / SESSIONS_FILE).read_text())
    except (OSError, ValueError):
        sessions = [{"cpu": None, "from_epoch": 1}] if kept else []
    sessions = [s for s in sessions if s["from_epoch"] <= kept]
    return sessions + [{"cpu": cpu_model(), "from_epoch": kept + 1}]


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
    sessions = training_sessions(backup, len(past))
    backup.mkdir(parents=True, exist_ok=True)
    write_json(backup / SESSIONS_FILE, sessions)
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
    (the saved model.keras itself), predicts it once, as it is (the metrics) and mirrored.
    The validation part gets the same two views (validation.npz), so that whether flip
    averaging or an ensemble helps is decided on validation, from the run folder alone."""
    y_test = data.labels[split.test] if test_labels is None else test_labels
    probs, mirrored = predict_views(model, data.images[split.test], batch)
    metrics = compute_metrics(y_test, probs)
    write_npz(folder / PREDICTIONS_FILE, probs=probs, probs_flipped=mirrored,
              labels=y_test.astype(np.int64), indices=split.test,
              sources=data.sources[split.test], usage=data.usage[split.test])
    if split.val.size:
        val_probs, val_mirrored = predict_views(model, data.images[split.val], batch)
        write_npz(folder / VALIDATION_FILE, probs=val_probs, probs_flipped=val_mirrored,
                  labels=data.labels[split.val].astype(np.int64), indices=split.val)
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
        # the CPU of each session it trained in ("cpu" above: the one that evaluated it)
        "sessions": _read_sessions(folder / BACKUP_DIR),
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
        # milliseconds of one face through the saved model (batch 1, traced, these threads;
        # median after a warm-up): the leaderboard's inference cost
        "one_face_ms": training.one_face_ms,
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
           Training(started, seconds, resumed, strategy.num_replicas_in_sync,
                    one_face_ms(scored)))
    return metrics
