"""Use a trained model on your own images and videos: `fer-keras predict`, and its Python API.

    from fer_keras.use.predict import Predictor, top_emotion
    p = Predictor.from_pretrained()   # the default model; or a name, Predictor(a folder/.keras)
    for face in p.predict("photo.jpg"):          # a path, a BGR/grey array or a PIL image
        print(face.box, face.top, face.confidence, face.emotions)
    top_emotion("photo.jpg")                      # ('happy', 0.93) for the largest face

Steps, the same for images, video frames and camera frames:
1. Faces. An image of at most 64x64 pixels is taken as one face crop, as FER-2013's are
   (`faces="auto"`); larger images go through a face detector: MTCNN (Zhang et al. 2016, the
   `mtcnn` package, a core dependency) by default, the detector with the most right answers
   end to end (DEFAULT_DETECTOR); dlib's frontal face detector (HOG + linear SVM; the [align]
   extra) and OpenCV's bundled Haar cascade (`haarcascade_frontalface_default.xml`, the
   fastest) as alternatives. dlib searches faces from `min_face` pixels (40 by default) up:
   its smallest window is 80 px, so a smaller face is searched in the image upsampled (x2 per
   step; slower, see reports/bench/faces.md); MTCNN searches from its own 20 px.
   Each box is turned into FER-2013's own framing (FRAMING: where that detector's box lies in
   FER-2013's 48x48 frame, measured on the training faces by fer_keras.use.facebench.framing),
   a square cut out of the image (replicated at its borders).
2. Each face crop: grey, resized to 48x48 (area interpolation).
3. The run's own preprocessing, where it has one (EmotionNet++'s alignment and CLAHE:
   fer_keras.data.preprocess.preprocess with the settings recorded in the run), the same
   function the runner applied to its training and test images.
4. The model behind the one input contract (fer_keras.models.inference): grey 0-255 in,
   seven probabilities out.
"""

from __future__ import annotations

from ..core.tfprocess import import_tensorflow_quietly

# TensorFlow's start-up notices (oneDNN, a CUDA cuInit error on a machine without a GPU) held
# back for the Python API as the command line holds them, before Keras is imported below (a
# user who imported TensorFlow first sees them as TensorFlow printed them)
import_tensorflow_quietly()

import importlib.util
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import numpy as np

from ..core.cellfiles import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    DONE_FILE,
    INFERENCE_FILE,
    MODEL_FILE,
    verify,
)
from ..core.errors import FerKerasError
from ..core.labels import CLASS_NAMES
from ..core.outputs import owned, recorded, remember, within
from ..core.provenance import atomic_path, sha256_file, write_csv, write_json
from ..data.directory import IMAGE_EXTENSIONS, imread, imwrite
from ..data.preprocess import PreprocessConfig, preprocess
from ..models.inference import (
    as_input,
    inference_model,
    litert_function,
    mirrored,
    model_file,
    traced_function,
)
from .pretrained import DEFAULT_MODEL, folder_of, looks_like_name

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
WHOLE_IMAGE_MAX = 64  # faces="auto": images up to this size are face crops already
DETECT_SIZE = 640  # faces are searched in the image scaled to at most this longer side
MIN_FACE = 40  # px: the smallest face searched by default
DLIB_WINDOW = 80  # px: dlib's frontal detector finds faces from about this size up
# Where each detector's box lies in FER-2013's own 48x48 frame: median (x, y, w, h) in frame
# units over 1,000 training faces (seed 0) pasted into scenes at 48-300 px (seed 1) and found
# as predict finds them, measured by facebench.framing on the repaired FER-2013
# (reports/bench/faces.md; tests/test_faces.py measures it again). The crop inverts it, so a
# detected face is cut as FER-2013 cut its faces.
FRAMING = {"dlib": (0.063, 0.133, 0.864, 0.863), "haar": (0.015, 0.012, 0.961, 0.961),
           "mtcnn": (0.094, -0.015, 0.797, 1.046)}
WHOLE = (0.0, 0.0, 1.0, 1.0)  # the box is the frame (an image that is a face crop already)
# The default detector: the one with the most right answers end to end with the default model
# (a missed face counted wrong; reports/bench/faces.md, 1,000 pasted FER-2013 test faces:
# MTCNN 50.6 %, dlib 44.7 %, Haar 43.1 % with wasey/directory-wasey_cnn_lstm; #65). Pinned
# against the committed measurement by tests/test_first_hour.py.
DEFAULT_DETECTOR = "mtcnn"


class PredictError(FerKerasError, ValueError):
    pass


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height in the image
    probs: np.ndarray  # (7,), classes in fer_keras.core.labels order
    # the face detector's own score (FaceDetector.detect); None: no detector ran (the whole
    # image was the face)
    detection: float | None = None

    @property
    def top(self) -> str:
        return CLASS_NAMES[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))

    @property
    def emotions(self) -> dict[str, float]:
        """Emotion name -> probability, in fer_keras.core.labels order (as `fer` returns them)."""
        return {name: float(p) for name, p in zip(CLASS_NAMES, self.probs)}

    def as_dict(self) -> dict:
        return {"box": list(self.box), "emotions": self.emotions, "top": self.top,
                "confidence": self.confidence, "detection": self.detection}


# ------------------------------------------------------------------------------ detection


class FaceDetector:
    """Face boxes (x, y, w, h) in a grey image, largest first, from `min_face` px up (MTCNN:
    from its own 20 px)."""

    def __init__(self, kind: str = DEFAULT_DETECTOR, min_face: int = MIN_FACE):
        self.kind, self.min_face = kind, min_face
        if kind == "dlib":
            try:
                import dlib
            except ImportError:
                raise PredictError("the dlib face detector is not installed; expected "
                                   "pip install 'fer-keras[align]' (dlib-bin), or OpenCV's, "
                                   "always installed: --detector haar (Python: "
                                   "detector=\"haar\")") from None
            self._dlib = dlib.get_frontal_face_detector()
        elif kind == "haar":
            self._haar = cv2.CascadeClassifier(
                cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
            if self._haar.empty():
                raise PredictError("OpenCV's haarcascade_frontalface_default.xml could not be "
                                   "loaded")
        elif kind == "mtcnn":
            try:
                from mtcnn import MTCNN
            except ImportError:  # a dependency of the package: an incomplete installation
                others = "dlib or haar" if importlib.util.find_spec("dlib") else "haar"
                raise PredictError("the MTCNN face detector (a dependency of fer-keras) is not "
                                   "installed; expected pip install fer-keras to complete the "
                                   f"installation, or --detector {others} (Python: "
                                   "detector=...)") from None
            # all three stages: ONet refines the boxes (its landmarks are not used)
            self._mtcnn = MTCNN()
        else:
            raise PredictError(f"detector {kind!r}: expected dlib, haar or mtcnn")

    def upsampling(self, scale: float) -> int:
        """dlib's upsampling steps (x2 each) for faces of min_face px in an image scaled by
        `scale` to reach its 80 px window; at most 2."""
        smallest = max(1.0, self.min_face * scale)
        return int(min(2, max(0, np.ceil(np.log2(DLIB_WINDOW / smallest)))))

    def __call__(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        """The face boxes (x, y, w, h), largest first."""
        return [box for box, _ in self.detect(grey)]

    def detect(self, grey: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """(box, score) of each face, largest first. The score is the detector's own, not
        comparable across detectors: dlib's SVM margin (above 0: a face), the cascade's count
        of neighbouring windows merged into the box, MTCNN's probability (0-1)."""
        # Detection runs on the image scaled down to at most DETECT_SIZE on its longer side
        # (dlib's cost grows with the pixel count: a 12-megapixel photo would take seconds)
        # and boxes are scaled back.
        scale = min(1.0, DETECT_SIZE / max(grey.shape))
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
            if scale < 1 else grey
        if self.kind == "dlib":  # run() is the call with its scores (threshold 0, the same)
            rects, scores, _ = self._dlib.run(small, self.upsampling(scale), 0.0)
            found = [((r.left(), r.top(), r.width(), r.height()), float(s))
                     for r, s in zip(rects, scores)]
        elif self.kind == "mtcnn":
            # the package's own thresholds (0.6, 0.7, 0.8) and smallest face (20 px): with
            # min_face_size=40 (our default), mtcnn 1.0.0's scale pyramid shrinks the image
            # below its 12 px network and nothing is found (0 of 1,000 pasted faces)
            found = [(tuple(int(v) for v in f["box"]), float(f["confidence"]))
                     for f in self._mtcnn.detect_faces(cv2.cvtColor(small, cv2.COLOR_GRAY2RGB))]
        else:  # the cascade's box is about FER-2013's frame (FRAMING): 0.9 of the face side
            side = max(24, int(self.min_face * scale * 0.9))
            # detectMultiScale2: detectMultiScale's boxes, with each one's merged windows
            rects, counts = self._haar.detectMultiScale2(small, scaleFactor=1.1, minNeighbors=5,
                                                         minSize=(side, side))
            found = [(tuple(int(v) for v in b), float(n)) for b, n in zip(rects, counts)]
        found = [(tuple(round(v / scale) for v in b), s) for b, s in found]
        return sorted(found, key=lambda f: -f[0][2] * f[0][3])


def frame_of(box: tuple[int, int, int, int],
             framing: tuple[float, float, float, float] = WHOLE) -> tuple[int, int, int, int]:
    """The square FER-2013 frame (x, y, side, side) around a detector's box, given where such a
    box lies in the frame (`framing`, frame units)."""
    x, y, w, h = box
    fx, fy, fw, fh = framing
    side = max(w / fw, h / fh)
    cx, cy = x + w / 2 - (fx + fw / 2 - 0.5) * side, y + h / 2 - (fy + fh / 2 - 0.5) * side
    return round(cx - side / 2), round(cy - side / 2), round(side), round(side)


def crop_face(grey: np.ndarray, box: tuple[int, int, int, int],
              framing: tuple[float, float, float, float] = WHOLE) -> np.ndarray:
    """The frame around `box` (`framing`: a detector's FRAMING, or WHOLE for the box itself)
    as a 48x48 face; parts of the frame outside the image repeat its border pixels."""
    x, y, w, h = frame_of(box, framing) if framing != WHOLE else box
    H, W = grey.shape
    pad = max(0, -x, -y, x + w - W, y + h - H)
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x, y = x + pad, y + pad
    return cv2.resize(grey[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA)


def as_array(image) -> np.ndarray:
    """An image given as a path, a PIL image or an array, as OpenCV's uint8 array (BGR or
    grey)."""
    if isinstance(image, (str, Path)):
        return read_image(Path(image))
    if hasattr(image, "mode") and hasattr(image, "convert"):  # PIL, without importing it
        if image.mode in ("L", "I;16", "I", "F"):
            return np.asarray(image.convert("L"))
        return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise PredictError(f"an image of shape {array.shape}: expected (H, W) grey or "
                           "(H, W, 3) BGR or (H, W, 4) BGRA")
    if array.dtype != np.uint8:
        array = cv2.convertScaleAbs(array, alpha=255.0 / max(1.0, float(array.max()))) \
            if array.max() > 1 else (array * 255).round().astype(np.uint8)
    return array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array


def face_levels(faces) -> np.ndarray:
    """Face crops as the input contract wants them: grey levels 0-255, uint8, (N, 48, 48, 1).
    uint8 passes; other integers and floats within 0-255 are rounded; floats all within 0-1
    (the usual scaled form) are taken as 0-1 and scaled by 255. Anything else is refused in
    one line, never cast silently (0-1 floats cast to uint8 are 0 and 1: every face alike)."""
    x = np.asarray(faces)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        x = x[None]  # one face
    if x.ndim != 3 or x.shape[1:] != (48, 48):
        raise PredictError(f"faces of shape {np.shape(faces)}: expected grey crops (N, 48, 48) "
                           "or (N, 48, 48, 1)")
    if x.size and x.dtype != np.uint8:
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise PredictError(f"faces of type {x.dtype}: expected grey levels as numbers")
        low, high = float(x.min()), float(x.max())
        if not (0 <= low and high <= 255):
            raise PredictError(f"faces with values from {low:g} to {high:g}: expected grey "
                               "levels 0-255 (or floats 0-1)")
        if np.issubdtype(x.dtype, np.floating) and high <= 1.0:
            x = x * 255.0
        x = np.rint(x).astype(np.uint8)
    return x.astype(np.uint8)[..., None]


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
    if meta.get("sha256") and model.name == MODEL_FILE and sha256_file(model) != meta["sha256"]:
        raise PredictError(f"{model}: its SHA-256 differs from the one inference.json records; "
                           "expected the model file as it was saved (damaged or replaced?)")
    return model, meta


def resolve_model(source: str | Path) -> tuple[Path, dict]:
    """(model file, its inference description) for a .keras file, a folder holding
    model.keras (+ inference.json), or a cell folder of an older run (best.keras +
    config.json). A folder of several models is refused with their list."""
    if looks_like_name(source):  # a published model's name, e.g. ozer/csv-ozer_cnn_lstm
        source = folder_of(str(source))
    path = Path(source)
    if not path.exists():
        raise PredictError(f"{path}: no such model file or folder; expected a .keras file, a "
                           "run's cell folder (e.g. runs/ozer/csv-ozer_cnn/seed-0) or a "
                           "published model folder (e.g. reports/ozer/models/csv-ozer_cnn)")
    if path.is_file():
        if path.suffix != ".keras":
            raise PredictError(f"{path}: not a .keras model file")
        meta = path.with_name(INFERENCE_FILE)
        return _verified(path, _json(meta) if meta.exists() else {})
    found = model_file(path)
    if found is not None:
        if (path / CONFIG_FILE).exists() and not (path / DONE_FILE).exists():
            raise PredictError(f"{path}: an unfinished cell (no {DONE_FILE}); expected a "
                               "finished one (let its run finish, or run it again)")
        if (path / DONE_FILE).exists() and (problems := verify(path)):
            raise PredictError(f"{path}: damaged cell ({problems[0]}); expected a cell whose "
                               "files verify against its done.json (run it again)")
        meta = path / INFERENCE_FILE
        if meta.exists():
            return _verified(found, _json(meta))
        config = path / CONFIG_FILE  # an older run: its recorded preprocessing
        pre = json.loads(config.read_text()).get("preprocess") if config.exists() else None
        return found, {"preprocess": pre if pre and (pre.get("align") or
                                                    pre.get("clahe")) else None}
    found = sorted({p.parent for pattern in (f"**/{MODEL_FILE}", f"**/{CHECKPOINT_FILE}")
                    for p in path.glob(pattern)})
    if found:
        listed = ", ".join(str(p) for p in found[:6]) + (" ..." if len(found) > 6 else "")
        raise PredictError(f"{path}: holds {len(found)} models; name one: {listed}")
    raise PredictError(f"{path}: no model.keras or best.keras in it")


# what predict does with an image where the detector finds no face (fer's and deepface's
# `enforce_detection`): an empty list, the whole image as one face, or an error
NO_FACE = ("skip", "whole", "error")


# how the model runs: Keras (a traced TensorFlow function) or LiteRT's interpreter (the model
# converted once in memory; faster one face at a time, a few seconds to convert)
RUNTIMES = ("keras", "litert")


class Predictor:
    """A trained model with its run's preprocessing, ready for images, faces and frames."""

    def __init__(self, source: str | Path = DEFAULT_MODEL, detector: str = DEFAULT_DETECTOR,
                 faces: str = "auto", min_face: int = MIN_FACE, no_face: str = "skip",
                 runtime: str = "keras", flip: bool | None = None):
        if faces not in ("auto", "detect", "whole"):
            raise PredictError(f"faces={faces!r}: expected auto, detect or whole")
        if no_face not in NO_FACE:
            raise PredictError(f"no_face={no_face!r}: expected {', '.join(NO_FACE)}")
        self.no_face = no_face
        self.path, self.meta = resolve_model(source)
        try:
            model = keras.models.load_model(self.path, compile=False)
        except Exception as e:  # a damaged or foreign file: name it, no traceback
            raise PredictError(f"{self.path}: cannot be loaded as a Keras model ({e})") from None
        self.model = inference_model(model)
        if runtime not in RUNTIMES:
            raise PredictError(f"runtime={runtime!r}: expected {' or '.join(RUNTIMES)}")
        self.runtime = runtime
        self._serve = litert_function(self.model) if runtime == "litert" else \
            traced_function(self.model)
        pre = self.meta.get("preprocess")
        self.preprocess = PreprocessConfig(**pre) if pre else None
        # flip averaging: each face's probabilities averaged with its mirror image's. None:
        # as the model was published (inference.json `flip`, on where it helped on
        # validation; off for models published before it was measured)
        self.flip = bool(self.meta.get("flip", False)) if flip is None else bool(flip)
        self.faces = faces
        self._detector_kind, self.min_face = detector, min_face
        self._detector: FaceDetector | None = None

    @classmethod
    def from_pretrained(cls, name: str = DEFAULT_MODEL, **kwargs) -> Predictor:
        """A published model by name (`fer-keras models` lists them), e.g.
        `Predictor.from_pretrained("ozer/csv-ozer_cnn_lstm")`; its SHA-256 is verified. No name:
        the default model (fer_keras.use.pretrained.DEFAULT_MODEL)."""
        return cls(folder_of(name), **kwargs)

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self._detector_kind, self.min_face)
        return self._detector

    def predict_faces(self, faces: np.ndarray) -> np.ndarray:
        """(N, 7) probabilities for grey 48x48 face crops (N, 48, 48[, 1]) (face_levels)."""
        x = face_levels(faces)
        if self.preprocess is not None:
            x = preprocess(x, self.preprocess).images
        if not len(x):
            return np.zeros((0, len(CLASS_NAMES)), np.float32)
        x = as_input(x)
        if not self.flip:
            return self._serve(x)
        return (self._serve(x) + self._serve(mirrored(x))) / 2

    def _whole(self, grey: np.ndarray) -> bool:
        return self.faces == "whole" or (self.faces == "auto"
                                         and max(grey.shape) <= WHOLE_IMAGE_MAX)

    def boxes(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        return [box for box, _ in self._found(grey)]

    def _found(self, grey: np.ndarray) -> list[tuple[tuple[int, int, int, int], float | None]]:
        h, w = grey.shape
        return [((0, 0, w, h), None)] if self._whole(grey) else self.detector.detect(grey)

    def crops(self, grey: np.ndarray, boxes: list, whole: bool | None = None) -> np.ndarray:
        """48x48 faces for `boxes`: a whole image as it is, a detected box in FER-2013's
        framing for its detector (FRAMING)."""
        whole = self._whole(grey) if whole is None else whole
        framing = WHOLE if whole else FRAMING[self._detector_kind]
        return np.stack([crop_face(grey, b, framing) for b in boxes]) if boxes else \
            np.zeros((0, 48, 48), np.uint8)

    def predict(self, image) -> list[Face] | list[list[Face]]:
        """Every face of an image, largest first: a path, a NumPy array (grey, BGR or BGRA,
        as OpenCV reads it) or a PIL image; given a list of them, one such list per image."""
        if isinstance(image, (list, tuple)) and image and all(
                isinstance(i, (str, Path, np.ndarray)) or hasattr(i, "convert") for i in image):
            return [self.predict(i) for i in image]
        grey = to_grey(as_array(image))
        found = self._found(grey)
        whole = self._whole(grey)
        if not found and self.no_face == "error":
            where = f"{image}: " if isinstance(image, (str, Path)) else ""
            raise PredictError(f"{where}no face found; expected an image with a face (or "
                               "no_face='whole' to answer for the whole image, or 'skip')")
        if not found and self.no_face == "whole":  # the whole image, as one face
            h, w = grey.shape
            found, whole = [((0, 0, w, h), None)], True
        boxes = [b for b, _ in found]
        probs = self.predict_faces(self.crops(grey, boxes, whole))
        return [Face(b, p, s) for (b, s), p in zip(found, probs)]


_PREDICTORS: dict[str, Predictor] = {}


def top_emotion(image, model: str = DEFAULT_MODEL) -> tuple[str, float] | tuple[None, None]:
    """The largest face's top emotion and its probability, (None, None) without a face: one
    call, like `fer`'s `top_emotion`. `image`: a path, an array or a PIL image; `model`: a
    published name or a path (loaded once per process)."""
    if model not in _PREDICTORS:
        _PREDICTORS[model] = Predictor(model)
    faces = _PREDICTORS[model].predict(image)
    return (faces[0].top, faces[0].confidence) if faces else (None, None)


# ---------------------------------------------------------------------------------- input


def read_image(path: Path) -> np.ndarray:
    image = imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise PredictError(f"{path}: cannot be read as an image; expected one of "
                           f"{', '.join(IMAGE_EXTENSIONS)}")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
    return image


def open_video(source: str) -> cv2.VideoCapture:
    """A video file, or a camera as `camera:N` (OpenCV's device index): one code path."""
    target = int(source.split(":", 1)[1]) if source.startswith("camera:") else source
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # its [ WARN ] lines:
    try:  # the one error line below says it
        capture = cv2.VideoCapture(target)
    finally:
        cv2.utils.logging.setLogLevel(level)
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
            images = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS)
            if not images:
                raise PredictError(f"{p}: no images in this folder ({', '.join(IMAGE_EXTENSIONS)})")
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
             "w": f.box[2], "h": f.box[3],
             "detection": None if f.detection is None else round(f.detection, 6),
             **{c: round(float(p), 6) for c, p in
                                              zip(CLASS_NAMES, f.probs)},
             "top": f.top} for i, f in enumerate(faces)]


ROW_COLUMNS = ("file", "frame", "face", "x", "y", "w", "h", "detection", *CLASS_NAMES,
               "top")  # rows_of


def write_table(path: Path, rows: list[dict], faceless: list[str], model: Path) -> Path:
    """The rows as a table at `path` (atomically): CSV (one row per face, and per frame of a
    video; ROW_COLUMNS), or JSON (the model, the faces and the inputs without one) by its
    suffix."""
    if Path(path).suffix.lower() == ".json":
        write_json(path, {"model": str(model), "faces": rows, "no_face": faceless})
    else:
        write_csv(path, rows, list(ROW_COLUMNS))
    return Path(path)


def output_paths(items: list[tuple[str, str]], out: Path, overwrite: bool = False
                 ) -> dict[str, Path]:
    """Where each input's annotated copy goes under `out` (.png for images, .mp4 for videos):
    its path as given when that is relative and below the working folder (photos/a/x.jpg ->
    OUT/photos/a/x.png), else its file name; x.jpg and x.png of one folder become x.jpg.png and
    x.png.png. Checked before anything is written: two inputs with one target, a target that is
    an input, a linked folder on the way, or a file predict did not write (outputs.recorded: a
    link counts as one) are refused; one predict wrote before is replaced only with
    `overwrite`."""
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
    record = recorded(out)
    inputs_ = set(files.values())
    for target in targets.values():
        rel = target.relative_to(out).as_posix()
        if not os.path.lexists(within(out, rel)):  # a linked folder on the way: refused
            continue
        if target.resolve() in inputs_:
            raise PredictError(f"{target}: is one of the inputs; expected an --out folder apart "
                               "from the inputs (nothing was written)")
        if not owned(out, rel, record):
            raise PredictError(f"{target}: already exists and was not written by fer-keras "
                               "predict (or changed since); expected a new or empty --out "
                               "folder (nothing was written)")
        if not overwrite:
            raise PredictError(f"{target}: already exists (an earlier fer-keras predict wrote "
                               "it); expected a new --out folder, or --overwrite to replace the "
                               "files predict wrote there (nothing was written)")
    return targets


def _write_video(target: Path, frames_: Iterator[np.ndarray], fps: float) -> None:
    """The annotated frames as an MP4 at `target`: made under a plain temporary name (OpenCV
    is never handed a name it cannot encode) and moved into place (a link at `target` is
    replaced itself, never followed)."""
    with tempfile.TemporaryDirectory() as tmp:
        made = Path(tmp) / "video.mp4"
        writer = None
        for frame in frames_:
            if writer is None:
                writer = cv2.VideoWriter(str(made), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                         (frame.shape[1], frame.shape[0]))
            writer.write(frame)
        if writer is None:
            return
        writer.release()
        with atomic_path(target) as moved:
            shutil.copyfile(made, moved)


def _annotated(predictor: Predictor, capture: cv2.VideoCapture, item: str, max_frames: int,
               rows: list[dict]) -> Iterator[np.ndarray]:
    """Each frame of a video annotated with its faces; their rows appended to `rows`."""
    for i, frame in enumerate(frames(capture, max_frames)):
        faces = predictor.predict(frame)
        rows.extend(rows_of(item, faces, frame=i))
        yield annotate(frame, faces)


RECORD_EVERY = 100  # annotated files written between two rewrites of the output record


def predict_paths(predictor: Predictor, paths: list[str], out: Path | None = None,
                  max_frames: int = 0, overwrite: bool = False) -> tuple[list[dict], list[str]]:
    """Rows for every face of every input, and the inputs where no face was found; with
    `out`, annotated images (PNG) and videos (MP4) written there (output_paths)."""
    rows, faceless = [], []
    items = inputs(paths)
    targets = output_paths(items, out, overwrite) if out is not None else {}
    written: list[str] = []  # annotated files not yet in the output record

    def record(target: Path) -> None:
        # the record is rewritten once per RECORD_EVERY files, not per file (a folder of
        # 10,000 photos would rewrite a growing record 10,000 times), and whatever happens
        # before the end, the files already written are recorded (finally, below)
        written.append(target.relative_to(out).as_posix())
        if len(written) >= RECORD_EVERY:
            flush()

    def flush() -> None:
        if written:
            remember(out, "predict", written)
            written.clear()

    try:
        for kind, item in items:
            if kind == "image":
                image = read_image(Path(item))
                faces = predictor.predict(image)
                rows += rows_of(item, faces)
                if not faces:
                    faceless.append(item)
                if out is not None:
                    targets[item].parent.mkdir(parents=True, exist_ok=True)
                    imwrite(targets[item], annotate(image, faces))
                    record(targets[item])
                continue
            capture = open_video(item)
            video_rows: list[dict] = []
            annotated = _annotated(predictor, capture, item, max_frames, video_rows)
            if out is not None:
                targets[item].parent.mkdir(parents=True, exist_ok=True)
                _write_video(targets[item], annotated, capture.get(cv2.CAP_PROP_FPS) or 25.0)
                if targets[item].exists():
                    record(targets[item])
            else:
                for _ in annotated:
                    pass
            capture.release()
            rows += video_rows
            if not video_rows:
                faceless.append(item)
    finally:
        if out is not None:
            flush()
    return rows, faceless


def print_faces(rows: list[dict], faceless: list[str], fmt: str, model) -> None:
    """What `fer-keras predict` prints: every face as a table (the whole path, the whole class
    names), JSON or CSV; then the images where no face was found."""
    import csv
    import sys

    if fmt == "json":
        print(json.dumps({"model": str(model), "faces": rows,
                          "no_face": faceless}, indent=2))
    elif fmt == "csv":
        if rows:
            w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        # the whole path (a long one widens the column), the whole class names
        width = max([4, *(len(str(r["file"])) for r in rows)])
        print(f"{'file':<{width}} {'frame':>5} {'face box (x,y,w,h)':<20} {'top':<9} "
              + " ".join(f"{c:>8}" for c in CLASS_NAMES))
        for r in rows:
            frame = "" if r["frame"] is None else r["frame"]
            box = f"{r['x']},{r['y']},{r['w']},{r['h']}"
            print(f"{str(r['file']):<{width}} {frame:>5} {box:<20} {r['top']:<9} "
                  + " ".join(f"{r[c]:>8.3f}" for c in CLASS_NAMES))
        for f in faceless:
            print(f"{f}: no face found")
