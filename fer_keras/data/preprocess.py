"""Image preprocessing applied to a whole data set once, before splitting: eye alignment with
dlib's 68-point landmarks, then CLAHE (Bhardwaj & Singh, EmotionNet++, "Datasets and
Preprocessing", steps 1-2; step 3, scaling to [0, 1], is the input pipeline's).

The same function serves training, validation and test images, and the noisy test images of a
robustness check: every image goes through identical steps.

Alignment. The paper: "We use Dlib's 68-point facial landmark detector to localize key
features. Faces are rotated such that the eyes are horizontally aligned". FER-2013 images are
already face crops, so the whole image is the face rectangle: it is upscaled (48 -> 192 px by
default; the predictor was trained on larger faces) and dlib's shape predictor places the 68
points in it. The eye centres are the means of points 36-41 and 42-47 (iBUG 300-W numbering);
the face is rotated about their midpoint so the line between them is horizontal. The predictor
file ships with the `face-recognition-models` package (no download at run time); it was trained
on iBUG 300-W, whose images are for research use only (README, "Licences").

ASSUMPTION (the paper gives no limit): a face whose measured eye line is tilted by more than
`max_angle_deg` (45 degrees by default) is left unrotated and counted. On FER-2013's 48x48 crops
so large a tilt is more likely a misplaced landmark than a head pose (issue #13 measured a
maximum of 37 degrees on 1,000 faces), and a wrong rotation would damage the face. Every run
records how many faces were rotated, by how much, and how many were left (`summary`).

CLAHE. ASSUMPTION (the paper gives no parameters): OpenCV's usual clip limit 2.0 on an 8x8
tile grid (6x6-pixel tiles on a 48x48 face).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace

import numpy as np

# OpenCV and dlib are imported where used: configs import this module and stay light.

VERSION = 1  # part of every cache key: bump when what preprocess() computes changes
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)  # in the image: left = subject's right eye


@dataclass(frozen=True)
class PreprocessConfig:
    align: bool = False  # dlib 68-point eye alignment
    max_angle_deg: float = 45.0  # larger measured tilts are left unrotated (see above)
    landmark_size: int = 192  # the face is upscaled to this size for the landmark predictor
    clahe: bool = False
    clahe_clip: float = 2.0
    clahe_tile: int = 8

    @property
    def enabled(self) -> bool:
        return self.align or self.clahe

    def key(self) -> str:
        """A short name of these settings, for caches."""
        text = json.dumps({"version": VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def validate(self) -> None:
        """A ValueError names the key (the config layer turns it into its own error)."""
        if not 0 < self.max_angle_deg <= 90:
            raise ValueError(f"preprocess.max_angle_deg={self.max_angle_deg}: expected "
                             "0 < degrees <= 90")
        if not 48 <= self.landmark_size <= 1024:
            raise ValueError(f"preprocess.landmark_size={self.landmark_size}: expected "
                             "48 <= pixels <= 1024")
        if not self.clahe_clip > 0:
            raise ValueError(f"preprocess.clahe_clip={self.clahe_clip}: expected a number > 0")
        if not 1 <= self.clahe_tile <= 48:
            raise ValueError(f"preprocess.clahe_tile={self.clahe_tile}: expected 1 <= tiles "
                             "<= 48")


def clahe(images: np.ndarray, clip_limit: float = 2.0, tile_grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of uint8 (n, h, w, 1) images."""
    import cv2

    op = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid, tile_grid))
    return np.stack([op.apply(img[..., 0]) for img in images])[..., None]


def scale01(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


class LandmarkEyes:
    """Eye centres of a grey face crop from dlib's 68-point shape predictor, the whole image
    taken as the face rectangle."""

    def __init__(self, size: int = 192):
        try:
            import dlib
            import face_recognition_models
        except ImportError as e:  # both are pinned in requirements.txt
            raise RuntimeError(f"eye alignment needs dlib-bin and face-recognition-models "
                               f"({e}); run `make install`") from None
        model = face_recognition_models.pose_predictor_model_location()
        self.predictor = dlib.shape_predictor(model)
        self.size = size
        self._rect = dlib.rectangle(0, 0, size - 1, size - 1)

    def __call__(self, grey: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
        import cv2

        h, w = grey.shape
        big = cv2.resize(grey, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        shape = self.predictor(big, self._rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        pts *= (w / self.size, h / self.size)
        left, right = pts[LEFT_EYE].mean(axis=0), pts[RIGHT_EYE].mean(axis=0)
        return (float(left[0]), float(left[1])), (float(right[0]), float(right[1]))


def eye_angle(eyes) -> float:
    """Tilt of the line from the image-left eye to the image-right eye, in degrees
    (positive: the right eye is lower)."""
    (lx, ly), (rx, ry) = eyes
    return math.degrees(math.atan2(ry - ly, rx - lx))


def rotate(grey: np.ndarray, angle: float, centre: tuple[float, float]) -> np.ndarray:
    """Rotate by `angle` degrees about `centre` (OpenCV's sense: positive turns the content
    anticlockwise), same size, borders replicated."""
    import cv2

    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    h, w = grey.shape
    return cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def align_eyes(grey: np.ndarray, eyes) -> np.ndarray:
    """Rotate about the eyes' midpoint so the line between them is horizontal."""
    (lx, ly), (rx, ry) = eyes
    return rotate(grey, eye_angle(eyes), ((lx + rx) / 2, (ly + ry) / 2))


@dataclass(frozen=True)
class Preprocessed:
    images: np.ndarray  # uint8 (n, h, w, 1)
    angles: np.ndarray  # measured eye-line tilt per image, degrees; NaN where not aligned
    rotated: np.ndarray  # bool per image: rotated to level the eyes
    config: PreprocessConfig

    def summary(self) -> dict:
        """What alignment did, for the manifest and the report."""
        s = {"images": int(len(self.images)), "align": self.config.align,
             "clahe": self.config.clahe}
        if self.config.align:
            a = np.abs(self.angles[np.isfinite(self.angles)])
            s.update({
                "rotated": int(self.rotated.sum()),
                "left_unrotated_over_cap": int((a > self.config.max_angle_deg).sum()),
                "max_angle_deg": self.config.max_angle_deg,
                "abs_angle_median": round(float(np.median(a)), 2) if a.size else None,
                "abs_angle_p90": round(float(np.percentile(a, 90)), 2) if a.size else None,
                "abs_angle_max": round(float(a.max()), 2) if a.size else None,
            })
        return s


def preprocess(images: np.ndarray, cfg: PreprocessConfig,
               eyes_of=None) -> Preprocessed:
    """Alignment (when cfg.align), then CLAHE (when cfg.clahe), of uint8 (n, h, w, 1) images.
    `eyes_of`: an eye finder (grey image -> two eye centres); dlib's by default."""
    out = images.copy()
    n = len(images)
    angles = np.full(n, np.nan)
    rotated = np.zeros(n, bool)
    if cfg.align:
        eyes_of = eyes_of or LandmarkEyes(cfg.landmark_size)
        for i in range(n):
            eyes = eyes_of(images[i, ..., 0])
            angles[i] = eye_angle(eyes)
            if abs(angles[i]) <= cfg.max_angle_deg:
                out[i, ..., 0] = align_eyes(images[i, ..., 0], eyes)
                rotated[i] = True
    if cfg.clahe:
        out = clahe(out, cfg.clahe_clip, cfg.clahe_tile)
    return Preprocessed(out, angles, rotated, cfg)


def noise_gain(images: np.ndarray, cfg: PreprocessConfig, sigmas, seed: int = 0,
               eyes_of=None) -> list[dict]:
    """How large Gaussian noise added to raw images is once the preprocessing has run: per
    stage and noise level, the root-mean-square change, in grey levels, that the noise makes
    to the raw image (`rms_added`) and to the preprocessed one (`rms_after`), and their ratio
    (`gain`; 1 without preprocessing). The noise is `with_noise`'s, as in the robustness
    check. With both alignment and CLAHE on, each is also measured alone, so a loss of
    robustness can be traced to one of them (an alignment change includes any rotation that
    the noise moves the landmarks to)."""
    if cfg.align:
        eyes_of = eyes_of or LandmarkEyes(cfg.landmark_size)

    def stages(x: np.ndarray) -> dict[str, np.ndarray]:
        if not (cfg.align and cfg.clahe):
            return {"as configured": preprocess(x, cfg, eyes_of).images}
        # preprocess() is alignment then CLAHE: the landmarks are found once per image set
        aligned = preprocess(x, replace(cfg, clahe=False), eyes_of).images
        return {"as configured": clahe(aligned, cfg.clahe_clip, cfg.clahe_tile),
                "alignment only": aligned,
                "CLAHE only": clahe(x, cfg.clahe_clip, cfg.clahe_tile)}

    clean = {name: out.astype(np.float64) for name, out in stages(images).items()}
    rows = []
    for sigma in sigmas:
        noisy = with_noise(images, sigma, seed)
        added = _rms(noisy.astype(np.float64) - images)
        for name, out in stages(noisy).items():
            after = _rms(out - clean[name])
            rows.append({"stage": name, "sigma": float(sigma), "rms_added": round(added, 3),
                         "rms_after": round(after, 3),
                         "gain": round(after / added, 3) if added else None})
    return rows


def _rms(diff: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(diff, dtype=np.float64))))


def with_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 (n, h, w, 1) images blurred by a Gaussian of standard deviation `sigma` pixels
    (OpenCV, kernel size derived from sigma, border reflected); sigma 0 returns a copy."""
    if sigma == 0:
        return images.copy()
    import cv2

    return np.stack([cv2.GaussianBlur(im, (0, 0), sigma) for im in images[..., 0]])[..., None]


def with_noise(images: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """uint8 images plus Gaussian noise of standard deviation `sigma` grey levels, rounded and
    clipped to 0-255; the draw follows from (seed, sigma), the same for every model."""
    if sigma == 0:
        return images.copy()
    rng = np.random.default_rng([seed, round(sigma * 1000)])
    noisy = images.astype(np.float32) + rng.normal(0.0, sigma, images.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def noise_gain_sample(images: np.ndarray, cfg: PreprocessConfig, sigmas, n: int,
                      seed: int = 0) -> dict:
    """`fer-keras noise-gain`: `noise_gain` on n images drawn at random (seeded) from
    `images`; the record written as JSON, with the images' indices."""
    pick = np.sort(np.random.default_rng(seed).choice(len(images), min(n, len(images)),
                                                      replace=False))
    return {"preprocess": asdict(cfg), "images": len(pick), "seed": seed,
            "rows": noise_gain(images[pick], cfg, sigmas, seed=seed)}


def noise_gain_lines(rows: list[dict]) -> list[str]:
    """noise_gain's rows as a table, one line per stage and noise level."""
    lines = [f"{'stage':<16}{'sigma':>7}{'added':>9}{'after':>9}{'gain':>7}"]
    for r in rows:  # gain is None where clipping left no noise at all (saturated images)
        gain = "–" if r["gain"] is None else f"{r['gain']:.2f}"
        lines.append(f"{r['stage']:<16}{r['sigma']:>7g}{r['rms_added']:>9.2f}"
                     f"{r['rms_after']:>9.2f}{gain:>7}")
    return lines
