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
import shutil
import zipfile
from pathlib import Path

from .provenance import is_temporary, sha256_file, write_json

# ---------------------------------------------------------------- the run folder's files
EXPERIMENT_FILE = "experiment.json"  # the resolved config and the cells on disk
NOISE_GAIN_FILE = "noise-gain.json"  # `fer-keras noise-gain` of the config's preprocessing
NEAR_COPIES_FILE = "near-copies.json"  # `fer-keras data near-copies` of the test images
FRESH_FILE = "fresh-vs-committed.json"  # `reproduce --fresh`: each cell beside its committed twin
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
CARD_FILE = "card.md"  # a published model's card, beside its model.keras (publish)
PREDICTIONS_FILE = "predictions.npz"  # the test split, scored once (as it is and mirrored)
# the validation part, scored by the same model as it is and mirrored: what an inference-time
# choice (flip averaging, an ensemble) is made on, from the run folder alone (since 2026-12-07)
VALIDATION_FILE = "validation.npz"
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
SESSIONS_FILE = "sessions.json"  # in the backup: the CPU of each training session, for the manifest
TENSORBOARD_DIR = "tensorboard"

FINISHED_GLOB = f"*/{SEED_GLOB}/{DONE_FILE}"  # the finished cells of a run folder
PUBLISHED_GLOB = f"*/models/*/{INFERENCE_FILE}"  # published models under reports/ (publish)

# the small files a copy of a finished cell keeps (a report's runs/, the committed runs): its
# results, no model files
KEPT_FILES = (CONFIG_FILE, MANIFEST_FILE, HISTORY_FILE, PREDICTIONS_FILE, VALIDATION_FILE,
              EXAMPLES_FILE, METRICS_FILE, ROBUSTNESS_FILE, GRADCAM_FILE, TEST_CURVE_FILE,
              QUALITY_FILE, ACTIVITY_FILE, DONE_FILE)
NOT_COPIED_KEY = "not_copied"  # in a copy's done.json: the recorded files the copy left out

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


# every finished cell holds these, whatever else it recorded (the cells finished before
# done.json listed its files, 2026-11-30, are checked against this list)
REQUIRED_FILES = (CONFIG_FILE, MANIFEST_FILE, HISTORY_FILE, PREDICTIONS_FILE, METRICS_FILE)


def verify(folder: Path) -> list[str]:
    """Why a finished cell cannot be trusted (empty: it verifies), as a whole: its done.json
    records an identity and the files it finished with; each of them must be present (but
    those a copy left out, NOT_COPIED_KEY: copy_cell), with the recorded SHA-256, and well
    formed; a file it does not list is damage too. A cell finished before done.json listed
    its files must hold REQUIRED_FILES."""
    folder = Path(folder)
    try:
        done = json.loads((folder / DONE_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return [f"{DONE_FILE}: it cannot be read"]
    if not isinstance(done, dict) or not done.get("identity") or not done.get("finished"):
        return [f"{DONE_FILE}: it records no identity or finishing time"]
    recorded = done.get("files") or {}
    left_out = set(done.get(NOT_COPIED_KEY) or ())  # a copy without its model files
    expected = [n for n in recorded if n not in left_out] or list(REQUIRED_FILES)
    problems = [f"{name}: missing ({DONE_FILE} lists it)" if recorded else f"{name}: missing"
                for name in expected if not (folder / name).is_file()]
    for path in cell_files(folder):
        name = path.relative_to(folder).as_posix()
        if recorded and name not in recorded:
            problems.append(f"{name}: not a file of the finished cell ({DONE_FILE} does not "
                            "list it)")
        elif name in recorded and sha256_file(path) != recorded[name]:
            problems.append(f"{name}: its SHA-256 differs from the one {DONE_FILE} recorded")
        elif (why := _form(path)) is not None:
            problems.append(f"{name}: {why}")
    return problems


def copy_cell(folder: Path, target: Path, names: tuple[str, ...] = KEPT_FILES) -> None:
    """A finished cell's files of these names (those it has) into a new folder `target`; its
    done.json, copied too, then names the recorded files the copy left out (NOT_COPIED_KEY),
    so the copy verifies as a whole (nothing else missing, nothing added) and a cell that lost
    a file does not."""
    folder, target = Path(folder), Path(target)
    target.mkdir(parents=True)
    for name in names:
        if (folder / name).exists() and name != DONE_FILE:
            shutil.copyfile(folder / name, target / name)
    try:
        done = json.loads((folder / DONE_FILE).read_text())
    except (OSError, ValueError):
        return  # an unfinished cell's copy: nothing to note
    kept = {p.name for p in target.iterdir()}
    left = sorted({*(done.get(NOT_COPIED_KEY) or ()),
                   *(n for n in done.get("files") or {} if n not in kept)})
    write_json(target / DONE_FILE, {**done, NOT_COPIED_KEY: left} if left else done)
