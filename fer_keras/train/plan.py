"""The plan of a run, computed before its first epoch, once: the options of a run
(`RunOptions`), each data source resolved, each cell's split, identity and state on disk
(`CellPlan`), the data-shift check. Nothing here trains; `fer-keras run --dry-run` stops here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..core.tfprocess import pin_threads
from ..data import FerData, sources
from ..data.audit import data_shift, source_shifts
from ..data.errors import DataError
from ..data.preprocess import LandmarkEyes
from ..data.splits import (
    FOLDERS,
    OFFICIAL,
    OFFICIAL_COUNTS,
    Split,
    split_indices,
    subsample,
    with_validation,
)
from ..models import create_model
from ..models.summary import signatures
from .config import ExperimentConfig
from .runfolder import (
    Cell,
    CellState,
    Identity,
    cells,
    inspect,
)

FULL_FER2013 = 35_887


@dataclass(frozen=True)
class RunOptions:
    data: Path  # a directory export (root with train/ and test/, or one split) or a CSV
    out: Path  # the experiment's run folder, e.g. runs/<paper>
    csv: Path | None = None  # the CSV format; built from `data` by the converter when absent
    strategy: str = "default"  # "default", "mirrored" (several GPUs), "multiworker"
    mixed_precision: bool = False
    shard: tuple[int, int] = (0, 1)  # (i, n): run every n-th cell starting at i
    tensorboard: bool = False
    force: bool = False  # move conflicting cells aside (never delete) and train them again
    dry_run: bool = False  # check and print the plan; train nothing
    # where converted and preprocessed data go (default: <out>/_data); a dry run that has no
    # such folder yet uses a temporary one, so it writes nothing
    derived: Path | None = None
    jobs: int = 1  # cells trained at once, each in a worker process (1: in this process
    # when its TensorFlow threads are those the cells ask for, else in one worker)
    # Train although the training images differ from the test images in sharpness
    # (check_data_shift); every cell's manifest then records the difference.
    allow_data_shift: bool = False
    # More callbacks for every cell, each made fresh per cell by a call without arguments
    # (e.g. a search's pruning report); they come last, after the backup is written.
    callbacks: tuple = ()


def derived_root(opts: RunOptions) -> Path:
    """The run folder's cache of converted and preprocessed data (data.sources)."""
    return Path(opts.derived) if opts.derived is not None else Path(opts.out) / "_data"


def csv_source(opts: RunOptions) -> Path:
    return sources.csv_source(opts.data, opts.csv, derived_root(opts))


def resolve_format(cfg: ExperimentConfig, opts: RunOptions, fmt: str) -> FerData:
    """Load the data of one format, converting from the other format where needed; a split
    by the challenge's own parts (official, folders) needs every part."""
    return sources.load_format(fmt, opts.data, opts.csv, derived_root(opts),
                               whole=cfg.split in (OFFICIAL, FOLDERS),
                               directory_subset=cfg.directory_subset, csv_subset=cfg.csv_subset)


def split_of(cfg: ExperimentConfig, data: FerData, seed: int, where: str = "") -> Split:
    """The split of one cell; a split that cannot serve the runner is refused, naming the data."""
    try:
        split = with_validation(split_indices(data.labels, cfg.split, seed, data.usage),
                                data.labels, cfg.validation, cfg.validation_fraction,
                                data.sources)
    except DataError as e:
        raise DataError(f"{where}: {e}" if where else str(e)) from None
    if cfg.split == OFFICIAL and len(data) == FULL_FER2013 and split.sizes() != OFFICIAL_COUNTS:
        raise DataError(f"{where}: official split sizes {split.sizes()} differ from FER-2013's "
                        f"{OFFICIAL_COUNTS}")
    if split.val.size == 0:
        raise DataError(f"split {cfg.split!r} has no validation part; the runner needs one for "
                        "early stopping and checkpoint selection: expected validation=carve "
                        "(a part of the training images) or a split with one")
    return split


def check_data_shift(planned: list[CellPlan], source: Path) -> None:
    """Refuse, before the first epoch, to train any cell on data whose parts differ (one line
    naming both figures and the way forward)."""
    for cp in planned:
        if cp.shifts:
            raise DataError(
                f"{source}: {cp.cell.format} data, seed {cp.cell.seed}: {cp.shifts[0]}. Expected "
                "training and test images of one kind (a damaged or differently processed "
                f"copy? `fer-keras data audit {source}` measures every part); to train anyway, "
                "run with --allow-data-shift (every cell's manifest and the report then say so)")


@dataclass(frozen=True)
class CellPlan:
    """One cell as `plan` found it, everything its stages need and nothing computed twice:
    its config (the experiment's, with the cell's variant), its data as loaded (before
    preprocessing), its split, its identity, its state on disk, and the data-shift guard's
    findings (None for a finished cell: it trains no more)."""

    cell: Cell
    cfg: ExperimentConfig
    data: FerData
    split: Split
    identity: Identity
    state: CellState
    shifts: tuple[str, ...] | None
    label: str

    @property
    def folder(self) -> Path:
        return self.state.folder


def plan_cell(cfg: ExperimentConfig, cell: Cell, data: FerData, opts: RunOptions,
              model_signatures: tuple | None = None, label: str = "") -> CellPlan:
    """One cell's plan from the experiment's config and the cell's data as loaded (raises,
    naming the data, when its split cannot serve the runner)."""
    k = cfg.variant(cell.variant)
    pin_threads(k.threads)  # planned on its own: before the model below starts TensorFlow
    split = split_of(k, data, cell.seed,
                     where=f"{cell.format} data ({len(data)} images), seed {cell.seed}")
    identity = identity_of(k, data, model_signatures or signatures(create_model(cell.model)))
    state = inspect(cell, opts.out, identity)
    return CellPlan(cell, k, data, split, identity, state,
                    None if state.status == "done" else tuple(data_shift(data, split)),
                    label or f"[{cell.name} seed {cell.seed}]")


def identity_of(cfg: ExperimentConfig, data: FerData, model_signatures: tuple) -> Identity:
    """`model_signatures`: `models.summary.signatures` (the current form first)."""
    return Identity(cfg.training_config(), data.fingerprint, model_signatures[0],
                    tuple(model_signatures[1:]))


@dataclass(frozen=True)
class Plan:
    """What a run will do, checked before anything is trained."""

    cells: list[CellPlan]

    def render(self) -> str:
        lines = [f"{'cell':<44} {'seed':>4}  {'status':<9} {'images':>7}  "
                 "train/val/test (validation)"]
        for cp in self.cells:
            s, split = cp.state, cp.split
            sizes = split.sizes()
            lines.append(f"{s.cell.name:<44} {s.cell.seed:>4}  {s.status:<9} "
                         f"{len(cp.data):>7}  {sizes['train']}/{sizes['val']}/"
                         f"{sizes['test']} ({split.scheme}, {split.validation})"
                         + (f"  ({'; '.join(s.differs)})" if s.differs else ""))
        return "\n".join(lines)


def plan(cfg: ExperimentConfig, opts: RunOptions) -> Plan:
    """Check everything every cell of this shard needs, load every data source once, and
    find each cell's state on disk; raises before any training."""
    todo = cells(cfg.validate(), opts.shard)
    configs = {c: cfg.variant(c.variant) for c in todo}
    loaded: dict[tuple, FerData] = {}
    data = {}
    for c in todo:  # each data source once: what loading depends on is the key
        k = configs[c]
        key = (c.format, k.directory_subset, k.csv_subset, k.split in (OFFICIAL, FOLDERS),
               k.limit)
        if key not in loaded:
            loaded[key] = resolve_format(k, opts, c.format)
            if k.limit:  # quick checks: the same stratified subsample for every cell
                full = loaded[key]
                part = full.subset(subsample(full.labels, k.limit))
                loaded[key] = dataclasses.replace(part, notes=(
                    *part.notes, f"limit: a stratified {len(part)} of {len(full)} images"))
        data[c] = loaded[key]
    sigs = {m: signatures(create_model(m)) for m in dict.fromkeys(c.model for c in todo)}
    sizes = {k.preprocess.landmark_size for k in configs.values() if k.preprocess.align}
    for size in sizes:  # the landmark model loads (dlib installed, model file present)
        try:
            LandmarkEyes(size)
        except RuntimeError as e:
            raise DataError(f"preprocess.align: {e}") from None
    # every split, identity and state before the first epoch
    planned = [plan_cell(cfg, c, data[c], opts, sigs[c.model],
                         f"[cell {i}/{len(todo)} {c.name} seed {c.seed}]")
               for i, c in enumerate(todo, 1)]
    # the data source itself too, whatever a protocol draws its parts from: a blurred train/
    # beside a sharp test/ is found even where the cells never load test/
    if any(cp.shifts is not None for cp in planned):
        found = tuple(source_shifts(Path(opts.data)))
        planned = [dataclasses.replace(cp, shifts=tuple(dict.fromkeys((*cp.shifts, *found))))
                   if found and cp.shifts is not None else cp for cp in planned]
    if not opts.allow_data_shift:
        check_data_shift(planned, Path(opts.data))
    return Plan(planned)
