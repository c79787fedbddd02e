"""Loader for the image-directory layout: `<root>/<class>/<image>`, or a root holding
`train/` and `test/` (the Kaggle image-folder export of FER-2013).

Folder names are mapped to canonical indices by name (`fer_keras.core.labels`), never by
alphabetical position. Images are decoded with OpenCV as grey uint8; images that are not
48x48 are resized (INTER_AREA) and counted.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ..core.labels import CLASS_NAMES, SPLIT_NAMES, class_index
from ..core.provenance import atomic_path
from . import cache
from .dataset import FerData
from .errors import DataError, warn

# every still-image format OpenCV decodes here (FER-2013's export is JPEG only)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
SPLIT_FOLDERS = ("train", "test")
SIZE = 48


def _split_of(name: str) -> str:
    for split in SPLIT_NAMES:
        if name.startswith(split + "_"):
            return split
    return ""


def _require_dir(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise DataError(f"{path}: expected a folder of class folders, found a file")


def split_folders(root: Path) -> list[Path]:
    """The split folders (train/, test/) of a root, or [] if root is itself a split folder."""
    return [root / s for s in SPLIT_FOLDERS if (root / s).is_dir()]


def _scan(folder: Path) -> list[tuple[str, int, int, int]]:
    """Image files of one split folder: (path, label, size, mtime_ns), sorted by path.

    Uses os.scandir strings, not Path objects: a warm load of 35,887 files must stay well under
    a second, and this listing is all a warm load does besides reading the cache.
    """
    _require_dir(folder)
    entries = list(folder.iterdir())
    class_dirs = sorted(p for p in entries if p.is_dir())
    if not class_dirs:
        raise DataError(
            f"{folder}: no class folders found; expected one folder per emotion "
            f"({', '.join(CLASS_NAMES)})"
        )
    strays = sorted(p.name for p in entries if not p.is_dir() and not p.name.startswith("."))
    if strays:
        warn(f"{folder}: skipped {len(strays)} file(s) beside the class folders: "
             + ", ".join(strays[:5]) + (" ..." if len(strays) > 5 else ""))
    files: list[tuple[str, int, int, int]] = []
    seen: dict[int, Path] = {}
    for d in class_dirs:
        label = class_index(d.name)
        if label is None:
            raise DataError(
                f"{d}: unknown class folder {d.name!r}; expected one of "
                f"{', '.join(CLASS_NAMES)} (any case, common synonyms, or 0-6): a FER-2013 "
                "image folder holds train/ and test/, each with one folder of faces per emotion"
            )
        if label in seen:  # e.g. happy/ and Happy/: never merged silently
            raise DataError(f"{d}: a second folder for class {CLASS_NAMES[label]!r} (beside "
                            f"{seen[label].name}/); expected one folder per emotion: merge "
                            "them or remove one")
        seen[label] = d
        images, others, broken = [], [], []
        with os.scandir(d) as it:
            for e in it:
                if e.name.startswith("."):
                    continue  # hidden: .DS_Store, ._x.jpg (macOS), editors' files
                if e.name.lower().endswith(IMAGE_EXTENSIONS) and e.is_file():
                    st = e.stat()
                    images.append((e.path, label, st.st_size, st.st_mtime_ns))
                elif e.is_symlink() and not os.path.exists(e.path):
                    broken.append(e.name)
                else:
                    others.append(e.name)
        for names, what in ((others, "non-image file(s)"), (broken, "broken link(s)")):
            if names:
                names.sort()
                shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
                warn(f"{d}: skipped {len(names)} {what}: {shown}")
        if not images:
            warn(f"{d}: empty class folder (no images)")
        files.extend(sorted(images))
    return files


def _jpeg_complete(path: str) -> bool:
    """A JPEG's image data ends with its EOI marker (FF D9). libjpeg decodes a truncated file
    without failing, filling the missing part with grey and printing a warning that names no
    file, so the marker is looked for here: after the first start-of-scan (the segments
    before it, such as an EXIF thumbnail with its own EOI, are skipped by their lengths),
    anywhere up to the end, so trailing metadata after a complete image is accepted. (In
    entropy-coded data FF is always followed by 00 or a restart marker.)"""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"\xff\xd8"):
        return True  # not a JPEG inside (a PNG named .jpg): OpenCV decodes it by content
    i = 2  # after SOI
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:  # start of scan: the image data follows its header
            return data.find(b"\xff\xd9", i + 2 + length) != -1
        i += 2 + length
    return False


def imread(path: str | os.PathLike, flags: int) -> np.ndarray | None:
    """cv2.imread, safe for any file name: OpenCV crashes (segmentation fault) on a name that
    is not valid UTF-8, so such a file is read as bytes and decoded. None when unreadable."""
    path = os.fspath(path)
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raw = np.fromfile(os.fsencode(path), np.uint8)
        return cv2.imdecode(raw, flags) if raw.size else None
    return cv2.imread(path, flags)


def imwrite(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write `image` in the format its suffix names, safe for any file name (OpenCV is never
    handed a name it cannot encode: the image is encoded in memory and written by Python),
    atomically (a link at `path` is replaced itself, never followed). DataError when the
    image cannot be encoded or written."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise DataError(f"{path}: could not encode the image as {path.suffix or '.png'}")
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(encoded.tobytes())
    except OSError as e:
        raise DataError(f"{path}: could not write the image ({e.strerror})") from None


def _decode(path: str) -> tuple[np.ndarray, bool]:
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: empty file (0 bytes); expected an image: re-copy or remove it")
    if path.lower().endswith((".jpg", ".jpeg")) and not _jpeg_complete(path):
        raise DataError(f"{path}: truncated or corrupt JPEG (no end-of-image marker); expected "
                        "a complete file: re-copy or remove it")
    img = imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise DataError(f"{path}: unreadable or corrupt image; expected an image file "
                        f"({', '.join(IMAGE_EXTENSIONS)})")
    if img.shape != (SIZE, SIZE):
        return cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA), True
    return img, False


def _decode_into(paths: list[str], out: np.ndarray) -> int:
    """Decode `paths` into `out` (n, 48, 48); returns how many were resized."""
    resized = 0
    for i, path in enumerate(paths):
        out[i], r = _decode(path)
        resized += r
    return resized


def _decode_all(paths: list[str]) -> tuple[np.ndarray, int]:
    """(images (n, 48, 48), resized count), decoded by one thread per core.

    Each thread decodes one contiguous share straight into the output array: one task per
    thread, not per file, because a thread-pool task costs about as much as decoding a
    48x48 JPEG. cv2.imread releases the GIL while reading and decoding, so the threads run
    in parallel. (np.fromfile + cv2.imdecode was 4x slower: np.fromfile costs ~100 us/file.)
    """
    out = np.empty((len(paths), SIZE, SIZE), np.uint8)
    workers = max(1, min(os.cpu_count() or 1, len(paths) // 64 or 1))
    cuts = np.linspace(0, len(paths), workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        resized = pool.map(lambda i: _decode_into(paths[cuts[i]:cuts[i + 1]],
                                                  out[cuts[i]:cuts[i + 1]]), range(workers))
        return out, sum(resized)


def load_directory(path: str | os.PathLike, subset: str | None = None,
                   use_cache: bool = True, color_mode: str = "grayscale") -> FerData:
    """Load `<root>/<class>/<image>`, or `<root>/{train,test}/<class>/<image>`.

    subset: for a root with split folders, "train" or "test" loads one of them; None loads all.
    color_mode: "grayscale" gives (n, 48, 48, 1); "rgb" gives (n, 48, 48, 3) with three
    identical channels, as `keras.utils.image_dataset_from_directory` gives for grey JPEGs.
    (The runner loads grey and lets the pipeline adapt channels to each model.)
    """
    if color_mode not in ("grayscale", "rgb"):
        raise DataError(f"color_mode {color_mode!r}: expected 'grayscale' or 'rgb'")
    data = _load_grey(Path(path), subset, use_cache)
    if color_mode == "rgb":
        return dataclasses.replace(data, images=np.repeat(data.images, 3, axis=-1))
    return data


def _load_grey(root: Path, subset: str | None, use_cache: bool) -> FerData:
    _require_dir(root)
    splits = split_folders(root)
    if subset is not None:
        if not splits:
            raise DataError(f"{root}: subset {subset!r} asked for, but there is no "
                            f"{subset}/ folder")
        if subset not in SPLIT_FOLDERS or not (root / subset).is_dir():
            raise DataError(f"{root}: no {subset}/ folder (found: {[p.name for p in splits]})")
        splits = [root / subset]
    folders = splits or [root]

    files = [f for folder in folders for f in _scan(folder)]
    if not files:
        raise DataError(f"{root}: no images found (expected {', '.join(IMAGE_EXTENSIONS)} files)")

    prefix = len(str(root)) + 1
    key = cache.listing_key([(p[prefix:], size, mtime) for p, _, size, mtime in files])
    options = {"root": str(root.resolve())}
    if use_cache and (hit := cache.load("dir", key, options)) is not None:
        return hit

    images, resized = _decode_all([p for p, *_ in files])
    images = images[..., None]
    notes = []
    if resized:
        notes.append(f"{resized} image(s) were not {SIZE}x{SIZE} and were resized")
        warn(f"{root}: {notes[-1]}")
    data = FerData(
        images=images,
        labels=np.array([f[1] for f in files], dtype=np.int64),
        sources=np.array([f[0] for f in files]),
        usage=np.array([_split_of(os.path.basename(f[0])) for f in files]),
        notes=tuple(notes),
    )
    if use_cache:
        cache.store("dir", key, options, data)
    return data
