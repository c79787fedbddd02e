"""Near-copies across FER-2013's parts: test images with a training image that is all but the
same picture (the collection holds many: the same face cropped or re-encoded twice).

A test image's distance to the training part is the root-mean-square difference of its 2,304
pixels (grey levels, 0-255) to its nearest training image; below a threshold (2 grey levels
by default) it is a near-copy, and its score says little about generalisation. Computed with
the identity |a - b|^2 = |a|^2 + |b|^2 - 2 a.b over blocks of test images, in float64 (the
squared sums reach 1.5e8, where float32 would lose the grey levels that matter).
docs/data.md gives the method; tests/test_near.py checks it on hand-made images.
"""

from __future__ import annotations

import numpy as np

from .dataset import FerData

THRESHOLD = 2.0  # grey levels RMS: a near-copy
BLOCK = 256  # test images per block: a block x n_train float64 matrix at a time


def nearest(queries: np.ndarray, references: np.ndarray, block: int = BLOCK
            ) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the RMS distance (grey levels) to its nearest reference image
    and that image's index. Images: (n, 48, 48[, 1]) of any numeric type."""
    q = queries.reshape(len(queries), -1).astype(np.float64)
    r = references.reshape(len(references), -1).astype(np.float64)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"images of {q.shape[1]} and {r.shape[1]} pixels cannot be compared")
    r_sq = np.einsum("ij,ij->i", r, r)
    distance = np.empty(len(q))
    index = np.empty(len(q), np.int64)
    for start in range(0, len(q), block):
        part = q[start:start + block]
        sq = np.einsum("ij,ij->i", part, part)[:, None] + r_sq[None, :] - 2.0 * part @ r.T
        best = sq.argmin(1)
        index[start:start + block] = best
        distance[start:start + block] = np.sqrt(np.maximum(sq[np.arange(len(part)), best], 0)
                                                / q.shape[1])
    return distance, index


def near_copies(data: FerData, part: str = "PrivateTest", of: str = "Training",
                threshold: float = THRESHOLD) -> dict:
    """The images of `part` (the CSV's Usage) within `threshold` grey levels RMS of an image
    of `of`: indices into `data`, each with its nearest image's index and distance."""
    query = np.flatnonzero(data.usage == part)
    reference = np.flatnonzero(data.usage == of)
    if not len(query) or not len(reference):
        raise ValueError(f"expected images of both {part!r} and {of!r} (the CSV's Usage); "
                         f"found {len(query)} and {len(reference)}")
    distance, index = nearest(data.images[query], data.images[reference])
    near = distance <= threshold
    return {"part": part, "of": of, "threshold": threshold, "images": int(len(query)),
            "near": int(near.sum()), "data_fingerprint": data.fingerprint,
            "copies": [{"index": int(i), "source": str(data.sources[i]),
                        "nearest": int(reference[j]),
                        "nearest_source": str(data.sources[reference[j]]),
                        "rms": round(float(d), 3)}
                       for i, j, d in zip(query[near], index[near], distance[near])]}
