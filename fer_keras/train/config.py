"""Experiment configs: frozen dataclasses, loaded from `experiments/<paper>.py`, overridable
from the command line as `key=value` (nested: `augment.rotation_deg=15`).

Unknown keys and values of the wrong type are rejected with a message naming the key, the
value and the expected type. The resolved config is saved as JSON with every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import runpy
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..claims.ledger import ClaimError, validate_claims
from ..claims.ledger import from_json as claims_from_json
from ..core.errors import FerKerasError
from ..core.protocol import NOT_TRAINING, flatten  # noqa: F401  (read here, kept importable)
from ..data.augment import AugmentConfig
from ..data.preprocess import PreprocessConfig

FORMATS = ("directory", "csv")  # the two FER-2013 layouts (Özer §2.2 compares them)
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")  # Keras optimizers by name, Keras defaults
OFFICIAL_SPLIT = "official"
FOLDERS_SPLIT = "folders"  # the export's train/ and test/ folders
SPLITS = ("80/10/10", "80/20", "70/15/15", OFFICIAL_SPLIT, FOLDERS_SPLIT)  # = data.splits'
# schemes
DIRECTORY_SUBSETS = ("train", "test", "all")
CSV_SUBSETS = ("all", "Training", "PublicTest", "PrivateTest")
# Where early stopping and checkpoint selection look: the split's own validation part;
# a stratified part carved out of the training part (papers that name no validation set);
# Keras' `validation_split` rule (per class the first files in name order: a notebook's
# protocol); or the held-out test part itself (the literal reading of such papers: test-set
# leakage, offered only so a report can show what the leak is worth).
VALIDATION_POLICIES = ("split", "carve", "keras", "test")
# Which weights score the test split: the epoch with the lowest validation loss, or the last.
SELECTIONS = ("best", "last")

# A field added after cells were computed, whose default is exactly the behaviour before it
# existed, carries this metadata: at its default it is left out of a cell's identity, so
# finished cells stay reusable. NEVER change the default of such a field.
ADDED = {"omit_at_default": True}


class ConfigError(FerKerasError, ValueError):
    pass


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    paper: str
    # factors of the factorial design
    formats: tuple[str, ...] = ("directory", "csv")
    models: tuple[str, ...] = ("ozer_cnn",)
    seeds: tuple[int, ...] = (0,)
    # data
    directory_subset: str = "train"  # which part of a train/+test/ export the directory cells use
    csv_subset: str = "all"  # "all", or a challenge split name, for the CSV cells
    split: str = "80/10/10"
    # Quick checks: a stratified subsample of this many images of each data source (the same
    # images for every cell and seed), before splitting; 0 = all.
    limit: int = field(default=0, metadata=ADDED)
    validation: str = field(default="split", metadata=ADDED)  # one of VALIDATION_POLICIES
    validation_fraction: float = field(default=0.1, metadata=ADDED)  # of the training part,
    # for validation="carve"
    # training
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 50
    early_stopping: bool = field(default=True, metadata=ADDED)
    early_stopping_patience: int = 5
    min_epochs: int = field(default=0, metadata=ADDED)  # no early stop before this epoch
    restore_best_weights: bool = True
    select: str = field(default="best", metadata=ADDED)  # one of SELECTIONS
    reduce_lr: bool = field(default=True, metadata=ADDED)  # ReduceLROnPlateau on val_loss
    reduce_lr_patience: int = 3
    reduce_lr_factor: float = 0.1
    min_lr: float = 0.0
    class_weights: bool = False
    # "Class-wise augmentation": every class's training images repeated (each repeat drawn
    # afresh by the augmentation) up to the largest class's count, once per run and seed.
    oversample: bool = field(default=False, metadata=ADDED)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Applied to every image of the data set once (training, validation and test alike),
    # before splitting; cached in the run folder (fer_keras.data.preprocess).
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig, metadata=ADDED)
    # Robustness: after training, the best checkpoint also scores the test split with Gaussian
    # noise of these standard deviations (grey levels, 0-255) added to the raw images, before
    # any preprocessing (robustness.json). Never used for any choice.
    noise_eval: tuple[float, ...] = field(default=(), metadata=ADDED)
    deterministic: bool = True
    # TensorFlow's intra-op and inter-op threads in the process that trains a cell. The thread
    # count changes the order of floating-point sums, hence the weights (one epoch of ozer_cnn
    # ends with other weights on 1 thread than on 2): fixed here, part of every cell's identity,
    # so a cell computes the same on a 2-core laptop and a 64-core server, whatever --jobs is.
    # More cells side by side (--jobs) is the way to use more cores.
    threads: int = 1
    # After every epoch, also the test accuracy to test_curve.csv: an oracle for a study's
    # ceiling (the best any epoch-selection rule could do), read by nothing during training
    # and never used for any choice.
    test_curve: bool = field(default=False, metadata=ADDED)
    # Named variants run beside the main cells: {name: ("key=value", ...)}, overrides of this
    # config (factors included, e.g. "models=..." to run a variant for some models only; a
    # variant's cells stay within the run's formats, models and seeds, runfolder.cells).
    # Used where a paper allows several readings; each variant cell is its own cell.
    variants: dict = field(default_factory=dict)
    # What the paper claims (fer_keras.claims.ledger: Value, Order, Best, Effect, Extremes, Bound,
    # Consistent, Robust), each with the paper's words and their place: every number it
    # prints about its results and every finding of its abstract and conclusion. The report
    # judges each, two-sided (docs/claims.md). Cells are "format/model[+variant]".
    claims: tuple = ()
    claimed_class_weights: dict = field(default_factory=dict)  # {class name: weight}
    proposed_model: str = ""  # the paper's own model, compared with every other one
    claimed_notes: str = ""
    # other works' results the paper quotes, {label: accuracy %}, and a band it compares
    # against, {"label": ..., "low": %, "high": %}: drawn beside the measured cells.
    literature: dict = field(default_factory=dict)
    literature_band: dict = field(default_factory=dict)
    # A leaderboard (one protocol for many models): experiment.json also records each model's
    # parameters and forward FLOPs (models.summary), and the report sets accuracy against
    # cost. Changes nothing a cell computes.
    model_costs: bool = False
    # A search over what the paper leaves open (`fer-keras study`, fer_keras.train.search): {config
    # key: {"choices": (...)} or {"low": x, "high": y, "log": bool}, optional "if": a boolean
    # key of the space that must be True, "for": (models...) the key applies to}; the key
    # "model" swaps the studied model for another reading of it (e.g. its input layer).
    search_space: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def cell_names(self) -> set[str]:
        """Every "format/arm" cell of the config, its variants' included (as runfolder.cells
        lays them out): what a claim may name."""
        out = {f"{f}/{m}" for f in self.formats for m in self.models}
        for name in self.variants:
            v = self.variant(name)
            out |= {f"{f}/{m}+{name}" for f in v.formats if f in self.formats
                    for m in v.models if m in self.models}
        return out

    def training_config(self) -> dict:
        """Everything that changes what a cell computes: not the claims, names or factors,
        nor fields ADDED later while they hold their default (see ADDED)."""
        d = identity_json(self)
        for k in NOT_TRAINING:
            d.pop(k)
        return d

    def training_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.training_config(), sort_keys=True).encode()
                              ).hexdigest()[:16]

    def validate(self) -> ExperimentConfig:
        """Refuse values no run can use, before anything is loaded or trained (one message
        naming the key, the value and what is expected). Model names are checked by the
        runner against the registry."""
        for key in ("formats", "models", "seeds"):
            values = getattr(self, key)
            if not values:
                raise ConfigError(f"{key}=(empty): expected at least one value")
            if len(set(values)) != len(values):
                raise ConfigError(f"{key}={','.join(map(str, values))}: a value is repeated")
        _one_of("formats", self.formats, FORMATS)
        _one_of("split", (self.split,), SPLITS)
        _one_of("optimizer", (self.optimizer,), OPTIMIZERS)
        _one_of("directory_subset", (self.directory_subset,), DIRECTORY_SUBSETS)
        _one_of("csv_subset", (self.csv_subset,), CSV_SUBSETS)
        _one_of("validation", (self.validation,), VALIDATION_POLICIES)
        _one_of("select", (self.select,), SELECTIONS)
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction={self.validation_fraction}: expected "
                              "0 < fraction < 1")
        if self.validation in ("carve", "keras") and self.split == OFFICIAL_SPLIT:
            raise ConfigError(f"validation={self.validation} with split=official: the official "
                              "split has its own validation part (PublicTest); expected "
                              "validation=split")
        if self.validation == "split" and self.split in ("80/20", FOLDERS_SPLIT):
            raise ConfigError(f"split={self.split} has no validation part: expected validation="
                              "carve, keras or test")
        if any(s < 0 for s in self.seeds):
            raise ConfigError(f"seeds={','.join(map(str, self.seeds))}: expected integers >= 0")
        _at_least("max_epochs", self.max_epochs, 1)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("threads", self.threads, 1)
        _at_least("early_stopping_patience", self.early_stopping_patience, 1)
        _at_least("min_epochs", self.min_epochs, 0)
        if self.limit and self.limit < 70:
            raise ConfigError(f"limit={self.limit}: expected 0 (all images) or at least 70 "
                              "(10 per class)")
        _at_least("reduce_lr_patience", self.reduce_lr_patience, 1)
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate={self.learning_rate}: expected a number > 0")
        try:
            validate_claims(self.claims)  # their cells: load_config
        except ClaimError as e:
            raise ConfigError(str(e)) from None
        if not 0 < self.reduce_lr_factor < 1:
            raise ConfigError(f"reduce_lr_factor={self.reduce_lr_factor}: expected 0 < f < 1")
        if not 0 <= self.min_lr < self.learning_rate:
            raise ConfigError(f"min_lr={self.min_lr}: expected 0 <= min_lr < learning_rate "
                              f"({self.learning_rate})")
        try:
            self.augment.validate()
            self.preprocess.validate()
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if any(not 0 <= s <= 255 for s in self.noise_eval):
            raise ConfigError(f"noise_eval={','.join(map(str, self.noise_eval))}: expected "
                              "standard deviations 0 <= s <= 255 (grey levels)")
        if self.search_space:
            check_space(self)
        for name in self.variants:
            if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
                raise ConfigError(f"variants: name {name!r}: expected lower-case letters, "
                                  "digits and '-'")
            try:
                self.variant(name).validate()
            except ConfigError as e:
                raise ConfigError(f"variants[{name!r}]: {e}") from None
        return self

    def variant(self, name: str) -> ExperimentConfig:
        """The config of a named variant ("" is the main config itself)."""
        if not name:
            return self
        if name not in self.variants:
            raise ConfigError(f"unknown variant {name!r}; known: {', '.join(self.variants)}")
        overrides = self.variants[name]
        if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
            raise ConfigError(f"variants[{name!r}]: expected a tuple of 'key=value' strings")
        return apply_overrides(dataclasses.replace(self, variants={}), list(overrides))


def identity_json(obj) -> dict:
    """A config dataclass as JSON, less ADDED fields at their default (recursively)."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("omit_at_default") and value == _default(f):
            continue
        if dataclasses.is_dataclass(value):
            value = identity_json(value)
        elif isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value):
            value = [dataclasses.asdict(v) for v in value]  # claims (fer_keras.claims.ledger)
        out[f.name] = value
    return json.loads(json.dumps(out))




def _default(f: dataclasses.Field):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


# Claim keys of configs before the claims ledger (2026-12-07): read from an older
# experiment.json or config.json, and dropped (the claims now live in `claims`).
LEGACY_CLAIM_KEYS = ("claimed_metrics", "claimed_auc", "claimed_significance", "claimed_drops",
                     "claimed_more_robust_than", "claimed_better_classes", "claimed_above",
                     "claimed_recall_extremes")
VARIANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def _one_of(key: str, values, known: tuple) -> None:
    for v in values:
        if v not in known:
            raise ConfigError(f"{key}={v!r}: expected one of {', '.join(known)}")


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{key}={value}: expected an integer >= {low}")


def _coerce(key: str, text: str, typ):
    origin = typing.get_origin(typ)
    try:
        if typ is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            return int(text)
        if typ is float:
            return float(text)
        if typ is str:
            return text
        if origin is tuple:
            inner = typing.get_args(typ)[0]
            parts = [part.strip() for part in text.split(",") if part.strip()]
            return tuple(_coerce(key, part, inner) for part in parts)
    except ValueError:
        pass
    name = getattr(typ, "__name__", str(typ))
    if origin is tuple:
        inner = typing.get_args(typ)[0]
        example = {int: "0,1,2", float: "0.5,1"}.get(inner, "a,b")
        name = f"comma-separated {getattr(inner, '__name__', str(inner))} values, e.g. " \
               f"{key}={example}"
    raise ConfigError(f"{key}={text!r}: expected {name}")


def apply_overrides(cfg, overrides: list[str], prefix: str = ""):
    """Return a copy of cfg with `key=value` overrides applied (dataclasses stay frozen)."""
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    changes: dict = {}
    nested: dict[str, list[str]] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{item!r}: overrides are written key=value (e.g. seeds=0,1)")
        key, value = item.split("=", 1)
        head, _, rest = key.partition(".")
        if head not in names:
            raise ConfigError(f"unknown config key {prefix + head!r}; known: {', '.join(names)}")
        if rest:
            if not dataclasses.is_dataclass(getattr(cfg, head)):
                raise ConfigError(f"{prefix + head!r} has no sub-keys")
            nested.setdefault(head, []).append(f"{rest}={value}")
        elif head == "variants" and not prefix:
            changes[head] = _chosen_variants(cfg.variants, value)
        elif dataclasses.is_dataclass(getattr(cfg, head)) or hints[head] is dict:
            raise ConfigError(f"{prefix + head!r} cannot be set from the command line as a whole")
        else:
            changes[head] = _coerce(prefix + key, value, hints[head])
    for head, items in nested.items():
        changes[head] = apply_overrides(getattr(cfg, head), items, prefix=f"{head}.")
    return dataclasses.replace(cfg, **changes)


def _chosen_variants(variants: dict, value: str) -> dict:
    """`variants=a,b` keeps only the config's named variants a and b; `variants=none` keeps
    none (e.g. to train one main cell again: variants otherwise follow `models=`). A variant's
    overrides are the config's own: the command line chooses among them, never edits them."""
    if value == "none":
        return {}
    names = [n.strip() for n in value.split(",")]
    unknown = [n for n in names if n not in variants]
    if unknown:  # an empty value is the unknown name ''
        raise ConfigError(f"variants={value}: unknown variant {unknown[0]!r}; "
                          f"expected names among {', '.join(variants) or '(none defined)'} "
                          "separated by commas, or none")
    return {n: variants[n] for n in variants if n in names}


def _line_in(path: Path, tb) -> int | None:
    """The last line of `path` a traceback passed through (where the config went wrong)."""
    line, target = None, os.path.realpath(path)
    while tb is not None:
        if os.path.realpath(tb.tb_frame.f_code.co_filename) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def run_config_file(path: str | Path) -> dict:
    """The names a config file defines, run as Python. Any mistake inside it (not valid
    Python, a wrong keyword or value, an undefined name, a failed import, any exception) is
    one ConfigError: `CONFIG:LINE: what went wrong`."""
    path = Path(path)
    try:
        return runpy.run_path(str(path))
    except SyntaxError as e:
        raise ConfigError(f"{path}:{e.lineno}: not valid Python ({e.msg}); expected "
                          "CONFIG = ExperimentConfig(...)") from None
    except FerKerasError as e:  # e.g. a claim or a stage refused as it was made
        line = _line_in(path, e.__traceback__)
        raise ConfigError(f"{path}{f':{line}' if line else ''}: {e}") from None
    except Exception as e:  # noqa: BLE001 - whatever the file's Python raised, in one line
        line = _line_in(path, e.__traceback__)
        what = str(e).splitlines()[0] if str(e) else ""
        hint = ("; expected CONFIG = ExperimentConfig(...) with the keys of "
                "fer_keras.train.config.ExperimentConfig" if isinstance(e, TypeError) else "")
        raise ConfigError(f"{path}{f':{line}' if line else ''}: {type(e).__name__}"
                          f"{f': {what}' if what else ''}{hint}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment config"
                          + (" (it is a folder)" if path.is_dir() else ""))
    cfg = run_config_file(path).get("CONFIG")
    if not isinstance(cfg, ExperimentConfig):
        raise ConfigError(f"{path}: defines no CONFIG = ExperimentConfig(...)")
    try:  # the cells a claim names: those of the config as written (before `models=`...)
        validate_claims(cfg.claims, cfg.cell_names())
    except ClaimError as e:
        raise ConfigError(f"{path}: {e}") from None
    return apply_overrides(cfg, overrides or []).validate()


def config_from_json(d: dict) -> ExperimentConfig:
    d = dict(d)
    d["augment"] = AugmentConfig(**d.get("augment", {}))
    d["preprocess"] = PreprocessConfig(**d.get("preprocess", {}))
    d["noise_eval"] = tuple(d.get("noise_eval", ()))
    d["variants"] = {k: tuple(v) for k, v in d.get("variants", {}).items()}
    for k in LEGACY_CLAIM_KEYS:
        d.pop(k, None)
    d["claims"] = claims_from_json(d.get("claims", ()))
    for k in ("formats", "models", "seeds"):
        d[k] = tuple(d[k])
    return ExperimentConfig(**d)


# ------------------------------------------------------------------------ search space
# What `fer-keras study` may draw (fer_keras.train.search draws it), checked when the config loads.

SPACE_MODEL = "model"  # the one key that is not a config key: the studied model's reading
SPEC_KEYS = {"choices", "low", "high", "log", "if", "for"}


def _spec_error(key: str, why: str) -> ConfigError:
    return ConfigError(f"search_space[{key!r}]: {why}")


def check_space(cfg: ExperimentConfig) -> None:
    """Refuse a space no study can draw from, naming the key; every choice (and both ends of
    every range) must give a config that validates."""
    from ..models import list_models  # the registry, for "model" choices

    hints = typing.get_type_hints(ExperimentConfig)
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    space = cfg.search_space
    base = dataclasses.replace(cfg, search_space={}, variants={})
    for key, spec in space.items():
        if not isinstance(spec, dict) or set(spec) - SPEC_KEYS:
            raise _spec_error(key, f"expected a dict with keys among {sorted(SPEC_KEYS)}")
        if key != SPACE_MODEL and (key not in fields or key in NOT_TRAINING
                                   or dataclasses.is_dataclass(getattr(cfg, key))):
            raise _spec_error(key, "expected a config key that changes training (or 'model')")
        if ("choices" in spec) == ("low" in spec or "high" in spec):
            raise _spec_error(key, "expected either 'choices' or 'low' and 'high'")
        if "choices" in spec:
            values = tuple(spec["choices"])
            if not values:
                raise _spec_error(key, "'choices' is empty")
        else:
            low, high = spec.get("low"), spec.get("high")
            if key == SPACE_MODEL or hints[key] is not float or not (
                    isinstance(low, (int, float)) and isinstance(high, (int, float))
                    and low < high and (low > 0 or not spec.get("log"))):
                raise _spec_error(key, "a range needs a float key and numbers low < high "
                                  "(low > 0 with log)")
            values = (float(low), float(high))
        cond = spec.get("if")
        if cond is not None and (cond not in space or cond == key
                                 or set(space[cond].get("choices", ())) - {True, False}):
            raise _spec_error(key, f"'if': {cond!r} is not a boolean key of the space")
        for_models = tuple(spec.get("for", cfg.models))
        if set(for_models) - set(cfg.models):
            raise _spec_error(key, "'for': expected models of the config "
                              f"({', '.join(cfg.models)})")
        for v in values:
            if key == SPACE_MODEL:
                if v not in list_models():
                    raise _spec_error(key, f"choice {v!r} is not a registered model")
                continue
            if not isinstance(v, hints[key]) or (hints[key] is int and isinstance(v, bool)):
                raise _spec_error(key, f"choice {v!r}: expected {hints[key].__name__}")
            try:
                dataclasses.replace(base, **{key: v}).validate()
            except ConfigError as e:
                raise _spec_error(key, f"choice {v!r}: {e}") from None
