"""Every file a run writes is replaced whole: a kill while a file is written leaves the old file
or the new one, never half of one (issue: reliability under faults, "every file is written
atomically")."""

import keras
import numpy as np
import pytest

from fer_keras.core.cellfiles import cell_files
from fer_keras.core.provenance import atomic_path, is_temporary, remove_temporaries
from fer_keras.train.callbacks import AtomicModelCheckpoint, HistoryLog
from fer_keras.train.runfolder import read_history


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(model, callbacks, epochs=3):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)), keras.utils.to_categorical(rng.integers(0, 3, 32), 3)
    model.fit(x, y, validation_data=(x, y), epochs=epochs, batch_size=8, verbose=0,
              shuffle=False, callbacks=callbacks)


def test_history_log_writes_byte_for_byte_what_keras_csvlogger_writes(tmp_path):
    """history.csv keeps the form of every committed run (Keras' CSVLogger), so runs written
    before and after the change read and compare alike; a resumed log ends the same too."""
    ours, keras_own = tmp_path / "ours.csv", tmp_path / "keras.csv"
    plateau = keras.callbacks.ReduceLROnPlateau(patience=1)  # logs learning_rate, as in runs
    _fit(_tiny_model(), [plateau, HistoryLog(ours), keras.callbacks.CSVLogger(keras_own)])
    assert ours.read_bytes() == keras_own.read_bytes()
    assert ours.read_text().splitlines()[0] == \
        "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"
    rows = read_history(keras_own)
    resumed = HistoryLog(tmp_path / "resumed.csv", past=rows[:2])
    resumed.on_epoch_end(2, {k: v for k, v in rows[2].items() if k != "epoch"})
    assert (tmp_path / "resumed.csv").read_bytes() == keras_own.read_bytes()


def test_a_checkpoint_whose_save_fails_midway_leaves_the_previous_one_whole(tmp_path):
    path = tmp_path / "best.keras"
    model = _tiny_model()
    check = AtomicModelCheckpoint(path, monitor="val_loss", save_best_only=False)
    check.set_model(model)
    check.on_epoch_end(0, {"val_loss": 1.0})
    before = path.read_bytes()
    keras.models.load_model(path)  # a whole model

    def cut_short(filepath, overwrite=True):
        with open(filepath, "wb") as f:
            f.write(before[: len(before) // 3])
        raise OSError(28, "No space left on device")

    model.save = cut_short
    with pytest.raises(OSError):
        check.on_epoch_end(1, {"val_loss": 0.5})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras"]  # no temporary left


def test_atomic_path_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [path.name]
    with atomic_path(path) as tmp:
        assert is_temporary(tmp) and tmp.suffix == ".json" and tmp.parent == tmp_path
        tmp.write_text("new")
    assert path.read_text() == "new"


def test_a_killed_writers_temporaries_are_no_cell_files_and_are_removed(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    left = [tmp_path / ".best.4711.tmp.keras", tmp_path / ".history.4711.tmp.csv"]
    for p in left:
        p.write_bytes(b"PK\x03")
    assert [p.name for p in cell_files(tmp_path)] == ["metrics.json"]
    remove_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert not is_temporary(tmp_path / ".lock") and not is_temporary(tmp_path / "best.keras")


def test_a_history_row_cut_short_is_not_read(tmp_path):
    """Runs written before HistoryLog could be killed in the middle of a CSVLogger row; the
    resume then read the broken row (a traceback). Whole rows are read, the cut one is not."""
    path = tmp_path / "history.csv"
    path.write_text("epoch,accuracy,loss\n0,0.5,1.2\n1,0.6,1.1\n2,0.6")
    assert read_history(path) == [{"epoch": 0.0, "accuracy": 0.5, "loss": 1.2},
                                  {"epoch": 1.0, "accuracy": 0.6, "loss": 1.1}]
    path.write_text("epoch,accuracy,loss\n0,0.5,1.2\n1,")
    assert len(read_history(path)) == 1
