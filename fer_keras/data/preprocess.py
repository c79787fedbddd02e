"""OpenCV preprocessing of Bhardwaj & Singh (EmotionNet++ §3.2): CLAHE, eye-based alignment,
scaling to [0, 1].

The paper aligns faces with dlib's 68-point landmarks. dlib's model file cannot be downloaded
here, so the default detector uses the Haar cascades that ship inside the OpenCV package
(`cv2.data.haarcascades`). The detector is pluggable (any callable returning the two eye
centres, or None), and a face whose eyes are not found is kept unaligned and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

EyePair = tuple[tuple[float, float], tuple[float, float]]
EyeDetector = Callable[[np.ndarray], EyePair | None]


def clahe(images: np.ndarray, clip_limit: float = 2.0, tile_grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of uint8 (n, h, w, 1) images."""
    op = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid, tile_grid))
    return np.stack([op.apply(img[..., 0]) for img in images])[..., None]


def scale01(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


class HaarEyeDetector:
    """Eye centres from OpenCV's bundled Haar eye cascade, upscaled 48 -> 192 px first
    (the cascade's minimum window is too large for eyes on a 48x48 face)."""

    def __init__(self, upscale: int = 4):
        self.upscale = upscale
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")
        if self.cascade.empty():
            raise RuntimeError("OpenCV's haarcascade_eye.xml could not be loaded")

    def __call__(self, grey: np.ndarray) -> EyePair | None:
        big = cv2.resize(grey, None, fx=self.upscale, fy=self.upscale,
                         interpolation=cv2.INTER_LINEAR)
        h = big.shape[0]
        eyes = self.cascade.detectMultiScale(big[: h * 6 // 10], scaleFactor=1.1, minNeighbors=5)
        if len(eyes) < 2:
            return None
        # the two largest detections, ordered left to right
        eyes = sorted(sorted(eyes, key=lambda e: -e[2] * e[3])[:2], key=lambda e: e[0])
        (x1, y1, w1, h1), (x2, y2, w2, h2) = eyes
        s = float(self.upscale)
        return ((x1 + w1 / 2) / s, (y1 + h1 / 2) / s), ((x2 + w2 / 2) / s, (y2 + h2 / 2) / s)


@dataclass(frozen=True)
class AlignResult:
    images: np.ndarray
    aligned: int  # how many faces were rotated so the eyes are level
    total: int


def align_eyes(grey: np.ndarray, eyes: EyePair) -> np.ndarray:
    """Rotate about the eyes' midpoint so the line between them is horizontal."""
    (lx, ly), (rx, ry) = eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    centre = ((lx + rx) / 2, (ly + ry) / 2)
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    h, w = grey.shape
    return cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_faces(images: np.ndarray, detector: EyeDetector | None = None) -> AlignResult:
    """Align every uint8 (n, h, w, 1) face; faces without two eyes found stay as they are."""
    detector = detector or HaarEyeDetector()
    out = images.copy()
    aligned = 0
    for i, img in enumerate(images):
        eyes = detector(img[..., 0])
        if eyes is not None:
            out[i, ..., 0] = align_eyes(img[..., 0], eyes)
            aligned += 1
    return AlignResult(out, aligned, len(images))
