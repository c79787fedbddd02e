"""The one split function: stratified, seeded splits and the official challenge split.

Schemes (train/val/test fractions):
* "80/10/10"  Özer & Subaşı §2.4
* "80/20"     Ashok §4 ("stratified 80-20 train-test split"; no validation set)
* "70/15/15"  Bhardwaj & Singh (EmotionNet++)
* "official"  FER-2013 challenge: Training / PublicTest / PrivateTest (28,709 / 3,589 / 3,589)
* "folders"   the image export's train/ and test/ folders (Training vs PublicTest + PrivateTest:
              28,709 / 7,178) with no validation part: a validation policy supplies it (Wasey)

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

from ..core.labels import CLASS_NAMES, SPLIT_NAMES
from .errors import DataError

SCHEMES: dict[str, tuple[float, float, float]] = {
    "80/10/10": (0.8, 0.1, 0.1),
    "80/20": (0.8, 0.0, 0.2),
    "70/15/15": (0.7, 0.15, 0.15),
}
OFFICIAL = "official"
FOLDERS = "folders"
OFFICIAL_COUNTS = {"train": 28_709, "val": 3_589, "test": 3_589}


@dataclass(frozen=True)
class Split:
    """Indices into the loaded data; saved with every run so it can be audited."""

    scheme: str
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    # The scheme's whole training part when validation was carved out of it (class weights
    # are computed on it, as a paper that names no validation set computed them); else None.
    pool: np.ndarray | None = None
    validation: str = "split"  # how val was chosen: "split", "carve" or "test" (leakage)

    @property
    def training_part(self) -> np.ndarray:
        return self.train if self.pool is None else self.pool

    def sizes(self) -> dict[str, int]:
        return {"train": int(self.train.size), "val": int(self.val.size),
                "test": int(self.test.size)}

    def as_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"train": self.train, "val": self.val, "test": self.test}
        return arrays if self.pool is None else {**arrays, "pool": self.pool}


def subsample(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a stratified subsample of n images (all of them when n >= size)."""
    labels = np.asarray(labels)
    if n >= labels.size:
        return np.arange(labels.size)
    try:
        keep, _ = train_test_split(np.arange(labels.size), train_size=n, stratify=labels,
                                   random_state=seed)
    except ValueError as e:
        raise DataError(f"limit={n} of {labels.size} images: {e}; expected a larger limit")\
            from None
    return np.sort(keep)


def keras_validation(index: np.ndarray, labels: np.ndarray, sources: np.ndarray,
                     fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) as Keras' `ImageDataGenerator(validation_split=fraction)` with
    `flow_from_directory` divides a class-folder export: per class, the files in sorted name
    order, the first int(fraction x n) of them validation, the rest training. Not random."""
    train, val = [], []
    for c in np.unique(labels[index]):
        own = index[labels[index] == c]
        names = np.array([str(s).replace("\\", "/").rsplit("/", 1)[-1] for s in sources[own]])
        own = own[np.argsort(names, kind="stable")]
        cut = int(fraction * own.size)
        val.append(own[:cut])
        train.append(own[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def with_validation(split: Split, labels: np.ndarray, policy: str, fraction: float,
                    sources: np.ndarray | None = None) -> Split:
    """Apply a validation policy (fer_keras.train.config.VALIDATION_POLICIES) to a split:
    "split" keeps its validation part; "carve" takes a stratified `fraction` of the training
    part as validation (seeded like the split), the test part untouched; "keras" takes it as
    Keras' `validation_split` does (keras_validation; needs the images' file names); "test"
    validates on the test part itself, which is test-set leakage (the literal reading of papers
    that split only train/test, run so that a report can say what the leak is worth)."""
    if policy == "split":
        return split
    if policy == "test":
        return Split(split.scheme, split.seed, split.train, split.test, split.test,
                     validation="test")
    if policy == "keras":
        if sources is None:
            raise DataError("validation=keras needs the images' file names")
        train, val = keras_validation(split.train, np.asarray(labels), sources, fraction)
        return Split(split.scheme, split.seed, train, val, split.test, pool=split.train,
                     validation="keras")
    if policy != "carve":
        raise DataError(f"validation policy {policy!r}: expected split, carve, keras or test")
    labels = np.asarray(labels)
    try:
        train, val = train_test_split(split.train, test_size=fraction,
                                      stratify=labels[split.train], random_state=split.seed)
    except ValueError as e:
        raise DataError(f"validation=carve of {split.train.size} training images: {e}; "
                        "expected more images per class") from None
    return Split(split.scheme, split.seed, np.sort(train), np.sort(val), split.test,
                 pool=split.train, validation="carve")


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
    if scheme == FOLDERS:
        if usage is None or not np.isin(usage, SPLIT_NAMES).all():
            raise DataError("split 'folders' needs every image's challenge split "
                            "(Training_ file names in train/, PublicTest_/PrivateTest_ in test/)")
        return Split(scheme, seed, np.flatnonzero(usage == "Training"), np.array([], dtype=int),
                     np.flatnonzero(usage != "Training"))
    if scheme not in SCHEMES:
        raise DataError(f"unknown split {scheme!r}; known: "
                        f"{', '.join([*SCHEMES, OFFICIAL, FOLDERS])}")
    train_frac, val_frac, test_frac = SCHEMES[scheme]
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    present = counts[counts > 0]
    if present.size and present.min() < 2:
        rare = ", ".join(f"{CLASS_NAMES[c]} ({counts[c]})" for c in np.flatnonzero(counts == 1))
        raise DataError(f"split {scheme!r}: class(es) with a single image: {rare}; a stratified "
                        "split needs at least 2 images per class (add images or remove the class)")
    # floor(share * n) as scikit-learn does for a float share, but without its float error
    # (0.7 * 2850 = 1994.9999...): 80 % of 35,887 is 28,709, the size Ashok's Table 2 implies.
    n_train = math.floor(train_frac * labels.size + 1e-9)
    try:
        train, rest = train_test_split(everything, train_size=n_train, stratify=labels,
                                       random_state=seed)
        if val_frac == 0:
            val, test = np.array([], dtype=int), rest
        else:
            val, test = train_test_split(rest, test_size=test_frac / (val_frac + test_frac),
                                         stratify=labels[rest], random_state=seed)
    except ValueError as e:  # too few images for a stratified split of this size
        raise DataError(f"split {scheme!r} of {labels.size} images ({present.size} classes): "
                        f"{e}; expected more images per class") from None
    return Split(scheme, seed, np.sort(train), np.sort(val), np.sort(test))
