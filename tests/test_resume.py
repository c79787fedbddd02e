"""A run killed with SIGKILL at any epoch and resumed ends byte for byte as an uninterrupted
run: same history, same selected epoch, same predictions and metrics. The cell uses dropout
and random augmentation (rotation, flip, noise), so every random state must come back."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OZER = ROOT / "experiments" / "ozer.py"
CELL = "csv-ashok_cnn/seed-0"
COMPARED = ("history.csv", "metrics.json", "predictions.npz", "examples.npz", "split.npz")
pytestmark = pytest.mark.slow


def _command(sample, out: Path) -> list[str]:
    images, csv_path = sample
    return [sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data", str(images),
            "--csv", str(csv_path), "--out", str(out), "formats=csv", "models=ashok_cnn",
            "seeds=0", "max_epochs=6", "early_stopping_patience=50", "reduce_lr_patience=2",
            "augment.rotation_deg=10", "augment.horizontal_flip=true", "augment.noise_std=0.05"]


def _kill_after(cmd: list[str], history: Path, epochs: int) -> list[str]:
    """Start the run, SIGKILL it once `epochs` epochs are logged; the logged rows."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= epochs + 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (history.parent / "done.json").exists()
    return history.read_text().splitlines()


@pytest.fixture(scope="module")
def uninterrupted(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    subprocess.run(_command(sample, out), cwd=ROOT, check=True, capture_output=True)
    return out / CELL


@pytest.mark.parametrize("kill_after", [2, 4])
def test_killed_and_resumed_run_equals_the_uninterrupted_one(sample, tmp_path, uninterrupted,
                                                            kill_after):
    out = tmp_path / "killed"
    history = out / CELL / "history.csv"
    killed_rows = _kill_after(_command(sample, out), history, kill_after)
    killed_times = json.loads((out / CELL / "backup" / "epoch_seconds.json").read_text())
    log = subprocess.run(_command(sample, out), cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    resumed = out / CELL
    # the log says where it went on from: the backup is written just after the history row
    found = re.search(r"resuming from its backup after epoch (\d+) of 6", log)
    assert found and int(found[1]) in (kill_after - 1, kill_after), log
    manifest = json.loads((resumed / "manifest.json").read_text())
    assert manifest["resumed"] is True and manifest["epochs"] == 6
    # the training time counts the killed session's epochs too, as that session timed them
    times, kept = manifest["epoch_seconds"], int(found[1])
    assert len(times) == 6 and times[:kept] == killed_times[:kept] and min(times) > 0
    assert manifest["train_seconds"] == round(sum(times), 1)
    # both sessions, on this machine's CPU: the second from the first epoch it trained
    cpu = manifest["cpu"]
    assert manifest["sessions"] == [{"cpu": cpu, "from_epoch": 1},
                                    {"cpu": cpu, "from_epoch": kept + 1}]
    rows = history.read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(6))
    assert rows[1] == killed_rows[1]  # epochs the backup held were kept, not trained again
    for name in COMPARED:
        assert (resumed / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    whole = json.loads((uninterrupted / "manifest.json").read_text())
    assert manifest["best_epoch"] == whole["best_epoch"]
    assert len(whole["epoch_seconds"]) == 6 and whole["resumed"] is False
    assert whole["train_seconds"] == round(sum(whole["epoch_seconds"]), 1)
    assert whole["sessions"] == [{"cpu": whole["cpu"], "from_epoch": 1}]


def test_an_epochs_random_draws_depend_on_seed_and_epoch_only():
    """The pipeline's order and augmentation in epoch e are the same whichever epochs came
    before (what a resumed run relies on), differ between epochs, and cover every image."""
    import numpy as np

    from fer_keras.data.augment import AugmentConfig
    from fer_keras.data.pipeline import EpochClock, InputSpec, make_dataset

    images = (np.arange(10 * 48 * 48).reshape(10, 48, 48, 1) % 256).astype(np.uint8)
    labels = np.arange(10) % 7

    def draws(clock, epochs):
        ds = make_dataset(images, labels, InputSpec(1, False), batch_size=4, training=True,
                          clock=clock, augment=AugmentConfig(noise_std=0.1))
        out = {}
        for e in epochs:
            clock.set(e)
            batches = list(ds)
            out[e] = (np.concatenate([x.numpy() for x, _ in batches]),
                      np.concatenate([y.numpy().argmax(1) for _, y in batches]))
        return out

    a = draws(EpochClock(3), [0, 1, 2, 3])  # epochs in order
    b = draws(EpochClock(3), [3, 0])  # epoch 3 first, as after a restart
    for e in (0, 3):
        np.testing.assert_array_equal(a[e][0], b[e][0])
        np.testing.assert_array_equal(a[e][1], b[e][1])
        assert sorted(a[e][1].tolist()) == sorted(labels.tolist())
    assert not np.array_equal(a[0][1], a[3][1]) or not np.array_equal(a[0][0], a[3][0])
    assert not np.array_equal(draws(EpochClock(4), [3])[3][0], a[3][0])  # the seed matters


DIE_AFTER_TRAINING = """
import os, sys
import fer_keras.train.cell as cell
cell.save_inference_model = lambda *a, **k: os._exit(9)  # killed right after fit returned
from fer_keras.cli import main
main(sys.argv[1:])
"""


def test_a_kill_after_the_last_epoch_loses_no_epoch(sample, tmp_path, uninterrupted):
    """Killed after training ended but before done.json: the backup is still there, so the
    cell is evaluated and recorded without training again (it once lost every epoch)."""
    out = tmp_path / "late"
    cmd = _command(sample, out)
    died = subprocess.run([sys.executable, "-c", DIE_AFTER_TRAINING, *cmd[3:]], cwd=ROOT,
                          capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    assert (out / CELL / "backup" / "trained.json").exists()
    assert not (out / CELL / "done.json").exists()
    log = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert "training had ended after epoch 6: evaluating and recording it" in log
    assert "epoch 1/6" not in log  # not one epoch trained again
    for name in COMPARED:
        assert (out / CELL / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert not (out / CELL / "backup").exists()  # removed once done.json was written
    assert json.loads((out / CELL / "manifest.json").read_text())["resumed"] is True


def test_a_backup_without_its_history_starts_the_cell_again_and_says_so(sample, tmp_path,
                                                                        uninterrupted):
    """A missing history.csv once restored the weights but not the rest and recorded a wrong
    cell; now the whole unfinished cell starts again, and the log says why."""
    out = tmp_path / "nohistory"
    history = out / CELL / "history.csv"
    _kill_after(_command(sample, out), history, 3)
    history.unlink()
    log = subprocess.run(_command(sample, out), cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    found = re.search(r"unfinished, but its history.csv holds 0 of the (\d+) epochs its backup "
                      r"holds: starting again", log)
    assert found and int(found[1]) >= 2, log
    manifest = json.loads((out / CELL / "manifest.json").read_text())
    assert manifest["resumed"] is False and manifest["epochs"] == 6
    for name in COMPARED:
        assert (out / CELL / name).read_bytes() == (uninterrupted / name).read_bytes(), name


def test_kill_loop_every_interrupted_run_ends_as_the_uninterrupted_one(sample, tmp_path,
                                                                       uninterrupted):
    """SIGKILL the same short run at random moments (from start-up to the last epochs), one
    after another on one folder, then let it finish: every output equals the uninterrupted
    run's, byte for byte."""
    import random

    out = tmp_path / "loop"
    cmd = _command(sample, out)
    t0 = time.monotonic()
    subprocess.run(_command(sample, tmp_path / "timing"), cwd=ROOT, check=True,
                   capture_output=True)
    whole = time.monotonic() - t0
    rng = random.Random(0)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.15, 0.5) * whole)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        if (out / CELL / "done.json").exists():
            break
    assert kills >= 2, f"only {kills} runs were killed before finishing"
    print(f"kill loop: {kills} kills, then the run finished")
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    for name in COMPARED:
        assert (out / CELL / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert not (out / CELL / "backup").exists()


def test_epoch_times_keep_the_backups_epochs_or_say_they_are_unknown(tmp_path):
    """What a resumed cell's earlier epochs took: the first `epochs` times the backup holds
    (one more is there when a kill fell between the time and the backup); none when it holds
    fewer (a backup begun before epoch times were kept): the total is then unknown, not the
    last session's."""
    from fer_keras.train.cell import epoch_times

    assert epoch_times(tmp_path, 0) == []  # a fresh cell
    assert epoch_times(tmp_path, 3) is None  # an older backup: no times
    (tmp_path / "epoch_seconds.json").write_text("[10.5, 11.0, 12.25, 9.0]")
    assert epoch_times(tmp_path, 3) == [10.5, 11.0, 12.25]
    assert epoch_times(tmp_path, 4) == [10.5, 11.0, 12.25, 9.0]
    assert epoch_times(tmp_path, 5) is None
    (tmp_path / "epoch_seconds.json").write_text("[10.5, 11")  # cut short: unknown
    assert epoch_times(tmp_path, 1) is None


def test_each_training_session_records_its_cpu_from_the_epoch_it_began(tmp_path,
                                                                       monkeypatch):
    """A cell resumed on another CPU type agrees with an uninterrupted run only to
    floating-point noise, so the backup keeps each session's CPU and first epoch: a session
    that kept none of its epochs is replaced; a backup begun before the record gives an
    unknown CPU for its earlier epochs."""
    from fer_keras.train import cell

    monkeypatch.setattr(cell, "cpu_model", lambda: "Intel(R) Xeon(R) Processor")
    assert cell.training_sessions(tmp_path, 0) == [
        {"cpu": "Intel(R) Xeon(R) Processor", "from_epoch": 1}]
    assert cell.training_sessions(tmp_path, 4) == [  # an older backup, 4 epochs kept
        {"cpu": None, "from_epoch": 1}, {"cpu": "Intel(R) Xeon(R) Processor", "from_epoch": 5}]
    (tmp_path / "sessions.json").write_text(json.dumps(
        [{"cpu": "Intel(R) Xeon(R) Processor", "from_epoch": 1},
         {"cpu": "Intel(R) Xeon(R) Processor", "from_epoch": 43}]))  # killed before epoch 43
    monkeypatch.setattr(cell, "cpu_model", lambda: "AMD EPYC")
    assert cell.training_sessions(tmp_path, 42) == [
        {"cpu": "Intel(R) Xeon(R) Processor", "from_epoch": 1},
        {"cpu": "AMD EPYC", "from_epoch": 43}]
    assert cell.training_sessions(tmp_path, 50)[-2:] == [
        {"cpu": "Intel(R) Xeon(R) Processor", "from_epoch": 43},
        {"cpu": "AMD EPYC", "from_epoch": 51}]


def test_progress_line_gives_the_epoch_time_the_manifest_keeps(tmp_path):
    """The per-epoch log line and epoch_seconds.json (the manifest's epoch_seconds) come from
    one timer: the seconds printed for each epoch are the seconds written."""
    import io

    import keras
    import numpy as np

    from fer_keras.train.callbacks import EpochTimes, Progress

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    clock, stream = EpochTimes(tmp_path / "backup" / "epoch_seconds.json", [7.5]), io.StringIO()
    x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[clock, Progress("[cell 1/1]", 3, clock, stream=stream)])
    written = json.loads((tmp_path / "backup" / "epoch_seconds.json").read_text())
    lines = stream.getvalue().splitlines()
    assert len(written) == 4 and written[0] == 7.5  # the kept epoch, then this session's 3
    assert [line.split()[3] for line in lines] == ["1/3", "2/3", "3/3"]
    printed = [float(re.search(r" ([0-9.]+)s/epoch", line)[1]) for line in lines]
    assert printed == written[1:]
