"""Keras callbacks of the runner: progress with ETA, per-epoch seeds, resume support, and a
stop signal honoured between batches.

Keras' BackupAndRestore brings back the weights, the optimizer and the epoch of a killed run,
but EarlyStopping, ReduceLROnPlateau and ModelCheckpoint start again from scratch. The
subclasses here take their state (best value, epochs without improvement) from the epochs
already logged, so a resumed run stops and selects as the uninterrupted one would.

Every file a callback writes is replaced whole (`atomic_path`): Keras' ModelCheckpoint and
CSVLogger write in place, so a kill while they write left half a `best.keras` (which the
resumed cell then loaded to score) or half a history row (which broke the resume).
"""

from __future__ import annotations

import math
import sys
import time

import keras
import numpy as np

from ..core.metrics import compute_metrics
from ..core.provenance import atomic_path, write_csv, write_json
from ..data.pipeline import EpochClock, reseed
from .workers import raise_if_stopped


def plateau_state(values: list[float], patience: int | None = None) -> tuple[float, int]:
    """(best, epochs since best) after `values`, as Keras' monitors count them (mode min,
    min_delta 0). With patience, the counter resets when it reaches patience, as
    ReduceLROnPlateau's does after each reduction (cooldown 0)."""
    best, wait = math.inf, 0
    for v in values:
        if v < best:
            best, wait = v, 0
        else:
            wait += 1
            if patience is not None and wait >= patience:
                wait = 0
    return best, wait


class StopWhenSignalled(keras.callbacks.Callback):
    """Ctrl-C or SIGTERM noted during fit (workers.stops_between_batches) stops training
    between batches; like any stop between epochs, the last finished epoch's backup is kept.
    First in the callback list, so a stop noted during an epoch's bookkeeping is raised when
    the next epoch begins, after that bookkeeping."""

    def on_epoch_begin(self, epoch, logs=None):
        raise_if_stopped()

    def on_train_batch_end(self, batch, logs=None):
        raise_if_stopped()

    def on_test_batch_end(self, batch, logs=None):
        raise_if_stopped()

    def on_predict_batch_end(self, batch, logs=None):
        raise_if_stopped()


class EpochSeeds(keras.callbacks.Callback):
    """At the start of epoch e, derive every random state of that epoch from (seed, e): the
    input pipeline's shuffle and augmentation (its EpochClock) and the model's own generators
    (dropout). A resumed run then draws in each epoch what an uninterrupted run draws."""

    def __init__(self, clock: EpochClock):
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.set(epoch)
        reseed(self.model.variables, self.clock.seed, epoch)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    def __init__(self, past_values: list[float], **kwargs):
        super().__init__(**kwargs)
        self.past_values = past_values

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        counted = self.past_values[self.start_from_epoch:]  # Keras ignores epochs before it
        if counted:
            self.best, self.wait = plateau_state(counted)


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    def __init__(self, past_values: list[float], past_lr: float | None, **kwargs):
        super().__init__(**kwargs)
        self.past_values = past_values
        self.past_lr = past_lr

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.past_values:
            self.best, self.wait = plateau_state(self.past_values, self.patience)
        if self.past_lr is not None:
            self.model.optimizer.learning_rate = self.past_lr


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint whose saved model is written beside its path and moved into place."""

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if self._should_save_model(epoch, batch, logs, filepath):
            with atomic_path(filepath) as tmp:
                if self.save_weights_only:
                    self.model.save_weights(tmp, overwrite=True)
                else:
                    self.model.save(tmp, overwrite=True)


class HistoryLog(keras.callbacks.Callback):
    """The per-epoch log (history.csv) as Keras' CSVLogger writes it (an `epoch` column counted
    from 0, then every log key in sorted order), but the whole file replaced after each epoch,
    so it always holds whole rows. `past`: the rows of the epochs a resumed run keeps."""

    def __init__(self, path, past: list[dict] | None = None):
        super().__init__()
        self.path = path
        self.rows = [{k: (int(v) if k == "epoch" else v) for k, v in row.items()}
                     for row in past or []]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.rows.append({"epoch": epoch, **{k: logs[k] for k in sorted(logs)}})
        write_csv(self.path, self.rows)


class EpochTimes(keras.callbacks.Callback):
    """The wall-clock seconds of every epoch (training and validation), rewritten whole after
    each one to a JSON list, so the manifest can give a cell's whole training time across the
    sessions it was resumed in. `past`: the times of the epochs a resumed run keeps, or None
    when they are unknown (a backup made before this file existed): then nothing is written
    and the cell's total stays unknown rather than counting its last session only."""

    def __init__(self, path, past: list[float] | None):
        super().__init__()
        self.path, self.seconds = path, None if past is None else list(past)
        self.last: float | None = None  # the latest epoch's seconds, for Progress

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.last = round(time.perf_counter() - self.t0, 1)
        if self.seconds is not None:
            self.seconds.append(self.last)
            self.path.parent.mkdir(parents=True, exist_ok=True)  # the backup's folder
            write_json(self.path, self.seconds)


class Progress(keras.callbacks.Callback):
    """One line per epoch: which cell of how many, epoch, metrics, learning rate, and ETA.
    The epoch's seconds are those `clock` (an EpochTimes earlier in the callback list)
    measured, so the log and the manifest give the same time; the ETA is the median epoch of
    this session times the epochs left."""

    def __init__(self, label: str, max_epochs: int, clock: EpochTimes, stream=None):
        super().__init__()
        self.label, self.max_epochs, self.clock, self.stream = label, max_epochs, clock, stream
        self.times: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.times.append(self.clock.last)
        per = float(np.median(self.times))
        left = (self.max_epochs - epoch - 1) * per
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        print(
            f"{self.label} epoch {epoch + 1}/{self.max_epochs} "
            f"loss {logs.get('loss', float('nan')):.4f} "
            f"acc {logs.get('accuracy', float('nan')):.4f} "
            f"val_loss {logs.get('val_loss', float('nan')):.4f} "
            f"val_acc {logs.get('val_accuracy', float('nan')):.4f} lr {lr:.2e} "
            f"{self.times[-1]:.1f}s/epoch, at most {left / 60:.1f} min left in this cell",
            file=self.stream or sys.stdout, flush=True,
        )


class TestCurve(keras.callbacks.Callback):
    """After every epoch, the test accuracy appended to a CSV (epoch, test_accuracy): the
    oracle of a reachability study (config test_curve). It writes no log key, so no other
    callback (early stopping, checkpoint, schedule) can see it. Resumed runs keep the rows
    of the epochs the backup holds."""

    def __init__(self, dataset, labels: np.ndarray, path, keep_epochs: int):
        super().__init__()
        self.dataset, self.labels, self.path = dataset, np.asarray(labels), path
        self.lines = path.read_text().splitlines()[1:keep_epochs + 1] \
            if keep_epochs and path.exists() else []
        self._write()

    def _write(self):
        with atomic_path(self.path) as tmp:  # whole rows only, like HistoryLog
            tmp.write_text("\n".join(["epoch,test_accuracy", *self.lines]) + "\n")

    def on_epoch_end(self, epoch, logs=None):
        accuracy = compute_metrics(self.labels, self.model.predict(self.dataset, verbose=0)
                                   )["accuracy"]  # the one metrics function, as metrics.json
        self.lines.append(f"{epoch + 1},{accuracy:.6f}")
        self._write()
