"""Data audit: counts per class and split, exact duplicates within and across splits
(train/test leakage), duplicates with conflicting labels, blank or constant images."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

from ..labels import CLASS_NAMES
from .dataset import FerData


def audit(data: FerData) -> dict:
    usage = np.where(data.usage == "", "(none)", data.usage)
    splits = sorted(set(usage.tolist()))
    counts = {s: {c: int(np.sum((usage == s) & (data.labels == i)))
                  for i, c in enumerate(CLASS_NAMES)} for s in splits}
    for s in splits:
        counts[s]["total"] = int(np.sum(usage == s))

    groups: dict[bytes, list[int]] = defaultdict(list)
    flat = data.images.reshape(len(data), -1)
    for i in range(len(data)):
        groups[hashlib.blake2b(flat[i].tobytes(), digest_size=16).digest()].append(i)
    dup_groups = [g for g in groups.values() if len(g) > 1]
    within: dict[str, int] = defaultdict(int)
    across: dict[str, int] = defaultdict(int)
    conflicting = 0
    examples = []
    for g in dup_groups:
        gs = sorted(set(usage[g].tolist()))
        if len(gs) == 1:
            within[gs[0]] += len(g) - 1
        else:
            across[" & ".join(gs)] += 1
        if len(set(data.labels[g].tolist())) > 1:
            conflicting += 1
        if len(examples) < 10:
            examples.append([str(data.sources[i]) for i in g])
    spread = flat.max(axis=1).astype(int) - flat.min(axis=1).astype(int)
    constant = np.flatnonzero(spread == 0)
    return {
        "images": len(data),
        "counts": counts,
        "duplicate_groups": len(dup_groups),
        "images_in_duplicate_groups": int(sum(len(g) for g in dup_groups)),
        "extra_copies_within_split": dict(within),
        "groups_spanning_splits": dict(across),
        "groups_with_conflicting_labels": conflicting,
        "duplicate_examples": examples,
        "constant_images": int(constant.size),
        "constant_examples": [str(data.sources[i]) for i in constant[:10]],
        "low_contrast_images": int(np.sum(spread < 16)),
    }


def render(report: dict) -> str:
    lines = [f"images: {report['images']}", "",
             "split        " + " ".join(f"{c:>8}" for c in (*CLASS_NAMES, "total"))]
    for s, row in report["counts"].items():
        lines.append(f"{s:<12} " + " ".join(f"{row[c]:>8}" for c in (*CLASS_NAMES, "total")))
    lines += [
        "",
        f"exact-duplicate groups: {report['duplicate_groups']} "
        f"({report['images_in_duplicate_groups']} images)",
        f"extra copies within a split: {report['extra_copies_within_split'] or 0}",
        f"groups spanning splits (leakage): {report['groups_spanning_splits'] or 0}",
        f"groups with conflicting labels: {report['groups_with_conflicting_labels']}",
        f"constant (blank) images: {report['constant_images']}",
        f"low-contrast images (max-min < 16): {report['low_contrast_images']}",
    ]
    return "\n".join(lines)
