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
