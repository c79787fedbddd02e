"""`fer-keras run, reproduce, study, blur-check, noise-gain, describe`: the train wing's commands.
Each checks what it can before TensorFlow is imported, then calls one function of
fer_keras.train."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.paths import output_file, output_folder
from ..core.tfprocess import available_cores, import_tensorflow_quietly, pin_threads
from ..train.reproduce import QUICK_EPOCHS, QUICK_LIMIT, QUICK_TRIALS
from ..train.reproduce import papers as reproduce_papers
from .common import UsageError, config_and_inputs, data_path, levels


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
    cfg, data, csv = config_and_inputs(args)
    out = Path(args.out or Path("runs") / cfg.name)
    shard = _parse_shard(args.shard)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; expected a folder for the run (--out)")
    jobs = _jobs(args, cfg.threads)
    import_tensorflow_quietly()
    from ..train.runner import RunOptions, run_experiment

    opts = RunOptions(data=data, csv=csv, out=out,
                      strategy=args.strategy, mixed_precision=args.mixed_precision, shard=shard,
                      tensorboard=args.tensorboard, force=args.force, dry_run=args.dry_run,
                      jobs=jobs, allow_data_shift=args.allow_data_shift)
    results = run_experiment(cfg, opts)
    if results is not None:
        print(f"results: {results}")
    return 0


def cmd_blur_check(args) -> int:
    cfg, data, csv = config_and_inputs(args)
    out = Path(args.out or Path("runs") / cfg.name)
    if not out.is_dir():
        raise UsageError(f"{out}: no such folder; expected the experiment's run folder (--out)")
    sigmas = levels(args.sigmas, lambda v: 0 <= v <= 24,
                     "comma-separated numbers of pixels from 0 to 24, e.g. 0,1,2,3")
    import_tensorflow_quietly()
    from ..train.diagnostics import blur_check
    from ..train.runner import RunOptions

    path = blur_check(cfg, RunOptions(data=data, csv=csv, out=out), sigmas)
    print(f"blur check: {path}")
    return 0


def cmd_noise_gain(args) -> int:
    cfg, data, _ = config_and_inputs(args)
    default = ",".join(f"{v:g}" for v in cfg.noise_eval if v > 0) or "5,10,20,40"
    sigmas = levels(args.sigmas or default, lambda v: 0 < v <= 128,
                     "comma-separated grey levels above 0 and up to 128, e.g. 5,10,20")
    if args.n < 1:
        raise UsageError(f"--n {args.n}: expected an integer >= 1")
    if args.json:
        output_file(args.json, "the JSON", args.overwrite)
    from ..core.provenance import write_json
    from ..data import load
    from ..data.preprocess import noise_gain_lines, noise_gain_sample

    loaded = load(data)
    found = noise_gain_sample(loaded.images, cfg.preprocess, sigmas, args.n, args.seed)
    print(f"noise gain of {args.config}'s preprocessing ({cfg.preprocess}) on "
          f"{found['images']} random images of {data} (seed {args.seed}); RMS change in grey "
          "levels:")
    print("\n".join(noise_gain_lines(found["rows"])))
    if args.json:
        write_json(args.json, {"config": str(args.config), "preprocess": found["preprocess"],
                               "data": str(data), "data_fingerprint": loaded.fingerprint,
                               **{k: found[k] for k in ("images", "seed", "rows")}})
        print(f"JSON written to {args.json}")
    return 0


def cmd_study(args) -> int:
    cfg, data, _ = config_and_inputs(args)
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials}: expected an integer >= 1")
    out = Path(args.out or Path("runs") / cfg.name)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; expected a folder for the study (--out)")
    import_tensorflow_quietly()
    pin_threads(cfg.threads)  # its trials train in this process: before TensorFlow's first op
    from ..train.study import StudyOptions, run_study

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


def cmd_describe(args) -> int:
    from ..train.config import load_config
    from ..train.runfolder import redescribe, run_lock

    cfg = load_config(args.config)
    runs = Path(args.runs)
    if not runs.is_dir():
        raise UsageError(f"{runs}: no such run folder; expected the --out folder of `fer-keras "
                         "run` (or a report's runs/ copy)")
    with run_lock(output_folder(runs, "the runs")):  # not while a run writes the folder
        print(f"described: {redescribe(runs, cfg)} ({len(cfg.claims)} claims)")
    return 0


def cmd_reproduce(args) -> int:
    from ..train.reproduce import Options, load_paper, reproduce

    paper = load_paper(args.paper)
    if args.dry_run and not (args.data or os.environ.get("FER2013_DIR")):
        data = Path("DATA")  # a dry run lists the stages without data: DATA marks --data
        print("(no --data given: DATA stands for FER-2013's path in the stages below)")
    else:
        data = data_path(args.data)
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


def config_arguments(p, config: str = "experiments/<paper>.py", csv: bool = False,
                     out: str | None = None) -> None:
    """The arguments every command over a config shares: the config, its key=value overrides,
    --data, and where the command has them --csv and --out."""
    p.add_argument("config", help=config)
    p.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    p.add_argument("--data", help="FER-2013 image export or CSV (default: $FER2013_DIR)")
    if csv:
        p.add_argument("--csv", help="the CSV format (default: built from --data by the "
                       "converter)")
    if out:
        p.add_argument("--out", help=out)


def add(command) -> None:
    """This wing's commands on the `fer-keras` parser."""
    r = command("run", help="run an experiment config (factorial, resumable)")
    config_arguments(r, csv=True,
                     out="run folder (default: runs/<experiment>)")
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
    r.set_defaults(handler=cmd_run)

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
    rp.set_defaults(handler=cmd_reproduce)

    st = command("study", help="claim reachability: an Optuna search over the config's "
                        "search_space, then the best setting with every seed (resumable)")
    config_arguments(st, "an experiment config with a search_space",
                     out="study folder (default: runs/<experiment>)")
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
    st.set_defaults(handler=cmd_study)

    bc = command("blur-check", help="finished cells' models on their test images "
                        "blurred by Gaussians of several sigmas (a training/test sharpness "
                        "mismatch shows as accuracy rising with blur)")
    config_arguments(bc, csv=True,
                     out="run folder (default: runs/<experiment>)")
    bc.add_argument("--sigmas", default="0,1,2,3,4", help="blur levels, pixels (default 0,1,2,3,4)")
    bc.set_defaults(handler=cmd_blur_check)

    ng = command("noise-gain", help="how much the config's preprocessing enlarges "
                        "Gaussian noise added to raw images (each stage alone and together)")
    config_arguments(ng)
    ng.add_argument("--n", type=int, default=1000, help="random images measured (default 1000)")
    ng.add_argument("--seed", type=int, default=0, help="picks the images and the noise")
    ng.add_argument("--sigmas", help="noise levels, grey levels (default: the config's "
                    "noise_eval, else 5,10,20,40)")
    ng.add_argument("--json", help="also write the table as JSON here")
    ng.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    ng.set_defaults(handler=cmd_noise_gain)

    de = command("describe", help="rewrite a run folder's experiment.json from a config's "
                 "names, claims and notes (after a claim was corrected); trains nothing")
    de.add_argument("config", help="experiments/<paper>.py")
    de.add_argument("runs", help="its run folder (runs/<paper>, or reports/<paper>/runs)")
    de.set_defaults(handler=cmd_describe)
