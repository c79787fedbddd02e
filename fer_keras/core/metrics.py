"""The one metrics function, used by the runner and by the report alike (scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from .labels import CLASS_NAMES

# Columns of results.csv, one row per cell and seed (written by the runner and by the report).
RESULT_COLUMNS = ("format", "model", "variant", "seed", "n_test", "accuracy", "precision_macro",
                  "recall_macro", "f1_macro", "roc_auc_macro", "ece", "epochs", "best_epoch")
# The metrics among them, as keys of compute_metrics' result.
RESULT_METRICS = RESULT_COLUMNS[5:11]


def calibration_bins(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> dict:
    """Equal-width confidence bins: per bin the number of images, their accuracy and their
    mean confidence (confidence = the top probability). Empty bins have NaN rates."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, weights=correct, minlength=bins) / count
        confidence = np.bincount(which, weights=conf, minlength=bins) / count
    return {"edges": edges, "count": count, "accuracy": accuracy, "confidence": confidence}


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017): sum over bins of
    |accuracy - mean confidence| weighted by the bin's share of samples."""
    b = calibration_bins(y_true, probs, bins)
    filled = b["count"] > 0
    share = b["count"][filled] / b["count"].sum()
    return float(np.sum(share * np.abs(b["accuracy"][filled] - b["confidence"][filled])))


def compute_metrics(y_true: np.ndarray, probs: np.ndarray,
                    class_names: tuple[str, ...] = CLASS_NAMES) -> dict:
    """Accuracy; macro and per-class precision, recall, F1; per-class and macro one-vs-rest
    ROC-AUC; confusion matrix; expected calibration error. Rates are fractions (0..1)."""
    y_true = np.asarray(y_true).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(class_names)
    labels = np.arange(k)
    y_pred = probs.argmax(axis=1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                    average="macro", zero_division=0)
    auc = {}
    for c in labels:
        positives = y_true == c
        # AUC is undefined for a class with no positives or no negatives in the test set
        auc[class_names[c]] = (float(roc_auc_score(positives, probs[:, c]))
                               if 0 < positives.sum() < y_true.size else None)
    defined = [v for v in auc.values() if v is not None]
    return {
        "n": int(y_true.size),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(pm),
        "recall_macro": float(rm),
        "f1_macro": float(fm),
        "per_class": {
            class_names[c]: {"precision": float(p[c]), "recall": float(r[c]), "f1": float(f[c]),
                             "support": int(s[c])}
            for c in labels
        },
        "roc_auc": auc,
        "roc_auc_macro": float(np.mean(defined)) if defined else None,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "ece": expected_calibration_error(y_true, probs),
    }
