"""Cache of decoded arrays, so a second load of the same data takes well under a second.

The key is made of what identifies the input without decoding it again: for a file its size,
mtime and a SHA-256 of its first and last MiB (a full hash of a 300 MB CSV alone would take
about a second); for a folder, every image file's relative path, size and mtime. Any change to
the input changes the key, and a stale entry is simply never read again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..core.provenance import atomic_path
from .dataset import FerData

CACHE_VERSION = 1  # bump when the decoded form changes


def cache_dir() -> Path:
    root = os.environ.get("FER_KERAS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "fer-keras"


def file_key(path: Path) -> str:
    st = path.stat()
    h = hashlib.sha256()
    h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read())
    return h.hexdigest()


def listing_key(entries: list[tuple[str, int, int]]) -> str:
    h = hashlib.sha256()
    for rel, size, mtime in entries:
        h.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _entry(kind: str, key: str, options: dict) -> Path:
    tag = hashlib.sha256(
        json.dumps({"v": CACHE_VERSION, "kind": kind, "key": key, **options}, sort_keys=True)
        .encode()
    ).hexdigest()[:32]
    return cache_dir() / f"{kind}-{tag}.npz"


def load(kind: str, key: str, options: dict) -> FerData | None:
    path = _entry(kind, key, options)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return FerData(
                images=z["images"], labels=z["labels"], sources=z["sources"], usage=z["usage"],
                notes=tuple(str(n) for n in z["notes"]),
            )
    except (OSError, KeyError, ValueError):
        return None  # a damaged entry is rebuilt


def store(kind: str, key: str, options: dict, data: FerData) -> None:
    path = _entry(kind, key, options)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:  # several workers may store the same entry
            np.savez(tmp, images=data.images, labels=data.labels, sources=data.sources,
                     usage=data.usage, notes=np.array(data.notes, dtype=str))
    except OSError:
        pass  # a read-only home only costs speed
