"""Converters between the two formats: directory export <-> challenge CSV.

Row order of the CSV is Training, PublicTest, PrivateTest (the original file's order), and
within a split by file name, so `dir -> csv -> dir -> csv` gives a byte-identical CSV: `to-dir`
names its PNGs by row number, which sorts in row order.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.labels import CLASS_NAMES, SPLIT_NAMES
from ..core.provenance import atomic_path
from .dataset import FerData
from .directory import imwrite, load_directory
from .errors import DataError

# The Kaggle image export keeps Training in train/ and both test splits in test/.
SPLIT_FOLDER = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
_PIXEL_TEXT = [str(v) for v in range(256)]


def csv_order(data: FerData) -> np.ndarray:
    """Indices ordering rows as the challenge CSV: by split, then by file name."""
    names = np.array([os.path.basename(s) for s in data.sources])
    rank = np.array([SPLIT_NAMES.index(u) if u else -1 for u in data.usage])
    return np.lexsort((names, rank))


def write_challenge_csv(data: FerData, out: str | os.PathLike) -> int:
    """Write `emotion,pixels,Usage`, or `emotion,pixels` when no image's challenge split is
    known (an export whose files are not named Training_*, PublicTest_*, PrivateTest_*);
    returns the number of rows. A mix of known and unknown splits is refused."""
    missing = np.flatnonzero(data.usage == "")
    with_usage = missing.size == 0
    if 0 < missing.size < len(data):
        raise DataError(
            f"{data.sources[missing[0]]}: cannot tell the challenge split of this image (file "
            f"names must start with {', '.join(s + '_' for s in SPLIT_NAMES)}, as "
            f"{len(data) - missing.size} other image(s) do); {missing.size} image(s) like it"
        )
    order = csv_order(data)
    flat = data.images.reshape(len(data), -1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # atomically: a killed or failed write leaves no half CSV, and a link at `out` is
    # replaced itself, never the file it points to
    with atomic_path(out) as tmp, open(tmp, "w", newline="\n") as f:
        f.write("emotion,pixels,Usage\n" if with_usage else "emotion,pixels\n")
        for i in order:
            pixels = " ".join(map(_PIXEL_TEXT.__getitem__, flat[i].tolist()))
            usage = f",{data.usage[i]}" if with_usage else ""
            f.write(f"{int(data.labels[i])},{pixels}{usage}\n")
    return len(order)


def dir_to_csv(src: str | os.PathLike, out: str | os.PathLike) -> int:
    return write_challenge_csv(load_directory(src, use_cache=False), out)


def png_name(usage: str, row: int, rows: int) -> str:
    """File name write_directory gives row `row` of `rows`: zero-padded so names sort in row
    order (which keeps dir -> csv -> dir -> csv byte-identical)."""
    return f"{usage or 'image'}_{row:0{max(5, len(str(rows)))}d}.png"


def write_directory(data: FerData, out: str | os.PathLike) -> int:
    """Write `<out>/<train|test>/<class>/<Usage>_<row>.png` (lossless); returns the count.

    Rows without a challenge split go to `<out>/<class>/` directly.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: output folder is not empty")
    for i in range(len(data)):
        usage = str(data.usage[i])
        folder = out / SPLIT_FOLDER[usage] if usage else out
        target = folder / CLASS_NAMES[int(data.labels[i])] / png_name(usage, i, len(data))
        target.parent.mkdir(parents=True, exist_ok=True)
        imwrite(target, data.images[i, :, :, 0])
    return len(data)
