"""The run-folder contract: the name of every file of a run folder and of its cells, the cell
path scheme, and a finished cell's verification (a cell is trusted only when it verifies). No
other module names a file of a cell (tests/test_imports.py checks it).

    <out>/experiment.json, results.csv, noise-gain.json, .lock, _superseded/, _data/
    <out>/<format>-<model>[+<variant>]/seed-<n>/   one cell and seed: the files below

`done.json`, written last, records the SHA-256 of every file of the cell (cells finished
before 2026-11-30 recorded none). `verify` checks every file against it, and every file's
form whatever was recorded (JSON that parses, NumPy and Keras archives whose every member
reads back with a good CRC, a history with its header), so a file cut short or changed is
found before anything reuses, reports, publishes or exports the cell.

Light on purpose (no TensorFlow): reports, the runner's planning and `predict` use it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from .provenance import is_temporary, sha256_file

# ---------------------------------------------------------------- the run folder's files
EXPERIMENT_FILE = "experiment.json"  # the resolved config and the cells on disk
NOISE_GAIN_FILE = "noise-gain.json"  # `fer-keras noise-gain` of the config's preprocessing
NEAR_COPIES_FILE = "near-copies.json"  # `fer-keras data near-copies` of the test images
RESULTS_FILE = "results.csv"  # one row per finished cell and seed
PLAN_KEY = "planned"  # in experiment.json: every cell asked of the folder, finished or not
LOCK_FILE = ".lock"  # held by the one `fer-keras run` writing the folder (run_lock)
SUPERSEDED = "_superseded"  # where cells in the way or damaged are moved, never deleted
SEED_PREFIX = "seed-"
SEED_GLOB = f"{SEED_PREFIX}*"

# ------------------------------------------------------------------ a cell's files
CONFIG_FILE = "config.json"  # resolved config, the cell's factors and identity
MANIFEST_FILE = "manifest.json"  # provenance: commit, packages, hardware, times, split sizes
SPLIT_FILE = "split.npz"  # train/val/test indices into the loaded data
HISTORY_FILE = "history.csv"  # per-epoch training log
CHECKPOINT_FILE = "best.keras"  # the scored checkpoint (optimizer state included)
MODEL_FILE = "model.keras"  # the scored model behind the one input contract
INFERENCE_FILE = "inference.json"  # what predict and export read beside model.keras
PREDICTIONS_FILE = "predictions.npz"  # the test split, scored once
EXAMPLES_FILE = "examples.npz"  # the first test images with their predictions
METRICS_FILE = "metrics.json"  # scikit-learn metrics on the test split
QUALITY_FILE = "quality.json"  # image quality of a cell's training, validation and test parts
ROBUSTNESS_FILE = "robustness.json"  # test metrics with noise added (noise_eval)
GRADCAM_FILE = "gradcam.npz"  # Grad-CAM heat maps of the example images
ACTIVITY_FILE = "activity.json"  # dead ReLU units per layer on the example images
TEST_CURVE_FILE = "test_curve.csv"  # test accuracy after every epoch (an oracle)
DONE_FILE = "done.json"  # written last: the SHA-256 of every other file
BACKUP_DIR = "backup"  # the resumable state of an unfinished cell
TRAINED_FILE = "trained.json"  # in the backup: fit() returned; evaluation and record remain
EPOCH_TIMES_FILE = "epoch_seconds.json"  # in the backup: each epoch's seconds, for the manifest
TENSORBOARD_DIR = "tensorboard"

FINISHED_GLOB = f"*/{SEED_GLOB}/{DONE_FILE}"  # the finished cells of a run folder
PUBLISHED_GLOB = f"*/models/*/{INFERENCE_FILE}"  # published models under reports/ (publish)

NOT_HASHED = {DONE_FILE}
NOT_CELL_FILES = {BACKUP_DIR, TENSORBOARD_DIR}  # working folders, not results


def seed_folder(cell_dir: Path, seed: int) -> Path:
    """<cell>/seed-<n>/: one seed of a cell."""
    return Path(cell_dir) / f"{SEED_PREFIX}{seed}"


def cell_files(folder: Path) -> list[Path]:
    """Every result file of a cell folder (done.json, working folders and the temporaries of
    a killed writer left out)."""
    folder = Path(folder)
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in NOT_HASHED
            and p.relative_to(folder).parts[0] not in NOT_CELL_FILES and not is_temporary(p)]


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in cell_files(folder)}


def _form(path: Path) -> str | None:
    """What is wrong with the file's form, or None."""
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix in (".npz", ".keras"):
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
            if bad is not None:
                return f"its member {bad} is damaged"
        elif path.name == "history.csv" and not path.read_text().startswith("epoch,"):
            return "it has no header row"
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        return f"it cannot be read ({type(e).__name__})"
    return None


def verify(folder: Path) -> list[str]:
    """Why a finished cell cannot be trusted (empty: it verifies). A recorded file that is
    absent is not a fault here (a report's copy keeps no model files); one that is present
    must have the recorded SHA-256, and every file must be well formed."""
    folder = Path(folder)
    try:
        done = json.loads((folder / DONE_FILE).read_text())
    except (OSError, ValueError):
        return [f"{DONE_FILE}: it cannot be read"]
    recorded = done.get("files") or {}
    problems = []
    for path in cell_files(folder):
        name = path.relative_to(folder).as_posix()
        if name in recorded and sha256_file(path) != recorded[name]:
            problems.append(f"{name}: its SHA-256 differs from the one {DONE_FILE} recorded")
        elif (why := _form(path)) is not None:
            problems.append(f"{name}: {why}")
    return problems
