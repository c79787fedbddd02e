"""What every cell records about its images (quality.json), and the upkeep of cells finished
before a file existed: a reused cell gets the files added since, computed from the data and
split it used (the same identity gives the same split), never by training again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.cellfiles import PREDICTIONS_FILE, QUALITY_FILE
from ..core.provenance import write_json, write_npz
from ..data import FerData
from ..data.audit import data_shift, split_quality
from ..data.errors import DataError
from ..data.splits import Split


def record_quality(folder: Path, data: FerData, split: Split,
                   shifts: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """quality.json: sharpness and contrast of the training, validation and test images as
    loaded (before any preprocessing), a sentence for each pair that differs, and the data-shift
    guard's findings (`shifts` when the plan computed them, else computed here), so that a
    report can say when a model was trained on one kind of image and scored on another.
    Returns the findings it recorded."""
    parts = split.as_arrays()
    shifts = tuple(data_shift(data, split)) if shifts is None else shifts
    write_json(folder / QUALITY_FILE, {
        **split_quality(data.images, {k: parts[k] for k in ("train", "val", "test")}),
        "data_shift": list(shifts)})
    return shifts


def record_test_usage(folder: Path, data: FerData, split: Split) -> bool:
    """A cell finished before predictions.npz held `usage` (each test image's original
    FER-2013 part) gets it, from the data and split the cell used: the same identity gives
    the same split, and the stored test indices must equal it. True when it was added."""
    path = folder / PREDICTIONS_FILE
    with np.load(path) as z:  # lazy: a cell that has it costs a look at the file's index
        if "usage" in z.files:
            return False
        arrays = {k: z[k] for k in z.files}
    if not np.array_equal(arrays["indices"], split.test):
        raise DataError(f"{path}: its test indices differ from the split this cell's config "
                        "and data give; expected the same images (is it another run's cell?)")
    write_npz(path, **arrays, usage=data.usage[split.test])
    return True


def reuse(folder: Path, data: FerData, split: Split, label: str) -> None:
    """A cell finished with the same identity: reused; files added since it finished are
    completed from the data and split it used."""
    print(f"{label} already done with the same config, data and model; reused", flush=True)
    if not (folder / QUALITY_FILE).exists():  # cells finished before it existed
        # the split the cell used: same identity, so split_of gives the same indices
        # (a committed copy keeps no split.npz)
        record_quality(folder, data, split)
        print(f"{label} image quality of its split recorded ({QUALITY_FILE})", flush=True)
    if record_test_usage(folder, data, split):
        print(f"{label} original FER-2013 part of each test image recorded "
              f"({PREDICTIONS_FILE})", flush=True)
