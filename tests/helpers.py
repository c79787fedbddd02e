"""Small data made by the tests themselves."""

from pathlib import Path

import cv2
import numpy as np

from fer_keras.core.labels import CLASS_NAMES


def pixels_text(seed: int = 0, n: int = 2304) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(str(v) for v in rng.integers(0, 256, n))


def write_csv(path: Path, rows: list[str], header: str | None = "emotion,pixels,Usage") -> Path:
    path.write_text(((header + "\n") if header else "") + "".join(r + "\n" for r in rows))
    return path


def write_image_tree(root: Path, per_class: int = 2, size: int = 48, ext: str = ".png",
                     prefix: str = "Training_") -> Path:
    rng = np.random.default_rng(0)
    for c in CLASS_NAMES:
        d = root / c
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 256, (size, size), dtype=np.uint8)
            cv2.imwrite(str(d / f"{prefix}{c}{i}{ext}"), img)
    return root
