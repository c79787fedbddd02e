"""A finished cell's files and their verification: a cell is trusted only when it verifies.

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

DONE_FILE = "done.json"
NOT_HASHED = {DONE_FILE}
NOT_CELL_FILES = {"backup", "tensorboard"}  # working folders, not results


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
