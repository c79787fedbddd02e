"""Where a result comes from: the code's commit, package versions, hardware, times, hashes.

Light on purpose (no TensorFlow): the runner, the bench and the run-folder bookkeeping use it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

PACKAGES = ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "opencv-python-headless",
            "scipy", "statsmodels", "matplotlib", "dlib-bin")


def _git_state() -> tuple[str, list[str]]:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=here, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", []
    dirty = dirty_files(status)
    return (commit or "unknown") + ("-dirty" if dirty else ""), dirty


def dirty_files(porcelain: str) -> list[str]:
    """The paths in `git status --porcelain` output (two status letters, a space, the path)."""
    return sorted(line[3:] for line in porcelain.splitlines() if line.strip())


# The commit of the code this process runs: read once, when this module is imported, not when
# a cell finishes (files may change on disk while a long experiment runs). "-dirty" marks
# uncommitted changes to tracked files at that moment; CODE_DIRTY names those files, so a
# reader can tell an edited README from edited training code.
CODE_COMMIT, CODE_DIRTY = _git_state()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The switches that choose which kernels compute a model (oneDNN's or TensorFlow's own,
# deterministic or not): their numbers differ in the last bits, so a cell is resumed only under
# the switches it started with (runfolder.inspect). CUDA_VISIBLE_DEVICES only picks devices.
KERNEL_SWITCHES = ("TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS")
TF_SWITCHES = (*KERNEL_SWITCHES, "CUDA_VISIBLE_DEVICES")


def kernel_switches() -> dict[str, str]:
    """The KERNEL_SWITCHES set in this process's environment, with their values."""
    return {k: os.environ[k] for k in KERNEL_SWITCHES if k in os.environ}


def environment(gpus: list[str]) -> dict:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "git_commit": CODE_COMMIT,
        "git_dirty_files": CODE_DIRTY,
        "python": platform.python_version(),
        "packages": versions,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "platform": platform.platform(),
        # TensorFlow switches read from the environment that change which kernels run
        "tf_env": {k: os.environ[k] for k in TF_SWITCHES if k in os.environ},
    }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside `path` and move it into place when the block ends: a
    reader (or a killed run) never sees half a file, only the old one or the new one; several
    writers may race (the temporary name carries the process id). The temporary keeps the
    suffix, since some writers insist on it (Keras' `.keras`, `.npz`). A block that fails
    removes its temporary and leaves `path` as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


TEMPORARY = re.compile(r"^\..+\.\d+\.tmp(\.[^.]+)?$")  # atomic_path's names


def is_temporary(path: Path) -> bool:
    """Whether `path` is an `atomic_path` temporary (left behind by a killed writer)."""
    return bool(TEMPORARY.match(Path(path).name))


def remove_temporaries(folder: Path) -> None:
    """Remove the temporaries a killed writer left in `folder` (not below it)."""
    for path in Path(folder).glob(".*.tmp*"):
        if is_temporary(path):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()


def write_json(path: Path, obj) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_npz(path: Path, **arrays) -> None:
    """Compressed NumPy arrays, atomically like `write_json`."""
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_csv(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> Path:
    """A header and `rows`, atomically like `write_json`; the columns are `fieldnames`, or
    the first row's keys."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fieldnames or list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path
