"""Where a result comes from: the code's commit, package versions, hardware, times, hashes.

Light on purpose (no TensorFlow): the runner, the bench and the run-folder bookkeeping use it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
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


TF_SWITCHES = ("TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "CUDA_VISIBLE_DEVICES")


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
def _atomic(path: Path):
    """Yield a temporary file beside `path` and move it into place when the block ends: a
    reader (or a killed run) never sees half a file; several writers may race."""
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    yield tmp
    os.replace(tmp, path)


def write_json(path: Path, obj) -> None:
    with _atomic(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_npz(path: Path, **arrays) -> None:
    """Compressed NumPy arrays, atomically like `write_json`."""
    with _atomic(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_csv(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> Path:
    """A header and `rows`, atomically like `write_json`; the columns are `fieldnames`, or
    the first row's keys."""
    path = Path(path)
    with _atomic(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fieldnames or list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path
