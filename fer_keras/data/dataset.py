"""The in-memory form every loader returns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class FerData:
    """Images and labels in canonical FER-2013 indices (see `fer_keras.core.labels`).

    images:  (n, 48, 48, 1) uint8 grey pixels (RGB is made from them by the pipeline).
    labels:  (n,) int64 canonical class indices 0..6.
    sources: (n,) where each image came from: a file path, or "<csv>:<line>".
    usage:   (n,) original challenge split ("Training", "PublicTest", "PrivateTest"), or ""
             where the source does not tell.
    notes:   what loading changed or skipped (resized images, skipped files), for the manifest.
    """

    images: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    usage: np.ndarray
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @cached_property  # hashed once per object: the runner asks for it for every cell
    def fingerprint(self) -> str:
        """SHA-256 of pixels and labels: two loads with equal fingerprints hold the same data."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(np.ascontiguousarray(self.labels.astype(np.int64)).tobytes())
        return h.hexdigest()

    def subset(self, index: np.ndarray) -> FerData:
        return FerData(
            self.images[index], self.labels[index], self.sources[index], self.usage[index],
            self.notes,
        )

    def where_usage(self, *names: str) -> FerData:
        return self.subset(np.flatnonzero(np.isin(self.usage, names)))
