"""Use a trained model on your own images and videos: `fer-keras predict`, and its Python API.

    from fer_keras.predict import Predictor
    p = Predictor("reports/ozer/models/csv-ozer_cnn_lstm")   # or a run's cell folder, a .keras
    for face in p.predict(cv2.imread("photo.jpg")):
        print(face.box, face.top, face.probs)

Steps, the same for images, video frames and camera frames:
1. Faces. An image of at most 64x64 pixels is taken as one face crop, as FER-2013's are
   (`faces="auto"`); larger images go through a face detector: dlib's frontal face detector
   (HOG + linear SVM, built into dlib, no model file) by default, OpenCV's bundled Haar cascade
   (`haarcascade_frontalface_default.xml`) as the alternative. ASSUMPTION: each detected box is
   widened by 10 % on every side before cropping: FER-2013's crops show a little more than
   dlib's tight box (forehead, jaw line).
2. Each face crop: grey, resized to 48x48 (area interpolation).
3. The run's own preprocessing, where it has one (EmotionNet++'s alignment and CLAHE:
   fer_keras.data.preprocess.preprocess with the settings recorded in the run), the same
   function the runner applied to its training and test images.
4. The model behind the one input contract (fer_keras.models.inference): grey 0-255 in,
   seven probabilities out.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import numpy as np

from .cellfiles import DONE_FILE, verify
from .data.directory import imread
from .data.preprocess import PreprocessConfig, preprocess
from .errors import FerKerasError
from .labels import CLASS_NAMES
from .models.inference import as_input, inference_model, model_file
from .provenance import sha256_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
WHOLE_IMAGE_MAX = 64  # faces="auto": images up to this size are face crops already
BOX_MARGIN = 0.10  # each detected box is widened by this fraction on every side
DETECT_SIZE = 640  # faces are searched in the image scaled to at most this longer side


class PredictError(FerKerasError, ValueError):
    pass


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height in the image
    probs: np.ndarray  # (7,), classes in fer_keras.labels order

    @property
    def top(self) -> str:
        return CLASS_NAMES[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


# ------------------------------------------------------------------------------ detection


class FaceDetector:
    """Face boxes (x, y, w, h) in a grey image, largest first."""

    def __init__(self, kind: str = "dlib"):
        self.kind = kind
        if kind == "dlib":
            import dlib

            self._dlib = dlib.get_frontal_face_detector()
        elif kind == "haar":
            self._haar = cv2.CascadeClassifier(
                cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
            if self._haar.empty():
                raise PredictError("OpenCV's haarcascade_frontalface_default.xml could not be "
                                   "loaded")
        else:
            raise PredictError(f"detector {kind!r}: expected dlib or haar")

    def __call__(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        # Detection runs on the image scaled down to at most DETECT_SIZE on its longer side
        # (dlib's cost grows with the pixel count: 640x480 takes ~20 ms here, a 12-megapixel
        # photo seconds) and boxes are scaled back; images under 400 px are searched at
        # twice their size (dlib's smallest face is about 80 px, 40 px once upsampled).
        scale = min(1.0, DETECT_SIZE / max(grey.shape))
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
            if scale < 1 else grey
        if self.kind == "dlib":
            rects = self._dlib(small, 1 if max(small.shape) < 400 else 0)
            boxes = [(r.left(), r.top(), r.width(), r.height()) for r in rects]
        else:
            boxes = [tuple(int(v) for v in b) for b in self._haar.detectMultiScale(
                small, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40))]
        boxes = [tuple(round(v / scale) for v in b) for b in boxes]
        return sorted(boxes, key=lambda b: -b[2] * b[3])


def crop_face(grey: np.ndarray, box: tuple[int, int, int, int],
              margin: float = BOX_MARGIN) -> np.ndarray:
    """The box widened by `margin` on every side, clipped to the image, as a 48x48 face."""
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(grey.shape[1], x + w + dx), min(grey.shape[0], y + h + dy)
    return cv2.resize(grey[y0:y1, x0:x1], (48, 48), interpolation=cv2.INTER_AREA)


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


# -------------------------------------------------------------------------------- models


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise PredictError(f"{path}: not valid JSON (cut short?); expected the model's "
                           "inference description") from None


def _verified(model: Path, meta: dict) -> tuple[Path, dict]:
    """The model file, checked against the SHA-256 its inference.json records."""
    if meta.get("sha256") and model.name == "model.keras" and sha256_file(model) != meta["sha256"]:
        raise PredictError(f"{model}: its SHA-256 differs from the one inference.json records; "
                           "expected the model file as it was saved (damaged or replaced?)")
    return model, meta


def resolve_model(source: str | Path) -> tuple[Path, dict]:
    """(model file, its inference description) for a .keras file, a folder holding
    model.keras (+ inference.json), or a cell folder of an older run (best.keras +
    config.json). A folder of several models is refused with their list."""
    path = Path(source)
    if not path.exists():
        raise PredictError(f"{path}: no such model file or folder; expected a .keras file, a "
                           "run's cell folder (e.g. runs/ozer/csv-ozer_cnn/seed-0) or a "
                           "published model folder (e.g. reports/ozer/models/csv-ozer_cnn)")
    if path.is_file():
        if path.suffix != ".keras":
            raise PredictError(f"{path}: not a .keras model file")
        meta = path.with_name("inference.json")
        return _verified(path, _json(meta) if meta.exists() else {})
    found = model_file(path)
    if found is not None:
        if (path / DONE_FILE).exists() and (problems := verify(path)):
            raise PredictError(f"{path}: damaged cell ({problems[0]}); expected a cell whose "
                               "files verify against its done.json (run it again)")
        meta = path / "inference.json"
        if meta.exists():
            return _verified(found, _json(meta))
        config = path / "config.json"  # an older run: its recorded preprocessing
        pre = json.loads(config.read_text()).get("preprocess") if config.exists() else None
        return found, {"preprocess": pre if pre and (pre.get("align") or
                                                    pre.get("clahe")) else None}
    found = sorted({p.parent for pattern in ("**/model.keras", "**/best.keras")
                    for p in path.glob(pattern)})
    if found:
        listed = ", ".join(str(p) for p in found[:6]) + (" ..." if len(found) > 6 else "")
        raise PredictError(f"{path}: holds {len(found)} models; name one: {listed}")
    raise PredictError(f"{path}: no model.keras or best.keras in it")


class Predictor:
    """A trained model with its run's preprocessing, ready for images, faces and frames."""

    def __init__(self, source: str | Path, detector: str = "dlib", faces: str = "auto"):
        if faces not in ("auto", "detect", "whole"):
            raise PredictError(f"faces={faces!r}: expected auto, detect or whole")
        self.path, self.meta = resolve_model(source)
        try:
            model = keras.models.load_model(self.path, compile=False)
        except Exception as e:  # a damaged or foreign file: name it, no traceback
            raise PredictError(f"{self.path}: cannot be loaded as a Keras model ({e})") from None
        self.model = inference_model(model)
        import tensorflow as tf

        # One traced function for any number of faces: an eager call of a Keras model costs
        # tens of milliseconds per frame (an LSTM steps in Python), a traced one a few.
        self._serve = tf.function(lambda x: self.model(x, training=False),
                                  input_signature=[tf.TensorSpec((None, 48, 48, 1), tf.float32)])
        pre = self.meta.get("preprocess")
        self.preprocess = PreprocessConfig(**pre) if pre else None
        self.faces = faces
        self._detector_kind = detector
        self._detector: FaceDetector | None = None

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self._detector_kind)
        return self._detector

    def predict_faces(self, faces: np.ndarray) -> np.ndarray:
        """(N, 7) probabilities for grey 48x48 face crops, uint8 (N, 48, 48[, 1])."""
        x = np.asarray(faces, dtype=np.uint8)
        if x.ndim == 3:
            x = x[..., None]
        if self.preprocess is not None:
            x = preprocess(x, self.preprocess).images
        if not len(x):
            return np.zeros((0, len(CLASS_NAMES)), np.float32)
        return self._serve(as_input(x)).numpy()

    def boxes(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        h, w = grey.shape
        whole = self.faces == "whole" or (self.faces == "auto" and max(h, w) <= WHOLE_IMAGE_MAX)
        return [(0, 0, w, h)] if whole else self.detector(grey)

    def predict(self, image: np.ndarray) -> list[Face]:
        """Every face of an image (grey, BGR or BGRA array, as OpenCV reads it)."""
        grey = to_grey(image)
        boxes = self.boxes(grey)
        # a whole-image box stays the whole image: its widening is clipped at the borders
        crops = np.stack([crop_face(grey, b) for b in boxes]) if boxes else \
            np.zeros((0, 48, 48), np.uint8)
        return [Face(b, p) for b, p in zip(boxes, self.predict_faces(crops))]


# ---------------------------------------------------------------------------------- input


def read_image(path: Path) -> np.ndarray:
    image = imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise PredictError(f"{path}: cannot be read as an image; expected one of "
                           f"{', '.join(IMAGE_SUFFIXES)}")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
    return image


def open_video(source: str) -> cv2.VideoCapture:
    """A video file, or a camera as `camera:N` (OpenCV's device index): one code path."""
    target = int(source.split(":", 1)[1]) if source.startswith("camera:") else source
    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        raise PredictError(f"{source}: cannot be opened as a video")
    return capture


def frames(capture: cv2.VideoCapture, limit: int = 0) -> Iterator[np.ndarray]:
    n = 0
    while not limit or n < limit:
        ok, frame = capture.read()
        if not ok:
            return
        n += 1
        yield frame


def inputs(paths: list[str]) -> list[tuple[str, str]]:
    """(kind, path) for every input: images of a folder (sorted, not recursive), an image, a
    video, a camera. An input that is none of these is an error naming it."""
    out = []
    for item in paths:
        if item.startswith("camera:"):
            out.append(("video", item))
            continue
        p = Path(item)
        if p.is_dir():
            images = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise PredictError(f"{p}: no images in this folder ({', '.join(IMAGE_SUFFIXES)})")
            out += [("image", str(q)) for q in images]
        elif not p.exists():
            raise PredictError(f"{p}: no such file or folder")
        elif p.suffix.lower() in VIDEO_SUFFIXES:
            out.append(("video", str(p)))
        else:
            out.append(("image", str(p)))
    return out


# --------------------------------------------------------------------------------- output


def annotate(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A BGR copy with each face's box and top emotion."""
    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[..., :3].copy()
    scale = max(0.4, out.shape[1] / 900)
    for f in faces:
        x, y, w, h = f.box
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (0, 200, 255), max(1, round(scale)))
        cv2.putText(out, f"{f.top} {f.confidence:.0%}", (x, max(12, y - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale * 0.5 if w < 100 else scale,
                    (0, 200, 255), max(1, round(scale)), cv2.LINE_AA)
    return out


def rows_of(source: str, faces: list[Face], frame: int | None = None) -> list[dict]:
    return [{"file": source, "frame": frame, "face": i, "x": f.box[0], "y": f.box[1],
             "w": f.box[2], "h": f.box[3], **{c: round(float(p), 6) for c, p in
                                              zip(CLASS_NAMES, f.probs)},
             "top": f.top} for i, f in enumerate(faces)]


WRITTEN = ".fer-keras-predict.json"  # the files predict wrote into an --out folder


def output_paths(items: list[tuple[str, str]], out: Path, overwrite: bool = False
                 ) -> dict[str, Path]:
    """Where each input's annotated copy goes under `out` (.png for images, .mp4 for videos):
    its path as given when that is relative and below the working folder (photos/a/x.jpg ->
    OUT/photos/a/x.png), else its file name; x.jpg and x.png of one folder become x.jpg.png and
    x.png.png. Checked before anything is written: two inputs with one target, a target that is
    an input, or a file predict did not write (WRITTEN) are refused; one predict wrote before is
    replaced only with `overwrite`."""
    files = {item: Path(item).resolve() for _, item in items if not item.startswith("camera:")}
    targets = {}
    for kind, item in items:
        given = Path(item)
        rel = (Path("camera" + item.split(":", 1)[1]) if item.startswith("camera:")
               else given if not given.is_absolute() and ".." not in given.parts
               else Path(given.name))
        targets[item] = out / rel.with_suffix(".png" if kind == "image" else ".mp4")
    taken = Counter(targets.values())
    for item, target in targets.items():
        if taken[target] > 1:
            targets[item] = target.with_name(Path(item).name + target.suffix)
    clash = [t for t, n in Counter(targets.values()).items() if n > 1]
    if clash:
        same = [i for i, t in targets.items() if t == clash[0]]
        raise PredictError(f"{same[0]} and {same[1]}: both would be annotated as {clash[0]}; "
                           "expected inputs of different names, or relative paths that tell "
                           "them apart (nothing was written)")
    written = set(json.loads((out / WRITTEN).read_text())) if (out / WRITTEN).is_file() \
        else set()
    inputs_ = set(files.values())
    for target in targets.values():
        if target.resolve() in inputs_:
            raise PredictError(f"{target}: is one of the inputs; expected an --out folder apart "
                               "from the inputs (nothing was written)")
        if target.exists() and target.relative_to(out).as_posix() not in written:
            raise PredictError(f"{target}: already exists and was not written by fer-keras "
                               "predict; expected a new or empty --out folder (nothing was "
                               "written)")
        if target.exists() and not overwrite:
            raise PredictError(f"{target}: already exists (an earlier fer-keras predict wrote "
                               "it); expected a new --out folder, or --overwrite to replace the "
                               "files predict wrote there (nothing was written)")
    return targets


def _wrote(out: Path, target: Path) -> None:
    path = out / WRITTEN
    written = set(json.loads(path.read_text())) if path.is_file() else set()
    written.add(target.relative_to(out).as_posix())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(sorted(written), indent=1) + "\n")
    os.replace(tmp, path)


def predict_paths(predictor: Predictor, paths: list[str], out: Path | None = None,
                  max_frames: int = 0, overwrite: bool = False) -> tuple[list[dict], list[str]]:
    """Rows for every face of every input, and the inputs where no face was found; with
    `out`, annotated images (PNG) and videos (MP4) written there (output_paths)."""
    rows, faceless = [], []
    items = inputs(paths)
    targets = output_paths(items, out, overwrite) if out is not None else {}
    for kind, item in items:
        if kind == "image":
            image = read_image(Path(item))
            faces = predictor.predict(image)
            rows += rows_of(item, faces)
            if not faces:
                faceless.append(item)
            if out is not None:
                targets[item].parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(targets[item]), annotate(image, faces))
                _wrote(out, targets[item])
            continue
        capture = open_video(item)
        writer = None
        found = False
        for i, frame in enumerate(frames(capture, max_frames)):
            faces = predictor.predict(frame)
            found |= bool(faces)
            rows += rows_of(item, faces, frame=i)
            if out is not None:
                if writer is None:
                    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
                    targets[item].parent.mkdir(parents=True, exist_ok=True)
                    _wrote(out, targets[item])
                    writer = cv2.VideoWriter(str(targets[item]),
                                             cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(annotate(frame, faces))
        capture.release()
        if writer is not None:
            writer.release()
        if not found:
            faceless.append(item)
    return rows, faceless
