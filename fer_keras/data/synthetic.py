"""Embedded sample: a small FER-shaped dataset generated deterministically from a seed.

48x48 grey faces, 7 classes in FER-2013's class proportions, challenge splits in FER-2013's
proportions (80 % Training, 10 % PublicTest, 10 % PrivateTest), written in both formats.
Each class has its own expression template (mouth curvature and opening, brow slant, eye size)
drawn on a face with per-image noise, shift, brightness and contrast, so a small CNN learns it
well above chance in a few epochs and the demo's plots mean something. It is NOT FER-2013:
numbers measured on it say nothing about any paper.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..labels import NUM_CLASSES, SPLIT_NAMES
from .convert import write_challenge_csv, write_directory
from .dataset import FerData

# FER-2013 images per class (all 35,887), canonical order: the sample keeps these proportions.
FER2013_COUNTS = (4953, 547, 5121, 8989, 6077, 4002, 6198)
SPLIT_SHARES = (0.8, 0.1, 0.1)
AMBIGUOUS = 0.10

# Per class: mouth curvature (+ smile, - frown), mouth opening, brow slant, eye size.
_EXPRESSION = {
    0: (-0.6, 0.1, 0.8, 1.0),  # angry: frown, brows down toward the centre
    1: (-0.9, 0.0, 0.4, 0.7),  # disgust: strong frown, squint
    2: (-0.2, 0.6, -0.6, 1.5),  # fear: open mouth, raised brows, wide eyes
    3: (1.0, 0.2, 0.0, 1.0),  # happy: smile
    4: (-0.8, 0.0, -0.8, 0.9),  # sad: frown, brows up toward the centre
    5: (0.0, 1.0, -0.3, 1.6),  # surprise: round open mouth, wide eyes
    6: (0.0, 0.0, 0.0, 1.0),  # neutral
}


def _face(rng: np.random.Generator, label: int) -> np.ndarray:
    curve, opening, brow, eye = _EXPRESSION[label]
    img = np.full((96, 96), rng.uniform(40, 90), dtype=np.float32)  # drawn at 2x, then shrunk
    cx, cy = 48 + rng.integers(-5, 6), 50 + rng.integers(-5, 6)
    cv2.ellipse(img, (int(cx), int(cy)), (30, 38), 0, 0, 360, float(rng.uniform(140, 190)), -1)
    for side in (-1, 1):
        ex, ey = cx + side * 13, cy - 10
        cv2.circle(img, (int(ex), int(ey)), max(2, int(round(4 * eye))), 30.0, -1)
        y_in, y_out = ey - 9 + 5 * brow, ey - 9 - 5 * brow  # brow end nearer / farther from centre
        cv2.line(img, (int(ex - side * 6), int(y_in)), (int(ex + side * 8), int(y_out)), 40.0, 3)
    mouth_y = cy + 18
    bend = int(round(curve * 8))
    if opening > 0.3:
        cv2.ellipse(img, (int(cx), int(mouth_y)), (int(10 - 3 * opening), int(3 + 8 * opening)),
                    0, 0, 360, 25.0, -1)
    else:
        start, end = (0, 180) if bend >= 0 else (180, 360)
        cv2.ellipse(img, (int(cx), int(mouth_y - bend / 2)), (12, max(1, abs(bend))), 0, start,
                    end, 30.0, 3)
    img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
    img = (img - img.mean()) * rng.uniform(0.7, 1.3) + img.mean() + rng.uniform(-25, 25)
    img += rng.normal(0, 18, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_sample(n: int = 1400, seed: int = 0) -> FerData:
    """n images, deterministic in (n, seed)."""
    rng = np.random.default_rng(seed)
    props = np.array(FER2013_COUNTS, dtype=float) / sum(FER2013_COUNTS)
    per_class = np.maximum(np.floor(props * n).astype(int), 10)
    labels = np.repeat(np.arange(NUM_CLASSES), per_class)
    rng.shuffle(labels)
    # Like FER-2013's noisy labels, 10 % of faces show another class's expression.
    drawn = np.where(rng.random(labels.size) < AMBIGUOUS, rng.integers(0, NUM_CLASSES, labels.size),
                     labels)
    images = np.stack([_face(rng, int(y)) for y in drawn])[..., None]
    # challenge splits in FER-2013's proportions, stratified by class
    usage = np.empty(labels.size, dtype="<U11")
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == c)
        cut = np.cumsum([int(round(s * idx.size)) for s in SPLIT_SHARES[:2]])
        for part, name in zip(np.split(idx, cut), SPLIT_NAMES):
            usage[part] = name
    sources = np.array([f"synthetic:{i}" for i in range(labels.size)])
    return FerData(images, labels.astype(np.int64), sources, usage,
                   notes=(f"synthetic sample n={labels.size} seed={seed}",))


def write_sample(out: str | os.PathLike, n: int = 1400, seed: int = 0) -> tuple[Path, Path]:
    """Write the sample in both formats: `<out>/images/{train,test}/<class>/*.png` and
    `<out>/fer2013.csv`. Returns (image folder, CSV path); reuses them if already written."""
    out = Path(out)
    images_dir, csv_path = out / "images", out / "fer2013.csv"
    stamp = out / f".complete-n{n}-seed{seed}"
    if stamp.exists():
        return images_dir, csv_path
    data = make_sample(n, seed)
    if images_dir.exists():
        import shutil

        shutil.rmtree(images_dir)
    write_directory(data, images_dir)
    write_challenge_csv(_with_png_sources(data, images_dir), csv_path)
    stamp.touch()
    return images_dir, csv_path


def _with_png_sources(data: FerData, images_dir: Path) -> FerData:
    """Name rows as write_directory named their files, so the CSV order is the row order."""
    width = max(5, len(str(len(data))))
    sources = np.array([f"{u}_{i:0{width}d}.png" for i, u in enumerate(data.usage)])
    return FerData(data.images, data.labels, sources, data.usage, data.notes)
