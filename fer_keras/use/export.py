"""`fer-keras export`: a trained model as a TensorFlow SavedModel, ONNX or LiteRT file, through
Keras' own `Model.export`, with a parity check.

What is exported is the model behind the one input contract (fer_keras.models.inference): grey
48x48 faces, levels 0-255, in; seven probabilities out. The exported file is then loaded with
its own runtime (TensorFlow, onnxruntime, the LiteRT interpreter) and must give the same
predictions as the Keras model on the same faces (the parity check timm and keras-hub make):
the same top class for every face and probabilities within 1e-4. A run's preprocessing that
cannot live in a graph (EmotionNet++'s alignment and CLAHE) is not in the file: its settings
are written beside it (inference.json), as `predict` reads them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from ..core.cellfiles import INFERENCE_FILE
from ..core.errors import FerKerasError
from ..core.provenance import sha256_file, write_json
from ..models.inference import LiteRT, as_input, inference_model, unrolled
from .predict import resolve_model
from .pretrained import looks_like_name

FORMATS = {"saved_model": "tf_saved_model", "onnx": "onnx", "litert": "litert"}
SUFFIXES = {"saved_model": "", "onnx": ".onnx", "litert": ".tflite"}
TOLERANCE = 1e-4
NEEDS = {"onnx": ("tf2onnx", "onnx", "onnxruntime")}  # the [export] extra (pyproject.toml)


class ExportError(FerKerasError, ValueError):
    pass


def probe_faces(n: int = 16, seed: int = 0) -> np.ndarray:
    """Deterministic grey test inputs for the parity check: smooth random faces-sized images."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, 6, 6), dtype=np.uint8).astype(np.float32)
    smooth = np.stack([np.kron(c, np.ones((8, 8))) for c in coarse])
    noise = rng.normal(0, 12, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)[..., None]


def run_exported(path: Path, fmt: str, x: np.ndarray) -> np.ndarray:
    """Predictions of an exported file, by its own runtime."""
    if fmt == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # kept: its functions need its variables
        return loaded.serve(x).numpy()
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    return LiteRT(Path(path).read_bytes())(x)


def sidecar_of(out: Path) -> Path:
    """Where an export's description lives: beside a file, inside a SavedModel folder."""
    return out / INFERENCE_FILE if out.is_dir() or out.suffix not in (".onnx", ".tflite") \
        else out.with_name(out.name + ".json")


def is_export(out: Path) -> bool:
    """Whether `out` is an export this command made (its sidecar says so)."""
    try:
        return "export" in json.loads(sidecar_of(out).read_text())
    except (OSError, ValueError):
        return False


def check_output(out: Path, overwrite: bool) -> None:
    """An existing output is never replaced unless it is an earlier export and `overwrite`
    says so: a user's folder or file is never deleted."""
    if not out.exists():
        return
    if not is_export(out):
        raise ExportError(f"{out}: already exists and is not an export made by fer-keras; "
                          "expected a new path for --out (nothing was changed)")
    if not overwrite:
        raise ExportError(f"{out}: already exists (an earlier export); expected a new path "
                          "for --out, or --overwrite to replace it (nothing was changed)")


def export(source: str | Path, fmt: str, out: str | Path | None = None,
           overwrite: bool = False) -> dict:
    """Export the model at `source` (anything `predict` accepts) to `out`; returns what the
    parity check measured. Raises ExportError when the exported file disagrees. The export
    is made beside `out` and moved there only once it passed the parity check."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    missing = [m for m in NEEDS.get(fmt, ()) if importlib.util.find_spec(m) is None]
    if missing:  # before any model loads: one line naming the extra
        raise ExportError(f"--format {fmt}: needs {', '.join(missing)}, not installed; expected "
                          "pip install 'fer-keras[export]' (Python: the same extra)")
    path, meta = resolve_model(source)
    model = inference_model(keras.models.load_model(path, compile=False))
    # a published model's name: the export lands in the working folder, never in the package
    default = Path(f"{str(source).replace('/', '-')}-{fmt}") if looks_like_name(source) \
        else path.parent / f"export-{fmt}"
    out = Path(out) if out else default
    if SUFFIXES[fmt] and out.suffix != SUFFIXES[fmt]:  # Keras requires .onnx / .tflite
        out = out.with_name(out.name + SUFFIXES[fmt])
    check_output(out, overwrite)
    x = as_input(probe_faces())
    expected = model.predict(x, verbose=0)  # also builds the model: ONNX export needs a call
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        (unrolled(model) if fmt == "litert" else model).export(str(tmp), format=FORMATS[fmt],
                                                                verbose=False)
        got = run_exported(tmp, fmt, x)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    diff = float(np.abs(got - expected).max())
    same_top = bool((got.argmax(1) == expected.argmax(1)).all())
    result = {"format": fmt, "path": str(out), "source": str(path), "faces": len(x),
              "max_abs_diff": diff, "same_top_class": same_top,
              "sha256": sha256_file(tmp) if tmp.is_file() else None}
    if not same_top or diff > TOLERANCE:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise ExportError(f"{out}: the exported model disagrees with {path} (largest "
                          f"probability difference {diff:.2e}, same top class: {same_top}); "
                          "expected agreement within 1e-4 (nothing was written)")
    if out.exists():  # an earlier export, replaced as --overwrite asked (check_output)
        shutil.rmtree(out) if out.is_dir() else out.unlink()
        sidecar_of(out).unlink(missing_ok=True)
    os.replace(tmp, out)
    write_json(sidecar_of(out), {**meta, "export": result})
    return result


