"""Data audit: counts per class and split, exact duplicates within and across splits
(train/test leakage), duplicates with conflicting labels, blank or constant images, and image
quality per split (sharpness and contrast), so that a copy whose splits were processed
differently (e.g. blurred training images beside sharp test images) is caught before any
training: models then learn one kind of image and are scored on another."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..core.labels import CLASS_NAMES
from .dataset import FerData
from .splits import Split

# Two splits whose median sharpness differs by more than this factor were not drawn from one
# population. Why 4: random splits of one collection agree closely (FER-2013's PublicTest and
# PrivateTest: medians 2,150 and 2,137 in our copy, a factor of 1.006), while a Gaussian blur of
# only 1 px (sigma) on our 48x48 test/ images, re-encoded as JPEG, divides it by about 13.
SHARPNESS_SHIFT_FACTOR = 4.0


def sharpness(images: np.ndarray) -> np.ndarray:
    """Per image, the variance of its Laplacian (OpenCV, 64-bit): the usual blur measure;
    high for sharp edges, near zero for blurred or flat images. images: (n, h, w[, 1]) grey."""
    grey = images.reshape(images.shape[0], images.shape[1], images.shape[2])
    return np.array([cv2.Laplacian(im.astype(np.float64), cv2.CV_64F).var() for im in grey])


def contrast(images: np.ndarray) -> np.ndarray:
    """Per image, the standard deviation of its pixel values (grey levels)."""
    return images.reshape(images.shape[0], -1).astype(np.float64).std(axis=1)


def quality(images: np.ndarray) -> dict:
    """Sharpness (10th, 50th, 90th percentile) and median contrast of a set of grey images."""
    s = sharpness(images)
    q10, q50, q90 = (float(v) for v in np.percentile(s, [10, 50, 90]))
    return {"n": int(images.shape[0]), "sharpness_q10": q10, "sharpness_median": q50,
            "sharpness_q90": q90, "contrast_median": float(np.median(contrast(images)))}


def quality_shifts(parts: dict[str, dict], factor: float = SHARPNESS_SHIFT_FACTOR) -> list[str]:
    """One sentence per pair of parts whose median sharpness differs by more than `factor`."""
    names = [k for k, q in parts.items() if q and q.get("n")]
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            sa, sb = parts[a]["sharpness_median"], parts[b]["sharpness_median"]
            lo, hi = sorted((sa, sb))
            ratio = hi / max(lo, 1e-9)
            if ratio > factor:
                blurred = a if sa < sb else b
                ca, cb = parts[a]["contrast_median"], parts[b]["contrast_median"]
                out.append(f"{a} and {b} differ in sharpness by a factor of {ratio:.0f} "
                           f"(median Laplacian variance {sa:.1f} vs {sb:.1f}; contrast "
                           f"{ca:.1f} vs {cb:.1f} grey levels): the {blurred} images are much "
                           "blurrier, so they do not come from the same population")
    return out


def split_quality(images: np.ndarray, parts: dict[str, np.ndarray]) -> dict:
    """Image quality of each part of a split (indices into `images`, the images as loaded)
    and the sentences of quality_shifts: what a run records beside its split."""
    per_part = {name: quality(images[idx]) for name, idx in parts.items() if len(idx)}
    return {"parts": per_part, "shifts": quality_shifts(per_part)}


SHIFT_SAMPLE = 2000  # images per part the guard measures (a median settles long before that)


def data_shift(data: FerData, split: Split) -> list[str]:
    """The guard against training on one kind of image and scoring on another (e.g. a damaged
    copy whose training images were blurred): one sentence (data.audit.quality_shifts) per pair
    of parts whose median sharpness differs by more than the audit's factor, for the cell's
    training and test parts, and for FER-2013's own parts (Training, PublicTest, PrivateTest)
    where the data records them (a random split mixes those, hiding a damaged part). Measured
    on a fixed sample of each part, on the images as loaded."""
    rng = np.random.default_rng(0)

    def measured(index: np.ndarray) -> dict:
        return quality(data.images[_sample(index, rng)])

    shifts = quality_shifts({"training part": measured(split.training_part),
                             "test part": measured(split.test)})
    parts = {u: np.flatnonzero(data.usage == u) for u in sorted(set(data.usage.tolist())) if u}
    if len(parts) > 1:
        shifts += quality_shifts({u: measured(i) for u, i in parts.items()})
    return shifts


def source_shifts(path: Path) -> list[str]:
    """The guard at the data source itself, whatever a protocol draws its parts from: a root
    with both `train/` and `test/` folders has a fixed sample of each folder's images compared
    (a protocol that splits `train/` alone would otherwise train on a blurred `train/` and
    never look at `test/`); a CSV has its Usage parts compared (a protocol reading one part).
    One sentence per pair that differs (quality_shifts); [] for anything else."""
    path = Path(path)
    rng = np.random.default_rng(0)
    if path.is_dir():
        folders = [f for f in ("train", "test") if (path / f).is_dir()]
        if len(folders) < 2:
            return []
        parts = {}
        for f in folders:
            files = sorted(p for p in (path / f).glob("*/*") if p.is_file())
            files = [files[i] for i in _sample(np.arange(len(files)), rng)]
            images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
            images = [im for im in images if im is not None and im.shape == (48, 48)]
            if images:
                parts[f"{f}/ folder"] = quality(np.stack(images)[..., None])
        return quality_shifts(parts)
    if path.is_file() and path.suffix.lower() == ".csv":
        from .csv import load_csv  # the loader's cache: read once

        data = load_csv(path)
        found = {u: np.flatnonzero(data.usage == u) for u in sorted(set(data.usage.tolist()))
                 if u}
        if len(found) < 2:
            return []
        return quality_shifts({u: quality(data.images[_sample(i, rng)])
                               for u, i in found.items()})
    return []


def _sample(index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fixed-seed sample of SHIFT_SAMPLE of `index` (sorted), or all of it."""
    return np.sort(rng.choice(index, SHIFT_SAMPLE, replace=False)) \
        if len(index) > SHIFT_SAMPLE else index


def audit(data: FerData) -> dict:
    usage = _usage(data)
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
    per_split = {s: quality(data.images[usage == s]) for s in splits}
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
        "quality": per_split,
        "quality_shifts": quality_shifts(per_split),
    }


def _usage(data: FerData) -> np.ndarray:
    """Each image's challenge split, "(none)" where the source does not tell."""
    return np.where(data.usage == "", "(none)", data.usage)


def example_strip(data: FerData, per_split: int = 12, scale: int = 2) -> np.ndarray:
    """The first `per_split` images of each split side by side, one row per split (enlarged
    `scale` times, nearest neighbour): blur or contrast differences are seen at a glance."""
    usage = _usage(data)
    rows = []
    for s in sorted(set(usage.tolist())):
        picked = data.images[np.flatnonzero(usage == s)[:per_split], ..., 0]
        tiles = [np.kron(im, np.ones((scale, scale), np.uint8)) for im in picked]
        tiles += [np.zeros_like(tiles[0])] * (per_split - len(tiles))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


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
        "",
        "image quality per split (sharpness: variance of the Laplacian; contrast: pixel std)",
        f"{'split':<12} {'images':>7} {'sharp q10':>10} {'median':>9} {'q90':>9} {'contrast':>9}",
    ]
    for s, q in report["quality"].items():
        lines.append(f"{s:<12} {q['n']:>7} {q['sharpness_q10']:>10.1f} "
                     f"{q['sharpness_median']:>9.1f} {q['sharpness_q90']:>9.1f} "
                     f"{q['contrast_median']:>9.1f}")
    lines += [f"WARNING: {w}" for w in report["quality_shifts"]] or ["splits agree in sharpness"]
    return "\n".join(lines)
