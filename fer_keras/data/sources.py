"""Where a run's data comes from: one format loaded from what the user gave (an image export or
a CSV), converting from the other format where needed, and the preprocessed copy of a data
set. Conversions and preprocessed copies are made once and cached under a folder of derived
data (the runner's `<out>/_data/`), keyed by the source's fingerprint, so other data never
reuses them. Plain paths and values in, FerData out: no config, no runner."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from ..core.provenance import atomic_path
from . import convert
from .csv import load_csv
from .dataset import FerData
from .directory import load_directory, split_folders
from .errors import DataError
from .preprocess import PreprocessConfig, Preprocessed, preprocess

COMPLETE = ".complete"  # written last in a converted image export


def derived(root: Path, source: FerData, name: str) -> Path:
    """Where something made from `source` lives: under its fingerprint, so a run given other
    data never reuses a conversion of the old data."""
    return Path(root) / source.fingerprint[:16] / name


def csv_source(data: Path, csv: Path | None, derived_root: Path) -> Path:
    """The CSV the csv format reads: `csv`, `data` when it is a CSV, or the challenge CSV built
    once from an image export (under derived_root/<fingerprint>/)."""
    src = Path(data)
    path = csv or (src if src.is_file() else None)
    if path is None:  # an image export was given: build the challenge CSV from all of it
        source = load_directory(src)
        path = derived(derived_root, source, "fer2013.csv")
        if not path.exists():
            print(f"building the CSV format from {src} in {path} ...", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:  # workers of a study may race here
                convert.write_challenge_csv(source, tmp)
    return Path(path)


def load_format(fmt: str, data: Path, csv: Path | None, derived_root: Path, whole: bool,
                directory_subset: str = "all", csv_subset: str = "all") -> FerData:
    """The data of one format. `whole`: every part of the data set (a split by the challenge's
    own parts needs them all); otherwise `directory_subset` / `csv_subset` choose a part."""
    src = Path(data)
    if not src.exists():
        raise DataError(f"{src}: no such file or folder (given as --data)")
    if fmt == "directory":
        root = src
        if src.is_file():  # a CSV was given: write the image export from it once
            source = load_csv(src)
            root = derived(derived_root, source, "images")
            if not (root / COMPLETE).exists():
                shutil.rmtree(root, ignore_errors=True)
                print(f"building the directory format from {src} in {root} ...", flush=True)
                convert.write_directory(source, root)
                (root / COMPLETE).touch()
        subset = None if whole or not split_folders(root) or directory_subset == "all" \
            else directory_subset
        return load_directory(root, subset=subset)
    if fmt == "csv":
        path = csv_source(src, csv, derived_root)
        loaded = load_csv(path)
        if csv_subset != "all" and not whole:
            loaded = loaded.where_usage(csv_subset)
            if not len(loaded):
                raise DataError(f"{path}: no rows with Usage {csv_subset!r} (csv_subset)")
        return loaded
    raise DataError(f"unknown data format {fmt!r}; known: directory, csv")


def preprocessed(data: FerData, settings: PreprocessConfig, derived_root: Path
                 ) -> tuple[FerData, Preprocessed | None]:
    """Every image of the data set through `settings`, once per data set and settings (cached
    under derived_root/<fingerprint>/, keyed on both)."""
    if not settings.enabled:
        return data, None
    path = derived(derived_root, data, f"preprocessed-{settings.key()}.npz")
    if path.exists():
        with np.load(path) as z:
            done = Preprocessed(z["images"], z["angles"], z["rotated"], settings)
    else:
        print(f"preprocessing {len(data)} images ({settings}) ...", flush=True)
        done = preprocess(data.images, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:  # workers may race
            np.savez(tmp, images=done.images, angles=done.angles, rotated=done.rotated)
    note = "preprocessed: " + ", ".join(f"{k} {v}" for k, v in done.summary().items())
    return dataclasses.replace(data, images=done.images, notes=(*data.notes, note)), done
