"""A paper's whole reproduction, declared as data beside its config and carried out by one
generic command, `fer-keras reproduce <paper>`.

`experiments/<paper>.py` holds `REPRODUCE`, a tuple of stages: passes of `fer-keras run` (which
models, the first seed or all, caps), a `study`, the report, publishing, extra steps such as
`noise-gain`. Each stage becomes one `fer-keras` command line, run in its own process (a stage
may need its own environment, e.g. oneDNN off for the mini-Xception control, which TensorFlow
reads once at import) and printed before it runs; the first failing stage ends the
reproduction with its exit status. The scoreboard and generated docs (`fer-keras index`) follow
when the report is the committed one.

Resuming: the committed runs (`reports/<paper>/runs/`) are copied into the run folder first,
never over a local file, and the runner reuses every finished cell. Quick mode (`--quick`, or
`--epochs`/`--limit`) trains a few epochs on a few images into `runs/<paper>-quick/` with its
report beside it, and touches nothing under `reports/`.

This module needs no TensorFlow: the configs import its stage types.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.cellfiles import (
    DONE_FILE,
    FINISHED_GLOB,
    FRESH_FILE,
    METRICS_FILE,
    NOISE_GAIN_FILE,
    PREDICTIONS_FILE,
    SEED_GLOB,
    SEED_PREFIX,
)
from ..core.errors import FerKerasError
from ..core.paths import output_folder
from ..core.provenance import write_json
from .config import load_config, run_config_file
from .runfolder import Cell, cells, record_plan, run_lock
from .workers import STOP_WAIT_S, Terminated

QUICK_EPOCHS, QUICK_LIMIT, QUICK_TRIALS = 2, 700, 2


class ReproduceError(FerKerasError):
    pass


# ------------------------------------------------------------------------------- stages

@dataclass(frozen=True)
class Run:
    """One pass of `fer-keras run`: `models` (empty: all of the config's, variants included)
    with every seed (the --seeds given, else the config's own) or only the first; `overrides`
    are the pass's own key=value settings (e.g. an epoch cap). `config` names another config
    file beside the paper's (e.g. a control), trained into `folder` under the run folder with
    `env` set for its process."""
    models: tuple[str, ...] = ()
    seeds: str = "all"
    overrides: tuple[str, ...] = ()
    config: str = ""
    folder: str = ""
    env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if self.seeds not in ("all", "first"):
            raise ReproduceError(f"Run(seeds={self.seeds!r}): expected 'all' or 'first'")


@dataclass(frozen=True)
class Study:
    """`fer-keras study` of the paper's config (its search_space), `trials` finished trials per
    model, into the run folder; `reference` (runs of the paper's printed protocol) spares the
    models whose claims it already reaches."""
    trials: int = 30
    reference: str = ""


@dataclass(frozen=True)
class Report:
    """`fer-keras report` of the run folder; `reference` is a committed run folder shown beside
    a study's best setting (e.g. reports/ozer/runs)."""
    reference: str = ""


@dataclass(frozen=True)
class Publish:
    """`fer-keras publish`: the best seed (by validation loss) of each cell of `models` (empty:
    every cell) with a local model file, into <report>/models; `chosen`: only the cell the
    leaderboard chooses among them (the best mean validation accuracy)."""
    models: tuple[str, ...] = ()
    chosen: bool = False


@dataclass(frozen=True)
class NoiseGain:
    """`fer-keras noise-gain` of the config's preprocessing, into the run folder
    (noise-gain.json), where the report reads it: declare it before the Report stage."""


Stage = Run | Study | Report | Publish | NoiseGain


# ------------------------------------------------------------------------------- options

@dataclass(frozen=True)
class Options:
    data: str
    seeds: tuple[int, ...] = ()   # empty: each config's own
    jobs: int | None = None
    epochs: int | None = None     # quick mode when epochs or limit is set
    limit: int | None = None
    trials: int | None = None
    runs: str = ""                # default runs/<paper>[-quick|-fresh]
    report: str = ""              # default reports/<paper>, or <runs>/report (quick, fresh)
    # train every cell anew (no committed cell copied in), then compare each with its
    # committed twin (compare_with_committed)
    fresh: bool = False

    @property
    def quick(self) -> bool:
        return self.epochs is not None or self.limit is not None

    @property
    def apart(self) -> bool:  # a run of its own: its report beside it, reports/ untouched
        return self.quick or self.fresh


@dataclass(frozen=True)
class Paper:
    """A paper's config file and its declared stages."""
    key: str                      # ozer, ozer-reachability, ...
    config: Path
    seeds: tuple[int, ...]        # the config's own
    stages: tuple = field(default_factory=tuple)


def configs_folder() -> Path:
    """Where the papers' configs are: ./experiments/ in a checkout, else the copy the package
    ships (fer_keras.experiments: pyproject maps experiments/ there), so that an installed
    wheel reproduces a paper too."""
    here = Path("experiments")
    if here.is_dir() and papers(here):
        return here
    try:
        import fer_keras.experiments as shipped
    except ImportError:  # an install made before the configs shipped
        return here
    return Path(shipped.__file__).parent


def papers(folder: Path | None = None) -> dict[str, Path]:
    """Every config in `folder` (default: configs_folder()) that declares REPRODUCE, by paper
    key (file name, _ as -)."""
    folder = configs_folder() if folder is None else folder
    return {p.stem.replace("_", "-"): p for p in sorted(folder.glob("*.py"))
            if "REPRODUCE" in p.read_text()}


def load_paper(name: str, folder: Path | None = None) -> Paper:
    """`name` is a paper key (ozer, ozer-reachability) or a config file's path."""
    folder = configs_folder() if folder is None else folder
    path = Path(name)
    if path.suffix != ".py":
        path = folder / f"{name.replace('-', '_')}.py"
    if not path.is_file():
        known = ", ".join(papers(folder)) or f"none in {folder}/"
        raise ReproduceError(f"{name}: no such paper; expected one of: {known} (or the path of "
                             "a config with REPRODUCE)")
    namespace = run_config_file(path)
    stages, cfg = namespace.get("REPRODUCE"), namespace.get("CONFIG")
    if cfg is None:
        raise ReproduceError(f"{path}: defines no CONFIG = ExperimentConfig(...)")
    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise ReproduceError(f"{path}: defines no REPRODUCE = (Run(...), Report(), ...); "
                             "expected a tuple of fer_keras.train.reproduce stages")
    kinds = [type(s) for s in stages]
    if NoiseGain in kinds and Report in kinds and kinds.index(NoiseGain) > kinds.index(Report):
        raise ReproduceError(f"{path}: REPRODUCE has NoiseGain() after Report(); expected it "
                             "before, so that the report shows what it measures")
    return Paper(path.stem.replace("_", "-"), path, tuple(cfg.seeds), tuple(stages))


# ------------------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]                       # after `fer-keras`
    env: tuple[tuple[str, str], ...] = ()
    # a `run` stage's config, run folder and overrides: the cells it will train (planned)
    run: tuple[str, str, tuple[str, ...]] | None = None

    def planned(self) -> tuple[Path, list[Cell]] | None:
        """The run folder of a `run` stage and the cells it asks for (the runner's own
        `cells`); None for other stages. A bad config or override fails here, before any
        stage starts."""
        if self.run is None:
            return None
        config, out, overrides = self.run
        return Path(out), cells(load_config(config, list(overrides)))

    def __str__(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return (env + " " if env else "") + "fer-keras " + shlex.join(self.argv)


def folders(paper: Paper, opts: Options) -> tuple[Path, Path]:
    suffix = "-quick" if opts.quick else "-fresh" if opts.fresh else ""
    runs = Path(opts.runs or f"runs/{paper.key}{suffix}")
    return runs, Path(opts.report or (runs / "report" if opts.apart else f"reports/{paper.key}"))


def commands(paper: Paper, opts: Options) -> list[Command]:
    """The fer-keras command lines of the paper's stages, in order, then the index (after a
    report into reports/ only: not in quick mode or with --report)."""
    runs, report = folders(paper, opts)
    seeds = opts.seeds or paper.seeds
    quick = ([f"max_epochs={opts.epochs}", "min_epochs=0"] if opts.epochs is not None else []) \
        + ([f"limit={opts.limit}"] if opts.limit is not None else [])
    quick_keys = {q.split("=")[0] for q in quick}
    jobs = ["--jobs", str(opts.jobs)] if opts.jobs else []
    out = []
    for stage in paper.stages:
        if isinstance(stage, Run):
            config = paper.config.with_name(stage.config) if stage.config else paper.config
            # every seed: the --seeds given, else the config's own (another config's own too)
            chosen = seeds[:1] if stage.seeds == "first" else \
                opts.seeds or (() if stage.config else paper.seeds)
            # quick mode's settings replace a pass's own (e.g. an epoch cap)
            own = [o for o in stage.overrides if o.split("=")[0] not in quick_keys]
            folder = str(runs / stage.folder if stage.folder else runs)
            overrides = (*([f"models={','.join(stage.models)}"] if stage.models else []),
                         *([f"seeds={','.join(map(str, chosen))}"] if chosen else []),
                         *own, *quick)
            argv = ["run", str(config), "--data", opts.data, "--out", folder, *jobs, *overrides]
            out.append(Command(tuple(argv), stage.env, (str(config), folder, overrides)))
        elif isinstance(stage, Study):
            trials = opts.trials or (QUICK_TRIALS if opts.quick else stage.trials)
            out.append(Command(("study", str(paper.config), "--data", opts.data, "--trials",
                                str(trials), "--out", str(runs),
                                *(("--reference", stage.reference) if stage.reference else ()),
                                *quick)))
        elif isinstance(stage, Report):
            out.append(Command(("report", str(runs), "--out", str(report),
                                *(("--reference", stage.reference) if stage.reference else ()))))
        elif isinstance(stage, Publish):
            out.append(Command(("publish", str(runs), "--out", str(report / "models"),
                                *(("--models", ",".join(stage.models)) if stage.models else ()),
                                *(("--chosen",) if stage.chosen else ()))))
        elif isinstance(stage, NoiseGain):
            out.append(Command(("noise-gain", str(paper.config), "--data", opts.data,
                                *(("--n", str(opts.limit)) if opts.limit else ()),
                                "--json", str(runs / NOISE_GAIN_FILE))))
    if not opts.apart and not opts.report:
        out.append(Command(("index", str(report.parent))))
    return out


def resume_from_committed(paper: Paper, runs: Path, committed_root: Path = Path("reports")
                          ) -> tuple[int, list[Path]]:
    """Copy the committed runs (reports/<paper>/runs/) into the run folder; the runner then
    reuses every finished cell. A cell (a `seed-<n>` folder) is copied whole or not at all: one
    that exists locally is never merged into, since a committed done.json beside a local
    history would describe another training (verification would then call the cell damaged
    and train it again from scratch); other files (experiment.json, a study) are copied when
    absent. The number of files copied, and the local unfinished cells that a finished
    committed copy was not laid over (kept, e.g. a cell being trained again)."""
    committed = committed_root / paper.key / "runs"
    copied, kept = 0, []
    if not committed.is_dir():
        return 0, []
    for cell in sorted(d for d in committed.rglob(SEED_GLOB) if d.is_dir()):
        local = runs / cell.relative_to(committed)
        if local.is_dir() and any(local.iterdir()):  # an empty folder holds nothing to keep
            if (cell / DONE_FILE).exists() and not (local / DONE_FILE).exists():
                kept.append(local)
            continue
        shutil.copytree(cell, local, dirs_exist_ok=True)
        copied += sum(1 for f in local.rglob("*") if f.is_file())
    for src in sorted(committed.rglob("*")):  # the files outside cells
        rel = src.relative_to(committed)
        if (src.is_file() and not any(part.startswith(SEED_PREFIX) for part in rel.parts)
                and not (runs / rel).exists()):
            (runs / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, runs / rel)
            copied += 1
    return copied, kept


def committed_coverage(paper: Paper, runs: Path, todo: list[Command], copied: bool = True,
                       committed_root: Path = Path("reports")) -> list[str]:
    """For a dry run: per run folder, how many of its planned cells the committed runs
    (reports/<paper>/runs/) hold finished: copied in first and reused (resume_from_committed),
    or, when nothing is `copied` (--fresh, --quick), the twins a fresh run is compared with."""
    committed = committed_root / paper.key / "runs"
    lines = []
    plans: dict[Path, list[Cell]] = {}
    for folder, planned in filter(None, (c.planned() for c in todo)):
        plans.setdefault(folder, []).extend(dict.fromkeys(planned))
    for folder, planned in plans.items():
        try:
            mirror = committed / folder.relative_to(runs)
        except ValueError:
            mirror = committed
        done = sum((c.folder(mirror) / DONE_FILE).is_file() for c in dict.fromkeys(planned))
        total = len(dict.fromkeys(planned))
        lines.append((f"{folder}: {total} cells planned; {done} finished in the committed "
                      f"runs ({mirror}: copied and reused), {total - done} to train" if copied
                      else f"{folder}: {total} cells planned, all to train; {done} have a "
                      f"committed twin in {mirror}")
                     if committed.is_dir() else
                     f"{folder}: {total} cells planned, all to train (no committed runs in "
                     f"{committed})")
    return lines


def reproduce(paper: Paper, opts: Options, dry_run: bool = False) -> int:
    """Carry out the paper's stages; the first that fails ends it with its exit status."""
    runs, _ = folders(paper, opts)
    todo = commands(paper, opts)
    if dry_run:
        for c in todo:
            print(c)
        for line in committed_coverage(paper, runs, todo, copied=not opts.apart):
            print(line)
        return 0
    if not opts.apart:
        with run_lock(output_folder(runs, "the runs")):  # not into a folder being trained
            copied, kept = resume_from_committed(paper, runs)
        if copied:
            print(f"{copied} committed files copied into {runs} (finished cells are reused)")
        elif not (Path("reports") / paper.key / "runs").is_dir():
            print(f"note: no committed runs of {paper.key} here (they are in the repository's "
                  f"reports/{paper.key}/runs/, which a checkout reuses): every cell trains")
        for folder in kept:
            print(f"note: {folder}: unfinished here, finished in the committed runs; the local "
                  "cell is kept and resumed (move it aside to reuse the committed one)")
    # every stage's cells are the folder's plan: a report made before the last stage ends
    # names those not finished, rather than reading as the whole reproduction
    plans: dict[Path, list[Cell]] = {}
    for folder, planned in filter(None, (c.planned() for c in todo)):
        plans.setdefault(folder, []).extend(planned)
    for folder, planned in plans.items():
        with run_lock(output_folder(folder, "the runs")):
            record_plan(folder, planned, replace=True)
    for c in todo:
        print(f"$ {c}", flush=True)
        rc = _stage(c)
        if rc in STOPPED:
            return rc  # the stage said in one line that it was stopped and how to resume
        if rc:
            print(f"error: stage failed (exit {rc}): {c}", file=sys.stderr)
            return rc
    if opts.fresh:
        rows = compare_with_committed(runs, Path("reports") / paper.key / "runs")
        write_json(runs / FRESH_FILE, {"committed": f"reports/{paper.key}/runs", "cells": rows,
                                       "summary": fresh_summary(rows)})
        print(fresh_summary(rows) + f" (each cell: {runs / FRESH_FILE})")
        for c in todo:  # the report again, now with the comparison in it
            if c.argv[0] == "report" and (rc := _stage(c)):
                return rc
    return 0


def compare_with_committed(runs: Path, committed: Path) -> list[dict]:
    """Each finished cell of `runs` beside its committed twin (the same cell and seed, under
    the same identity: config, data and architecture): "identical" (the same test
    predictions, bit for bit), "same accuracy" (to 4 decimals), or "differs" with the
    difference in points and the seeds' spread of the committed cell; "no twin" where the
    committed runs hold none of that identity (other data, another config)."""
    rows = []
    for done in sorted(Path(runs).glob(FINISHED_GLOB)):
        folder = done.parent
        rel = folder.relative_to(runs)
        twin = Path(committed) / rel
        row = {"cell": rel.parent.as_posix(), "seed": int(rel.name[len(SEED_PREFIX):])}
        mine = _read(folder)
        theirs = _read(twin) if (twin / DONE_FILE).is_file() else None
        if theirs is None or theirs["identity"] != mine["identity"]:
            rows.append({**row, "verdict": "no twin", "accuracy": mine["accuracy"]})
            continue
        spread = [_read(s)["accuracy"] for s in sorted(twin.parent.glob(SEED_GLOB))
                  if (s / DONE_FILE).is_file()]
        diff = (mine["accuracy"] - theirs["accuracy"]) * 100
        verdict = ("identical" if np.array_equal(mine["probs"], theirs["probs"]) else
                   "same accuracy" if round(mine["accuracy"], 4) == round(theirs["accuracy"], 4)
                   else "differs")
        rows.append({**row, "verdict": verdict, "accuracy": mine["accuracy"],
                     "committed_accuracy": theirs["accuracy"], "difference_points": diff,
                     "committed_seed_sd_points": float(np.std(spread, ddof=1) * 100)
                     if len(spread) > 1 else None})
    return rows


def _read(folder: Path) -> dict:
    done = json.loads((folder / DONE_FILE).read_text())
    with np.load(folder / PREDICTIONS_FILE) as z:
        probs = z["probs"]
    return {"identity": (done.get("identity") or {}).get("key"), "probs": probs,
            "accuracy": float(json.loads((folder / METRICS_FILE).read_text())["accuracy"])}


def fresh_summary(rows: list[dict]) -> str:
    """One line: how the fresh cells compare with the committed ones."""
    count = {v: sum(r["verdict"] == v for r in rows)
             for v in ("identical", "same accuracy", "differs", "no twin")}
    line = (f"fresh: {len(rows)} cells trained anew; {count['identical']} identical to the "
            f"committed runs (the same test predictions), {count['same accuracy']} with the "
            f"same accuracy to 4 decimals, {count['differs']} differ")
    worst = max((r for r in rows if r["verdict"] == "differs"),
                key=lambda r: abs(r["difference_points"]), default=None)
    if worst is not None:
        sd = worst["committed_seed_sd_points"]
        line += (f" (largest: {worst['cell']} seed {worst['seed']}, "
                 f"{worst['difference_points']:+.2f} points"
                 + (f"; the committed seeds' sd {sd:.2f}" if sd is not None else "") + ")")
    return line + (f"; {count['no twin']} have no committed twin (other data or config)"
                   if count["no twin"] else "")


STOPPED = (130, 143)  # a fer-keras command's exit status after Ctrl-C and after SIGTERM


def _stage(c: Command) -> int:
    """Run one stage in a child process; its exit status. Stopped, this process waits for the
    child to stop as it does (its epoch's backup kept, one line saying how to resume) rather
    than killing it (subprocess.run would, 0.25 s after a Ctrl-C): a Ctrl-C from the terminal
    reaches the child as well; a SIGTERM sent to this process alone is passed on."""
    child = subprocess.Popen([sys.executable, "-m", "fer_keras.cli", *c.argv],
                             env={**os.environ, **dict(c.env)})
    try:
        return child.wait()
    except KeyboardInterrupt as stopped:
        if isinstance(stopped, Terminated):
            child.terminate()
        try:
            return child.wait(timeout=2 * STOP_WAIT_S)  # the child's own workers' limit, twice
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise stopped from None
