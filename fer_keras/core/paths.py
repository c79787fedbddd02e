"""Output paths checked before anything is written: one line naming the path when a command
cannot write where it was told (a file in the way, no permission)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import OutputPathError


def _no_file_in_the_way(path: Path, what: str) -> None:
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise OutputPathError(f"{p}: is a file; expected a folder there for {what}")


def output_folder(path: str | os.PathLike, what: str = "the output") -> Path:
    """Create (if needed) and return a writable output folder."""
    path = Path(path)
    _no_file_in_the_way(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(f"{path}: cannot create the folder for {what} "
                              f"({e.strerror})") from None
    if not os.access(path, os.W_OK):
        raise OutputPathError(f"{path}: the folder for {what} is not writable")
    return path


def output_file(path: str | os.PathLike, what: str = "the output",
                overwrite: bool = False) -> Path:
    """Check that a file can be written at `path` (its folder is created if needed): a file
    already there is replaced only with `overwrite` (the command's --overwrite; a link is then
    replaced itself, never the file it points to)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise OutputPathError(f"{path}: is a folder; expected a file path for {what}")
    if os.path.lexists(path) and not overwrite:
        raise OutputPathError(f"{path}: already exists; expected a new file for {what}, or "
                              "--overwrite to replace it (nothing was changed)")
    output_folder(path.parent, what)
    return path
