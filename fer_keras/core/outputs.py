"""What a command may replace in a folder a user names: only what it can prove it wrote.

The commands that write several files into one folder (`report`, `index`, the study report,
`data sample`, `publish`, `predict --out`) record what they wrote in
`<folder>/.fer-keras-outputs.json`: each file's path below the folder, its SHA-256 and the
command. A later run may replace or remove a file only when that record names it and the file
is unchanged since (the same SHA-256, a plain file, not a link), or when the file already holds
exactly the bytes about to be written (nothing is lost). Anything else in the way (a user's
file, one edited since, a link, a folder) stops the command before it writes anything: one
line naming the path, nothing changed. `overwrite` (a command's `--overwrite`) lets a plain
file or a link be replaced: the link itself, never the file it points to. No folder the
command did not create is removed, and nothing is written through a linked folder.

Most commands build their outputs in a staging folder inside the target (`staged`, a name
`provenance.is_temporary` knows) and move them in only once everything was made and checked: a
failure (a bug, a full disk) leaves the folder as it was. (export's sidecar and the runner's
cell folders keep their own records: export.is_export, cellfiles.verify.)

Light on purpose: no TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from .errors import FerKerasError
from .provenance import sha256_file, write_json

MARKER = ".fer-keras-outputs.json"


class OutputError(FerKerasError):
    """A file or folder in the way of a command's output that it may not replace."""


def recorded(folder: Path) -> dict:
    """{"files": {path: {"sha256", "by"}}, "folders": [paths it created]} of `folder`."""
    path = Path(folder) / MARKER
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"files": {}, "folders": []}
    except (OSError, ValueError, UnicodeDecodeError):
        raise OutputError(f"{path}: cannot be read; expected the record fer-keras keeps of the "
                          f"files it wrote in {folder} (move it away: fer-keras then replaces "
                          "nothing there)") from None
    return {"files": dict(data.get("files") or {}), "folders": list(data.get("folders") or [])}


def owned(folder: Path, rel: str, record: dict) -> bool:
    """Whether `folder/rel` is a plain file fer-keras wrote and nobody changed since."""
    path = Path(folder) / rel
    entry = record["files"].get(rel)
    return (entry is not None and not path.is_symlink() and path.is_file()
            and sha256_file(path) == entry.get("sha256"))


def within(folder: Path, rel: str) -> Path:
    """`folder/rel`, refused when a folder on the way is a link or a file: nothing is ever
    written through a link out of the folder."""
    path = Path(folder) / rel
    for parent in reversed(path.relative_to(folder).parents[:-1]):  # top-down, folder excluded
        here = Path(folder) / parent
        if here.is_symlink():
            raise OutputError(f"{here}: is a link; expected a plain folder below {folder} "
                              "(fer-keras writes nothing through a link; nothing was changed)")
        if here.exists() and not here.is_dir():
            raise OutputError(f"{here}: is a file where fer-keras writes a folder; expected "
                              "it moved away, or a new output folder (nothing was changed)")
    return path


def in_the_way(folder: Path, rel: str, record: dict, overwrite: bool = False,
               new: Path | None = None) -> str | None:
    """Why `folder/rel` may not be written (None: it may). `new`: the file about to be
    written there, whose same bytes are no loss."""
    path = within(Path(folder), rel)
    if not os.path.lexists(path) or owned(folder, rel, record):
        return None
    if path.is_dir() and not path.is_symlink():
        return (f"{path}: a folder is in the way; expected a file fer-keras wrote there, or "
                "nothing (nothing was changed)")
    if overwrite or (new is not None and not path.is_symlink() and path.is_file()
                     and sha256_file(path) == sha256_file(new)):
        return None
    return (f"{path}: already exists and fer-keras did not write it (or it changed since); "
            "expected a new output folder, or --overwrite to replace it (nothing was changed)")


def _save(folder: Path, record: dict) -> None:
    write_json(Path(folder) / MARKER, {"files": dict(sorted(record["files"].items())),
                                       "folders": sorted(set(record["folders"]))})


def remember(folder: Path, command: str, rels) -> None:
    """Record files `command` has just written into `folder` (each already in place)."""
    record = recorded(folder)
    for rel in rels:
        record["files"][rel] = {"sha256": sha256_file(Path(folder) / rel), "by": command}
    _save(folder, record)


def place(stage: Path, folder: Path, command: str, overwrite: bool = False,
          keep: tuple[str, ...] = ()) -> list[str]:
    """Move every file of `stage` to the same place in `folder`, once every one was checked
    (`in_the_way`); then remove the files `command` recorded there earlier and did not make
    this time (when unchanged; none under a `keep` prefix), and the folders it created that end
    empty. Returns the files placed."""
    stage, folder = Path(stage), Path(folder)
    files = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    record = recorded(folder)
    for rel in files:
        if (why := in_the_way(folder, rel, record, overwrite, stage / rel)) is not None:
            raise OutputError(why)
    stale = [rel for rel, e in record["files"].items()
             if e.get("by") == command and rel not in files and not rel.startswith(keep)
             and owned(folder, rel, record)]
    hashes = {rel: sha256_file(stage / rel) for rel in files}
    created = set(record["folders"])
    for rel in files:
        target = folder / rel
        for parent in reversed(Path(rel).parents[:-1]):
            if not (folder / parent).exists():
                (folder / parent).mkdir()
                created.add(parent.as_posix())
        os.replace(stage / rel, target)  # a link in the way (overwrite) is replaced itself
    for rel in stale:
        (folder / rel).unlink()
        del record["files"][rel]
    for rel in sorted(created, key=lambda r: -r.count("/")):  # the deepest first
        path = folder / rel
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
            created.discard(rel)
    record["files"].update({rel: {"sha256": h, "by": command} for rel, h in hashes.items()})
    record["folders"] = sorted(c for c in created if (folder / c).is_dir())
    _save(folder, record)
    return files


@contextmanager
def staged(folder: Path, command: str, overwrite: bool = False, keep: tuple[str, ...] = ()):
    """Yield an empty staging folder; when the block ends, its files are placed in `folder`
    (`place`). A block that fails leaves `folder` as it was."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = folder / f".{command}.{os.getpid()}.tmp"
    shutil.rmtree(stage, ignore_errors=True)  # this process's own, from a failed block
    stage.mkdir()
    try:
        yield stage
        place(stage, folder, command, overwrite, keep)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
