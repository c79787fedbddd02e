"""Faces at any size, cut the way the model was trained: the pasted-face benchmark.

FER-2013's faces are 48x48 crops framed by the data set's own (unpublished) face finder. A
photo's face must be found and cut with the same framing, or the model sees another picture
than the one it learned from. Two measurements, both in `make bench` (reports/bench/faces.md):

- `framing`: where each detector's box lies inside FER-2013's own 48x48 frame: training faces
  pasted into scenes as below (sizes 48 to 300 px), found as `predict` finds them, the box in
  frame units (median over faces). `fer_keras.use.predict.FRAMING` holds these numbers; the crop
  inverts them (a real-data test measures them again).
- `bench_faces`: N FER-2013 *test* faces (fixed seed) pasted at random sizes (48 to 300 px) and
  random places into 640x480 scenes whose content is other test faces, blurred until no face
  is left in them (real image statistics, no face); each published model predicts the
  detected crops. Reported: detection rate, and accuracy on the detected crops against the same
  model's accuracy on the raw 48x48 crops of the same faces.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from .pretrained import DEFAULT_MODEL

SCENE = (480, 640)  # height, width
SIZES = (48, 300)  # pasted face side, px
DETECTORS = ("dlib", "haar", "mtcnn")  # predict's --detector choices


def framing(faces: np.ndarray, pool: np.ndarray, kind: str, seed: int = 1) -> dict:
    """Median (x, y, w, h) of the detector's box in units of FER-2013's 48x48 frame, over
    `faces` (uint8, (N, 48, 48): training faces, never the test faces the benchmark scores)
    pasted into scenes as the benchmark pastes them, at every size from 48 to 300 px, found
    as `predict` finds them; and the share of faces found."""
    from .predict import FaceDetector

    detector = FaceDetector(kind)
    boxes = []
    for scene, (x0, y0, side, _) in paste_scenes(faces, pool, seed):
        hits = [b for b in detector(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY))
                if iou(b, (x0, y0, side, side)) >= 0.4]
        if hits:
            x, y, w, h = hits[0]
            boxes.append(((x - x0) / side, (y - y0) / side, w / side, h / side))
    b = np.array(boxes)
    return {"faces": len(faces), "found": len(b),
            "box": [round(float(v), 3) for v in np.median(b, axis=0)] if len(b) else None}


def _scene_background(pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """640x480 of other test faces, tiled at random sizes and blurred until no face is left."""
    h, w = SCENE
    canvas = np.zeros((h, w), np.uint8)
    for y in range(0, h, 160):
        for x in range(0, w, 160):
            tile = cv2.resize(pool[rng.integers(len(pool))], (160, 160))
            canvas[y:y + 160, x:x + 160] = tile[: h - y, : w - x]
    return cv2.GaussianBlur(canvas, (0, 0), 12)


def paste_scenes(faces: np.ndarray, pool: np.ndarray, seed: int = 0):
    """For each face: (scene BGR, its box (x, y, side, side)); sizes and places drawn from
    `seed`."""
    rng = np.random.default_rng(seed)
    h, w = SCENE
    for face in faces:
        scene = _scene_background(pool, rng)
        side = int(rng.integers(SIZES[0], SIZES[1] + 1))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        interp = cv2.INTER_CUBIC if side > 48 else cv2.INTER_AREA
        scene[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=interp)
        yield cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR), (x, y, side, side)


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix / (aw * ah + bw * bh - ix)


def bench_faces(faces: np.ndarray, labels: np.ndarray, pool: np.ndarray, models: dict,
                detectors=DETECTORS, seed: int = 0) -> dict:
    """`models`: {name: folder or .keras}. Per detector: detection rate (a box overlapping the
    pasted face with IoU >= 0.4; the largest such box) and time per scene; per model and
    detector: accuracy on the detected crops, and on the raw crops of all and of the detected
    faces."""
    from .predict import FRAMING, FaceDetector, Predictor, crop_face, to_grey

    scenes = list(paste_scenes(faces, pool, seed))
    out = {"faces": len(faces), "seed": seed, "sizes": list(SIZES), "scene": list(SCENE[::-1]),
           "detectors": {}, "models": {}}
    predictors = {name: Predictor(src) for name, src in models.items()}
    raw = {name: p.predict_faces(faces).argmax(1) for name, p in predictors.items()}
    # the pasted square itself, cut back out: what resampling alone costs (no detector)
    squares = np.stack([crop_face(to_grey(scene), truth) for scene, truth in scenes])
    exact = {name: p.predict_faces(squares).argmax(1) for name, p in predictors.items()}
    for kind in detectors:
        detector = FaceDetector(kind)  # predict's defaults (min_face 40)
        crops, found, extra, t0 = [], [], 0, time.perf_counter()
        for scene, truth in scenes:
            grey = to_grey(scene)
            boxes = detector(grey)
            hits = [b for b in boxes if iou(b, truth) >= 0.4]
            extra += len(boxes) - len(hits)
            found.append(bool(hits))
            if hits:
                crops.append(crop_face(grey, hits[0], FRAMING[kind]))
        seconds = (time.perf_counter() - t0) / len(scenes)
        found = np.array(found)
        sizes = np.array([t[2] for _, t in scenes])
        small = sizes < 80
        out["detectors"][kind] = {
            "detected": int(found.sum()), "rate": float(found.mean()),
            "rate_under_80px": float(found[small].mean()) if small.any() else None,
            "false_boxes": int(extra), "seconds_per_scene": seconds}
        crops = np.stack(crops) if crops else np.zeros((0, 48, 48), np.uint8)
        for name, pr in predictors.items():
            pred = pr.predict_faces(crops).argmax(1) if len(crops) else np.zeros(0, int)
            got = labels[found]
            out["models"].setdefault(name, {
                "raw_accuracy": float((raw[name] == labels).mean()),
                "square_accuracy": float((exact[name] == labels).mean())})
            out["models"][name][kind] = {
                "square_accuracy_same_faces": float((exact[name][found] == got).mean())
                if len(got) else None,
                "accuracy_detected": float((pred == got).mean()) if len(got) else None,
                "raw_accuracy_same_faces": float((raw[name][found] == got).mean())
                if len(got) else None,
                "accuracy_all_misses_wrong": float((pred == got).sum() / len(labels))}
    return out


def load_test_faces(data: Path, n: int, seed: int = 0):
    """n FER-2013 test faces drawn with `seed` (and their labels), and a pool of other test
    faces for the scenes' backgrounds."""
    from ..data.directory import load_directory

    test = load_directory(Path(data) / "test")
    order = np.random.default_rng(seed).permutation(len(test.labels))
    take, pool = order[:n], order[n:n + 500]
    return test.images[take, ..., 0], test.labels[take], test.images[pool, ..., 0]


def train_faces(data: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(a pool of 500 training faces for backgrounds, n other training faces), drawn with
    `seed`: what `framing` measures on."""
    from ..data.directory import load_directory

    train = load_directory(Path(data) / "train").images[..., 0]
    order = np.random.default_rng(seed).permutation(len(train))
    return train[order[:500]], train[order[500:500 + n]]


def end_to_end(r: dict, model: str) -> list[tuple[str, float]]:
    """The detectors by right answers over all faces with `model` (a missed face counted
    wrong), best first: the measure that chooses predict's default detector."""
    m = r["models"].get(model, {})
    return sorted(((kind, m[kind]["accuracy_all_misses_wrong"]) for kind in r["detectors"]
                   if kind in m), key=lambda x: -x[1])


def render_faces(r: dict) -> list[str]:
    d = r["detectors"]
    lines = [f"## Faces at any size ({r['faces']:,} FER-2013 test faces pasted into "
             f"{r['scene'][0]}x{r['scene'][1]} scenes at {r['sizes'][0]}-{r['sizes'][1]} px, "
             f"seed {r['seed']})", "",
             "Each scene's background is other test faces blurred until no face is left; a face "
             "counts as found when a box overlaps it with IoU >= 0.4. Target: detection at "
             "least 99 %, accuracy on the detected crops within 2 points of the raw 48x48 "
             "crops. A model whose split was drawn from all 35,887 images (the CSV format's "
             "80/10/10) trained on most of test/: its raw-crop accuracy here is not a test "
             "accuracy, only the differences between the columns are comparable; the "
             "directory-format models never saw test/.", "",
             "| detector | found | found, faces under 80 px | other boxes | ms per scene |",
             "|---|---|---|---|---|"]
    for kind, v in d.items():
        small = "-" if v["rate_under_80px"] is None else f"{v['rate_under_80px']:.1%}"
        lines.append(f"| {kind} | {v['detected']}/{r['faces']} ({v['rate']:.1%}) | {small} | "
                     f"{v['false_boxes']} | {v['seconds_per_scene'] * 1000:.0f} |")
    lines += ["", "Accuracy on the same faces three ways: the raw 48x48 crop; the pasted square "
              "cut back out exactly (what enlarging and shrinking alone cost); the crop `predict` "
              "cuts from the detector's box. Difference: detected crops against raw crops, "
              "on the faces found. End to end: right answers over all faces, a face the "
              "detector missed counted wrong (found share x accuracy on the detected crops): "
              "the measure that chooses the default detector.", "",
              "| model | detector | raw crops (all faces) | exact squares (all faces) | raw "
              "crops (found faces) | exact squares (found faces) | detected crops | difference "
              "(points) | end to end |", "|---|---|---|---|---|---|---|---|---|"]
    for name, m in r["models"].items():
        for kind in d:
            v = m[kind]
            if v["accuracy_detected"] is None:
                continue
            diff = (v["accuracy_detected"] - v["raw_accuracy_same_faces"]) * 100
            lines.append(f"| `{name}` | {kind} | {m['raw_accuracy']:.2%} | "
                         f"{m['square_accuracy']:.2%} | {v['raw_accuracy_same_faces']:.2%} | "
                         f"{v['square_accuracy_same_faces']:.2%} | "
                         f"{v['accuracy_detected']:.2%} | {diff:+.2f} | "
                         f"{v['accuracy_all_misses_wrong']:.2%} |")
    ranked = end_to_end(r, DEFAULT_MODEL)
    if ranked:
        lines += ["", f"With the default model (`{DEFAULT_MODEL}`), end to end: "
                  + ", ".join(f"{kind} {acc:.2%}" for kind, acc in ranked)
                  + f". `predict`'s default detector is the first, {ranked[0][0]} "
                  "(`fer_keras.use.predict.DEFAULT_DETECTOR`, pinned to this measurement by "
                  "tests/test_first_hour.py)."]
    if "framing" in r:
        lines += ["", "Where each detector's box lies in FER-2013's own 48x48 frame (training "
                  "faces pasted the same way, seed 1; median x, y, w, h in frame units; "
                  "`predict` cuts the frame back out of the box with these numbers, "
                  "`FRAMING`):", "",
                  "| detector | faces found | box (x, y, w, h) |", "|---|---|---|"]
        for kind, f in r["framing"].items():
            lines.append(f"| {kind} | {f['found']}/{f['faces']} | {f['box']} |")
    return lines
