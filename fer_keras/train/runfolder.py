"""A run folder's bookkeeping: which cells exist, what each computed, and whether a finished
cell may be reused. Nothing finished is ever deleted or silently reused.

`<out>/<format>-<model>/seed-<n>/` is one cell. Its identity is everything that changes what
it computes: the training config, the data's fingerprint (SHA-256 of pixels and labels) and
the model's signature (its architecture; `models.summary.signature`; the form older cells
recorded is accepted as the same, `models.summary.signatures`). `config.json` records
the identity when the cell starts and `done.json` when it finishes. A finished cell is reused
only when its whole identity matches; an unfinished one is resumed only then. Any other cell
in the way is a conflict: the run refuses before training anything, naming the cell and what
differs, unless `--force` asks to move the old cell aside (to `<out>/_superseded/`), never to
delete it.

`results.csv` and `experiment.json` are rebuilt from the finished cells on disk after every
cell, so they always describe exactly those cells; `experiment.json` also keeps the plan, every
cell ever asked of the folder (`record_plan`), so a report can name the cells not finished yet.

Light on purpose (no TensorFlow): reading and planning a run folder needs no training code.
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..core.cellfiles import (
    CONFIG_FILE,
    DONE_FILE,
    EXPERIMENT_FILE,
    FINISHED_GLOB,
    LOCK_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    PLAN_KEY,
    RESULTS_FILE,
    SUPERSEDED,
    file_hashes,
    seed_folder,
    verify,
)
from ..core.errors import FerKerasError
from ..core.metrics import RESULT_COLUMNS, RESULT_METRICS
from ..core.provenance import kernel_switches, write_csv, write_json
from .config import ExperimentConfig, flatten


class RunConflictError(FerKerasError):
    """A cell on disk that this run may neither reuse nor replace without being told to."""


@dataclass(frozen=True)
class Cell:
    format: str
    model: str
    seed: int
    variant: str = ""  # a named variant of the config (ExperimentConfig.variants), or ""

    @property
    def name(self) -> str:
        return f"{self.format}-{self.model}" + (f"+{self.variant}" if self.variant else "")

    def folder(self, out: Path) -> Path:
        return seed_folder(Path(out) / self.name, self.seed)


def cells(cfg: ExperimentConfig, shard: tuple[int, int] = (0, 1)) -> list[Cell]:
    """All cells in a fixed order (format, model, seed), then each variant's; a shard takes
    every n-th from i. A variant runs only within the run's own formats, models and seeds:
    `models=` (or `seeds=`) on the command line narrows the variants too, so a run of other
    models never touches a variant cell (it would inherit that run's overrides)."""
    everything = [Cell(f, m, s) for f in cfg.formats for m in cfg.models for s in cfg.seeds]
    for name in cfg.variants:
        v = cfg.variant(name)
        everything += [Cell(f, m, s, name) for f in v.formats if f in cfg.formats
                       for m in v.models if m in cfg.models
                       for s in v.seeds if s in cfg.seeds]
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: expected 0 <= i < n")
    return everything[i::n]


@dataclass(frozen=True)
class Identity:
    """Everything that changes what a cell computes."""

    training: dict  # ExperimentConfig.training_config()
    data_fingerprint: str
    model_signature: str
    # other forms of the same architecture's signature (computed by an older fer-keras):
    # a cell that recorded one of them computed the same; not part of the identity itself
    equivalent_signatures: tuple[str, ...] = ()

    def _recorded_fields(self) -> dict:
        return {"training": self.training, "data_fingerprint": self.data_fingerprint,
                "model_signature": self.model_signature}

    @property
    def key(self) -> str:
        return _hash(self._recorded_fields())

    @property
    def training_hash(self) -> str:  # equals ExperimentConfig.training_hash()
        return _hash(self.training)

    def to_json(self) -> dict:
        return {**self._recorded_fields(), "key": self.key}

    def differences(self, recorded: dict | None) -> list[str]:
        """What differs from an identity recorded on disk, in words (empty: the same)."""
        if not recorded:
            return ["it records no identity (written by an older version of fer-keras)"]
        out = []
        old, new = flatten(recorded.get("training", {})), flatten(self.training)
        for k in sorted(set(old) | set(new)):
            if old.get(k, "(unset)") != new.get(k, "(unset)"):
                out.append(f"{k}: {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}")
        if recorded.get("data_fingerprint") != self.data_fingerprint:
            out.append(f"data: fingerprint {str(recorded.get('data_fingerprint'))[:12]} -> "
                       f"{self.data_fingerprint[:12]}")
        if recorded.get("model_signature") not in (self.model_signature,
                                                   *self.equivalent_signatures):
            out.append(f"model architecture: signature {recorded.get('model_signature')} -> "
                       f"{self.model_signature}")
        return out


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]



def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class CellState:
    """A cell of this run as found on disk: "new", "done" (reused), "resume", "conflict", or
    "damaged" (finished, but a file fails verification: moved aside and trained again)."""

    cell: Cell
    folder: Path
    status: str
    differs: tuple[str, ...] = ()


def inspect(cell: Cell, out: Path, identity: Identity) -> CellState:
    folder = cell.folder(out)
    if not folder.exists():
        return CellState(cell, folder, "new")
    if (folder / DONE_FILE).exists() and (problems := verify(folder)):
        return CellState(cell, folder, "damaged", tuple(problems))
    done = _read_json(folder / DONE_FILE)
    if done is not None:
        differs = identity.differences(done.get("identity"))
        return CellState(cell, folder, "conflict" if differs else "done", tuple(differs))
    config = _read_json(folder / CONFIG_FILE)
    if config is None and not any(folder.iterdir()):
        return CellState(cell, folder, "new")  # an empty folder holds nothing to keep
    differs = identity.differences((config or {}).get("identity"))
    differs += switch_differences((config or {}).get("kernel_switches"))
    return CellState(cell, folder, "conflict" if differs else "resume", tuple(differs))


def switch_differences(started: dict | None) -> list[str]:
    """How this process's kernel switches differ from those an unfinished cell started under
    (config.json); none for a cell that did not record them. A resumed cell ends bit for bit as
    an uninterrupted one only under the same kernels, and its manifest records one set."""
    if started is None:
        return []
    now = kernel_switches()
    shown = lambda value: "unset" if value is None else repr(value)  # noqa: E731
    return [f"{k}: {shown(started.get(k))} when the cell started, {shown(now.get(k))} now"
            for k in sorted(set(started) | set(now)) if started.get(k) != now.get(k)]


def conflict_message(conflicts: list[CellState], out: Path) -> str:
    first = conflicts[0]
    kind = "finished" if (first.folder / DONE_FILE).exists() else "unfinished"
    more = f" (and {len(conflicts) - 1} more cell(s))" if len(conflicts) > 1 else ""
    return (f"{first.folder}: {kind} cell was computed differently "
            f"({'; '.join(first.differs)}){more}; nothing was changed. Expected the same "
            "config, data and model to reuse it (and the same kernel switches to resume it): "
            f"run with --out NEW_FOLDER to keep both, or --force to move the old cell(s) aside "
            f"to {Path(out) / SUPERSEDED} and train again")


def move_aside(state: CellState, out: Path) -> Path:
    """--force: keep the old cell under <out>/_superseded/<UTC time>/, never delete it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(out) / SUPERSEDED / stamp / state.folder.relative_to(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(state.folder), str(target))
    return target


def start_folder(state: CellState, cfg: ExperimentConfig, identity: Identity) -> bool:
    """Make a new cell's folder (config.json with its identity); True when it resumes."""
    if state.status == "resume":
        return True
    if state.status == "done":
        raise RunConflictError(f"{state.folder}: already finished with the same config, data "
                               "and model; expected an empty or unfinished cell folder")
    if state.status != "new":
        raise RunConflictError(conflict_message([state], state.folder.parents[1]))
    state.folder.mkdir(parents=True, exist_ok=True)
    write_json(state.folder / CONFIG_FILE, {
        **cfg.to_json(), "cell": dataclasses.asdict(state.cell),
        "training_hash": cfg.training_hash(), "identity": identity.to_json(),
        "kernel_switches": kernel_switches()})
    return False


def finish(folder: Path, identity: Identity, finished: str) -> None:
    """done.json, written last: the cell finished with this identity, and the SHA-256 of each
    of its files (cellfiles.verify checks them before the cell is used)."""
    write_json(folder / DONE_FILE, {"identity": identity.to_json(), "finished": finished,
                                      "training_hash": identity.training_hash,
                                      "files": file_hashes(folder)})


# ------------------------------------------------------------------------- history


def read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if None in row.values() or "" in row.values() or None in row:
                break  # a row cut short (an older run killed while Keras' CSVLogger wrote)
            rows.append({k: float(v) for k, v in row.items()})
    return rows


def rewrite_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.unlink(missing_ok=True)
        return
    write_csv(path, [{k: (int(v) if k == "epoch" else v) for k, v in row.items()}
                     for row in rows])


# ------------------------------------------------------------------------- aggregates


@contextmanager
def run_lock(out: Path):
    """One owner per run folder: an advisory lock on <out>/.lock, held while this process
    trains (its worker processes write cells under it). A second run on the same folder is
    refused at once, naming the process that holds it; the lock goes with the process, so a
    killed run leaves none behind."""
    path = Path(out) / LOCK_FILE
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise RunConflictError(f"{out}: another fer-keras run (process {holder}) is writing this "
                               "run folder; expected one run per folder: wait for it to end, or "
                               "give this one another --out") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def finished_cells(out: Path) -> list[Path]:
    """The finished cells that verify (cellfiles.verify); a damaged one is left out."""
    return sorted(p.parent for p in Path(out).glob(FINISHED_GLOB)
                  if not verify(p.parent))


def plan_entry(cell: Cell) -> dict:
    """A cell as the plan in experiment.json records it (what a report matches runs by)."""
    return {"format": cell.format, "model": cell.model, "variant": cell.variant,
            "seed": int(cell.seed)}


def merged_plan(previous: dict | None, cells_: list[Cell]) -> list[dict]:
    """The plan so far (`previous`'s) with `cells_` added, each cell once, in the order asked.
    A cell asked for and never finished stays named as not finished until a reproduction sets
    the plan anew (record_plan with `replace`)."""
    plan = list((previous or {}).get(PLAN_KEY, []))
    for entry in map(plan_entry, cells_):
        if entry not in plan:
            plan.append(entry)
    return plan


def record_plan(out: Path, cells_: list[Cell], replace: bool = False) -> None:
    """Record `cells_` as planned in `<out>/experiment.json` before any of them trains: added
    to the plan (the runner: the cells of its invocation), or, with `replace`, as the whole
    plan (`fer-keras reproduce`: the cells of all its stages, so cells asked of the folder by
    an earlier, other plan are no longer named). A folder not yet run gets a file holding
    only the plan; aggregate keeps it. The caller holds the folder's run_lock."""
    path = Path(out) / EXPERIMENT_FILE
    previous = _read_json(path) or {}
    plan = merged_plan({} if replace else previous, cells_)
    write_json(path, {**previous, PLAN_KEY: plan})


def aggregate(out: Path, cfg: ExperimentConfig) -> Path:
    """Rebuild `<out>/results.csv` and `<out>/experiment.json` from the finished cells on
    disk (and nothing else): one results row per cell and seed; the experiment's claims and
    names from `cfg`, its factors, training config(s) and data from the cells themselves;
    the plan as recorded, with every finished cell in it."""
    out = Path(out)
    rows = []
    for folder in finished_cells(out):
        config = json.loads((folder / CONFIG_FILE).read_text())
        m = json.loads((folder / METRICS_FILE).read_text())
        man = json.loads((folder / MANIFEST_FILE).read_text())
        cell = config["cell"]
        rows.append({"format": cell["format"], "model": cell["model"],
                     "variant": cell.get("variant", ""), "seed": cell["seed"],
                     "n_test": m["n"], **{k: m[k] for k in RESULT_METRICS},
                     "epochs": man["epochs"], "best_epoch": man["best_epoch"]})
    path = write_csv(out / RESULTS_FILE, rows, RESULT_COLUMNS)
    if rows:
        redescribe(out, cfg)
    else:  # none left (the last was moved aside): the plan alone, as before the first
        write_json(out / EXPERIMENT_FILE,
                   {PLAN_KEY: (_read_json(out / EXPERIMENT_FILE) or {}).get(PLAN_KEY, [])})
    return path


def redescribe(out: Path, cfg: ExperimentConfig) -> Path:
    """Rewrite `<out>/experiment.json` from `cfg` (names, claims, notes) and the finished cells
    on disk, training nothing: what `fer-keras describe` does after a config's claims were
    corrected (the report reads the claims from the run folder alone)."""
    out = Path(out)
    described = [(json.loads((f / CONFIG_FILE).read_text()),
                  json.loads((f / MANIFEST_FILE).read_text())) for f in finished_cells(out)]
    if not described:
        raise RunConflictError(f"{out}: no finished cells to describe; expected "
                               "<format>-<model>/seed-<n>/done.json below it")
    write_json(out / EXPERIMENT_FILE,
               describe(cfg, described, _read_json(out / EXPERIMENT_FILE)))
    return out / EXPERIMENT_FILE


def _ordered(values, preferred) -> list:
    seen = list(dict.fromkeys(values))
    preferred = list(dict.fromkeys(preferred))
    return [v for v in preferred if v in seen] + [v for v in seen if v not in preferred]


def model_costs(models: list[tuple[str, str]], previous: dict) -> dict:
    """{model: {params, forward_flops, signature}} of the finished cells' models (name and
    architecture signature), each built once; an entry of `previous` with the same signature
    is kept as it is (the costs depend on the architecture alone)."""
    out = {}
    for name, signature in dict.fromkeys(models):
        known = previous.get(name)
        if known and known.get("signature") == signature:
            out[name] = known
            continue
        from ..models import create_model
        from ..models.summary import count_params, model_flops

        model = create_model(name)
        out[name] = {"params": count_params(model), "forward_flops": model_flops(model),
                     "signature": signature}
    return dict(sorted(out.items()))


def describe(cfg: ExperimentConfig, described: list[tuple[dict, dict]],
             previous: dict | None = None) -> dict:
    """experiment.json: the current config's names and claims; factors, training config and
    data as the finished cells record them (a mix of configs is listed, never hidden).
    Factor levels keep the order in which they first appeared (`previous`), then the
    config's, so a run made in several invocations reads in the order it was made."""
    cells_ = [c["cell"] for c, _ in described]
    trainings = {c["training_hash"]: c["identity"]["training"] for c, _ in described}
    per_variant: dict[str, set] = {}
    for c, _ in described:
        per_variant.setdefault(c["cell"].get("variant", ""), set()).add(c["training_hash"])
    base = cfg.to_json()
    if len(per_variant.get("", ())) == 1:  # the main cells' config, as they ran
        base.update(trainings[next(iter(per_variant[""]))])
    data: dict[str, list] = {}
    for _, man in described:
        d = man["data"]
        entry = {"path": d["csv"] if d["format"] == "csv" and d.get("csv") else d["path"],
                 "fingerprint": d["fingerprint"], "n": d["n"]}
        same = next((e for e in data.setdefault(d["format"], [])
                     if {k: e[k] for k in entry} == entry), None)
        if same is None:
            data[d["format"]].append(same := entry)
        # a preprocessing stage made `fingerprint` from this (a cell finished before manifests
        # recorded it lacks it: the same output data tells the same source)
        if d.get("source_fingerprint"):
            same.setdefault("source_fingerprint", d["source_fingerprint"])
    costs = model_costs([(c["cell"]["model"], c["identity"]["model_signature"])
                         for c, _ in described], (previous or {}).get("model_costs", {})) \
        if cfg.model_costs else {}
    return {
        **base,
        **({"model_costs": costs} if costs else {}),
        "formats": _ordered([c["format"] for c in cells_],
                            [*(previous or {}).get("formats", []), *cfg.formats]),
        "models": _ordered([c["model"] for c in cells_],
                           [*(previous or {}).get("models", []), *cfg.models]),
        "seeds": sorted({int(c["seed"]) for c in cells_}),
        "training_configs": trainings,
        # cells of one arm (the main config or one variant) trained with different configs
        "mixed_training_configs": any(len(h) > 1 for h in per_variant.values()),
        "data": data,
        "cells": [{**c["cell"], "identity": c["identity"]["key"]} for c, _ in described],
        # every cell asked of this folder, finished or not (record_plan); a folder run before
        # the plan was recorded (2026-12-02) plans its finished cells
        PLAN_KEY: merged_plan(previous, [Cell(c["format"], c["model"], c["seed"],
                                              c.get("variant", "")) for c in cells_]),
    }
