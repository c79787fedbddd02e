"""Class weights inversely proportional to class frequency (Ashok §3.4, Table 2).

weight_c = n / (k * n_c), scikit-learn's "balanced" heuristic, computed on the training split
only. Ashok's Table 2 is reproduced exactly by the training part (80 %, 28,709 images) of a
stratified 80/20 split of all 35,887 FER-2013 images (see tests/test_weights_real.py).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from ..core.labels import NUM_CLASSES


def class_weights(train_labels: np.ndarray, num_classes: int = NUM_CLASSES) -> dict[int, float]:
    classes = np.arange(num_classes)
    present = np.unique(train_labels)
    weights = compute_class_weight("balanced", classes=present, y=train_labels)
    out = {int(c): 0.0 for c in classes}  # a class absent from training gets no weight
    out.update({int(c): float(w) for c, w in zip(present, weights)})
    return out


def oversampled(labels: np.ndarray, index: np.ndarray, seed: int) -> np.ndarray:
    """`index` (training images) with every class's images repeated up to the largest class's
    count: whole repeats first, then a seeded draw without replacement for the remainder, so
    no image is repeated twice more often than another of its class. Order: by class; the
    pipeline shuffles each epoch. ("Class-wise data augmentation": the augmentation makes
    each repeat a different image.)"""
    rng = np.random.default_rng([seed, 7])
    classes, counts = np.unique(labels[index], return_counts=True)
    target = counts.max()
    parts = []
    for c, n in zip(classes, counts):
        own = index[labels[index] == c]
        whole, rest = divmod(int(target), int(n))
        parts += [np.tile(own, whole), np.sort(rng.choice(own, rest, replace=False))]
    return np.concatenate(parts)
