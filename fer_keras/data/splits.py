"""The one split function: stratified, seeded splits and the official challenge split.

Schemes (train/val/test fractions):
* "80/10/10"  Özer & Subaşı §2.4
* "80/20"     Ashok §4 ("stratified 80-20 train-test split"; no validation set)
* "70/15/15"  Bhardwaj & Singh (EmotionNet++)
* "official"  FER-2013 challenge: Training / PublicTest / PrivateTest (28,709 / 3,589 / 3,589)

Stratified splits first take the training share off (floor of share x n), then divide the
rest between validation and test (test gets the odd one), both with scikit-learn's
`train_test_split(stratify=...)`, so the training part is exactly the same for 80/10/10 and
80/20 at the same seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ..labels import SPLIT_NAMES
from .errors import DataError

SCHEMES: dict[str, tuple[float, float, float]] = {
    "80/10/10": (0.8, 0.1, 0.1),
    "80/20": (0.8, 0.0, 0.2),
    "70/15/15": (0.7, 0.15, 0.15),
}
OFFICIAL = "official"
OFFICIAL_COUNTS = {"train": 28_709, "val": 3_589, "test": 3_589}


@dataclass(frozen=True)
class Split:
    """Indices into the loaded data; saved with every run so it can be audited."""

    scheme: str
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": int(self.train.size), "val": int(self.val.size),
                "test": int(self.test.size)}

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}


def split_indices(labels: np.ndarray, scheme: str, seed: int = 0,
                  usage: np.ndarray | None = None) -> Split:
    labels = np.asarray(labels)
    everything = np.arange(labels.size)
    if scheme == OFFICIAL:
        if usage is None or not np.isin(usage, SPLIT_NAMES).all():
            raise DataError("split 'official' needs every row's challenge split (the CSV's Usage "
                            "column, or Training_/PublicTest_/PrivateTest_ file names)")
        parts = [np.flatnonzero(usage == name) for name in SPLIT_NAMES]
        return Split(scheme, seed, *parts)
    if scheme not in SCHEMES:
        raise DataError(f"unknown split {scheme!r}; known: {', '.join([*SCHEMES, OFFICIAL])}")
    train_frac, val_frac, test_frac = SCHEMES[scheme]
    # floor(share * n) as scikit-learn does for a float share, but without its float error
    # (0.7 * 2850 = 1994.9999...): 80 % of 35,887 is 28,709, the size Ashok's Table 2 implies.
    n_train = math.floor(train_frac * labels.size + 1e-9)
    train, rest = train_test_split(everything, train_size=n_train, stratify=labels,
                                   random_state=seed)
    if val_frac == 0:
        val, test = np.array([], dtype=int), rest
    else:
        val, test = train_test_split(rest, test_size=test_frac / (val_frac + test_frac),
                                     stratify=labels[rest], random_state=seed)
    return Split(scheme, seed, np.sort(train), np.sort(val), np.sort(test))
