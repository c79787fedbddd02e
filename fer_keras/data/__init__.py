"""Data layer: loaders for both FER-2013 formats, splits, weights, pipeline, sample data.

Knows nothing of models, the runner or reports.
"""

from __future__ import annotations

import os
from pathlib import Path

from .csv import load_csv
from .dataset import FerData
from .directory import load_directory
from .errors import DataError

__all__ = ["DataError", "FerData", "load", "load_csv", "load_directory"]


def load(path: str | os.PathLike, subset: str | None = None, use_cache: bool = True) -> FerData:
    """Load either format: a folder with the directory loader, a file with the CSV loader."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        return load_directory(p, subset=subset, use_cache=use_cache)
    if subset is not None:
        raise DataError(f"{p}: subset {subset!r} applies to a directory export, not to a CSV")
    return load_csv(p, use_cache=use_cache)
