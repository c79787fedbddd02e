"""Reliability under faults (issue #35): one run per folder, SIGTERM handled like Ctrl-C."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OZER = ROOT / "experiments" / "ozer.py"
pytestmark = pytest.mark.slow


def _start(sample, out, *extra):
    images, csv_path = sample
    return subprocess.Popen([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                             str(images), "--csv", str(csv_path), "--out", str(out),
                             "formats=csv", "models=ozer_cnn", "seeds=0", "max_epochs=40",
                             "min_epochs=40", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.5)


def test_a_second_run_on_the_same_folder_is_refused_and_sigterm_stops_the_first(sample,
                                                                                 tmp_path):
    out = tmp_path / "run"
    first = _start(sample, out, "--jobs", "2")
    try:
        _wait_for(out / "csv-ozer_cnn" / "seed-0" / "history.csv")  # training has begun
        second = _start(sample, out, "--jobs", "1")
        _, err = second.communicate(timeout=300)
        assert second.returncode == 2, err
        assert err.strip().splitlines() == [
            f"error: {out}: another fer-keras run (process {first.pid}) is writing this run "
            "folder; expected one run per folder: wait for it to end, or give this one another "
            "--out"]
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=300)
    assert first.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("interrupted: nothing finished was lost")
    assert "Traceback" not in err
    backup = out / "csv-ozer_cnn" / "seed-0" / "backup"
    assert (backup / "training_metadata.json").exists()  # resumable from its last epoch


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the parent pid
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_stop_when_their_run_is_killed(sample, tmp_path):
    """SIGKILL of the parent (no chance to stop its workers) leaves no worker training on
    alone: each gets SIGTERM from the system and stops, keeping its backup."""
    out = tmp_path / "run"
    images, csv_path = sample
    proc = subprocess.Popen([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                             str(images), "--csv", str(csv_path), "--out", str(out),
                             "formats=csv", "models=ozer_cnn", "seeds=0,1", "max_epochs=40",
                             "min_epochs=40", "--jobs", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for seed in (0, 1):
        _wait_for(out / "csv-ozer_cnn" / f"seed-{seed}" / "history.csv")
    workers = [c for c in _children(proc.pid)
               if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 120
    while any(_alive(w) for w in workers):
        assert time.monotonic() < end, "a worker kept training after its run was killed"
        time.sleep(0.5)
    for seed in (0, 1):
        assert not (out / "csv-ozer_cnn" / f"seed-{seed}" / "done.json").exists()


# One damaged file per cell (issue #35, finding 4; issue #62: a missing, an unlisted file and
# an empty done.json): what each looked like when found.
DAMAGE = {0: ("config.json", "cut"), 1: ("metrics.json", "cut"), 2: ("manifest.json", "cut"),
          3: ("predictions.npz", "cut"), 4: ("model.keras", "cut"), 5: ("history.csv", "edit"),
          6: ("metrics.json", "delete"), 7: ("predictions.npz", "delete"),
          8: ("config.json", "delete"), 9: ("history.csv", "delete"),
          10: ("model.keras", "delete"), 11: ("done.json", "empty"), 12: ("notes.txt", "add")}
SEEDS = ",".join(map(str, DAMAGE))


def _damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "empty":
        path.write_text("{}")
    elif how == "add":
        path.write_text("a file the cell never recorded")
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if how == "cut" else data.replace(b"1", b"2", 1))


def test_a_damaged_finished_cell_is_never_reused_nor_reported(sample, tmp_path):
    """Each cell of the table is found damaged (dry run, run, report, predict), moved aside
    whole and trained again; results.csv and experiment.json never list a cell moved aside."""
    images, csv_path = sample
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data", str(images),
           "--csv", str(csv_path), "--out", str(out), "formats=csv", "models=ozer_cnn",
           f"seeds={SEEDS}", "max_epochs=1", "--jobs", "1"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    before = {s: (out / f"csv-ozer_cnn/seed-{s}" / name).read_bytes()
              for s, (name, how) in DAMAGE.items() if how != "add"}
    for seed, (name, how) in DAMAGE.items():
        _damage(out / f"csv-ozer_cnn/seed-{seed}" / name, how)
    plan = subprocess.run([*cmd, "--dry-run"], cwd=ROOT, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    rows = [line for line in plan.stdout.splitlines() if line.startswith("csv-ozer_cnn ")]
    assert len(rows) == len(DAMAGE) and all(" damaged " in r for r in rows), plan.stdout
    for seed, (name, _) in DAMAGE.items():
        assert f"({name}: " in rows[seed], rows[seed]
    report = subprocess.run([sys.executable, "-m", "fer_keras.cli", "report", str(out),
                             "--out", str(tmp_path / "rep")], cwd=ROOT, capture_output=True,
                            text=True)
    assert report.returncode == 2 and "no finished cells" in report.stderr
    assert report.stderr.count("left out of the report") == len(DAMAGE)
    assert "Traceback" not in report.stderr
    for seed in (4, 10, 11):  # a cut model, no model, an empty done.json
        pred = subprocess.run([sys.executable, "-m", "fer_keras.cli", "predict",
                               str(out / f"csv-ozer_cnn/seed-{seed}"), str(images / "test")],
                              cwd=ROOT, capture_output=True, text=True)
        assert pred.returncode == 2 and pred.stderr.startswith(
            f"error: {out / f'csv-ozer_cnn/seed-{seed}'}: damaged cell ({DAMAGE[seed][0]}: ")
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("damaged (") == len(DAMAGE)
    assert run.stdout.count("training it again") == len(DAMAGE)
    kept = sorted((out / "_superseded").glob("*/csv-ozer_cnn/seed-*"))
    assert len(kept) == len(DAMAGE)  # moved aside, never deleted
    for seed, (name, how) in DAMAGE.items():
        cell = out / f"csv-ozer_cnn/seed-{seed}"
        assert (cell / "done.json").exists() and not (cell / "notes.txt").exists()
        if how != "add" and name not in ("manifest.json", "model.keras", "done.json"):
            assert (cell / name).read_bytes() == before[seed], name  # trained again, same
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == len(DAMAGE) + 1


def test_the_aggregates_drop_a_damaged_cell_as_soon_as_it_is_moved_aside(sample, tmp_path):
    """results.csv and experiment.json are rebuilt when a damaged cell is moved aside, before
    it trains again: a retraining that is stopped leaves them naming only verified cells
    (watched while seed 1 trains again)."""
    import json

    images, csv_path = sample
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data", str(images),
           "--csv", str(csv_path), "--out", str(out), "formats=csv", "models=ozer_cnn",
           "seeds=0,1", "max_epochs=1", "--jobs", "1"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    (out / "csv-ozer_cnn/seed-1/metrics.json").unlink()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = []
    while proc.poll() is None:  # while seed 1 trains again: the aggregates without it
        rows = (out / "results.csv").read_text().splitlines()
        cells = json.loads((out / "experiment.json").read_text()).get("cells", [])
        if len(rows) == 2 and [c["seed"] for c in cells] == [0]:
            seen = rows
            break
        time.sleep(0.05)
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    assert seen and seen[1].startswith("csv,ozer_cnn,,0,"), "never rebuilt without seed 1"


def test_a_published_model_that_does_not_match_its_sha256_is_refused(tmp_path):
    import shutil

    published = ROOT / "reports" / "ozer" / "models" / "csv-ozer_cnn"
    copy = tmp_path / "m"
    shutil.copytree(published, copy)
    _damage(copy / "model.keras", "edit")
    face = tmp_path / "face.png"
    face.write_bytes((ROOT / "reports" / "data-audit" / "examples.png").read_bytes())
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "predict", str(copy),
                          str(face)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.strip() == (
        f"error: {copy / 'model.keras'}: its SHA-256 differs from the one inference.json "
        "records; expected the model file as it was saved (damaged or replaced?)")


@pytest.mark.parametrize("size", ["3m", "5m", "8m"])
def test_a_full_disk_ends_in_one_line(sample, tmp_path, size):
    """A run whose --out fills up at different moments (the first files, a checkpoint, the
    per-epoch backup): one error line, exit 2, no traceback, no crash (HDF5 once printed
    tracebacks and the interpreter died with a segmentation fault, exit 139)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        images, csv_path = sample
        res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                              str(images), "--csv", str(csv_path), "--out", str(disk / "run"),
                              "formats=csv", "models=ozer_cnn", "seeds=0,1", "max_epochs=3",
                              "--jobs", "2"], cwd=ROOT, capture_output=True, text=True)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
    assert res.returncode == 2, res.stderr[-2000:]
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "no space left on the device" \
        in err[0], res.stderr[-2000:]


def test_a_report_on_a_full_disk_ends_in_one_line_and_leaves_nothing_half_written(tmp_path):
    """A report that runs out of room: one line naming where it was writing (no "?"), no
    line about resuming cells, and no 0-byte figure or other partial file left behind."""
    from tests.fake_runs import write_fake_runs

    runs = write_fake_runs(tmp_path / "runs", seeds=(0,))
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "report", str(runs),
                              "--out", str(disk / "rep")], cwd=ROOT, capture_output=True,
                             text=True)
        left = sorted(p.relative_to(disk).as_posix() for p in disk.rglob("*"))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
    assert res.returncode == 2, res.stderr[-2000:]
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "no space left on the device" in err[0], res.stderr[-2000:]
    assert not err[0].startswith("error: ?") and "resumes" not in err[0]
    assert left == ["rep"]  # the staging folder went with everything in it


def test_an_output_path_that_cannot_be_written_is_refused_before_the_data_loads(tmp_path):
    """--out below a file, with data that would fail to load: the --out line comes first, so
    a user waits for no data load to learn that the output cannot be written."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    bad_data = tmp_path / "data"
    (bad_data / "not-an-emotion").mkdir(parents=True)
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                          str(bad_data), "--out", str(blocker / "run")], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.strip() == (
        f"error: {blocker}: is a file; expected a folder there for the run")


@pytest.mark.parametrize("sig,stop", [("SIGTERM", "Terminated"), ("SIGINT", "KeyboardInterrupt")])
def test_a_stop_during_fit_is_raised_between_batches_never_inside_them(sig, stop):
    """Raised wherever its handler ran, a stop once landed inside TensorFlow's native code
    (nest.flatten calling back into Python), became a SystemError TensorFlow printed and
    dropped, and the worker trained on until it was killed (seen in CI). Within fit a stop is
    only noted, and StopWhenSignalled raises it between batches; outside fit it is raised at
    once, and one swallowed there still stops the next fit before its first batch."""
    import os

    import keras
    import numpy as np

    from fer_keras.train import workers
    from fer_keras.train.callbacks import StopWhenSignalled

    signum = getattr(signal, sig)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32")
    batches, raised_in_handler = [], []

    def send_at_batch_1(batch, logs):
        batches.append(batch)
        if batch == 1:
            try:
                os.kill(os.getpid(), signum)
                time.sleep(0.05)  # the handler runs here, in the main thread
            except BaseException as e:  # noqa: BLE001 - what the handler raised, if anything
                raised_in_handler.append(e)

    def fit(epochs, callbacks):
        with workers.stops_between_batches():
            model.fit(x, y, batch_size=2, epochs=epochs, verbose=0, callbacks=callbacks)

    try:
        workers.interrupt_on_sigterm()
        sender = keras.callbacks.LambdaCallback(on_train_batch_end=send_at_batch_1)
        with pytest.raises(KeyboardInterrupt) as raised:
            fit(3, [sender, StopWhenSignalled()])
        assert raised_in_handler == [] and type(raised.value).__name__ == stop
        assert batches == [0, 1]  # stopped right after the batch under way
        # outside fit: raised by the handler itself (here swallowed, as native code may)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
            time.sleep(0.05)
        batches.clear()
        counted = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda b, logs: batches.append(b))
        with pytest.raises(KeyboardInterrupt):
            fit(3, [StopWhenSignalled(), counted])
        assert batches == []
        # raised once: the next fit trains every batch
        fit(1, [StopWhenSignalled(), counted])
        assert batches == [0, 1, 2, 3]
    finally:
        for s, h in before.items():
            signal.signal(s, h)


def _fills_the_disk():
    raise OSError(28, "No space left on device")


def test_a_stop_while_a_worker_reports_its_failure_leaves_that_failure_one_message(monkeypatch):
    """Two workers filling one disk fail at once; the parent, stopping every worker after the
    first failure, sends the second SIGTERM while it formats its own traceback. Raised there,
    the stop escaped the worker as multiprocessing's traceback and broke the one error line
    (CI, test_a_full_disk_ends_in_one_line). Once a task has ended, a stop is ignored: the
    worker still reports its failure as one message."""
    import os
    import pickle

    from fer_keras.train import workers

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def format_exc_under_a_stop():
        os.kill(os.getpid(), signal.SIGTERM)  # the parent's stop, arriving right here
        time.sleep(0.05)  # its handler would run here
        return "traceback"

    monkeypatch.setattr(workers.traceback, "format_exc", format_exc_under_a_stop)
    try:
        workers.interrupt_on_sigterm()
        status, (error, text) = workers._outcome(pickle.dumps((_fills_the_disk, ())),
                                                 os.getppid())
        assert (status, type(error), error.errno, text) == ("error", OSError, 28, "traceback")
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
