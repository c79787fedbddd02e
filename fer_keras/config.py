"""Experiment configs: frozen dataclasses, loaded from `experiments/<paper>.py`, overridable
from the command line as `key=value` (nested: `augment.rotation_deg=15`).

Unknown keys and values of the wrong type are rejected with a message naming the key, the
value and the expected type. The resolved config is saved as JSON with every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import runpy
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .data.augment import AugmentConfig


class ConfigError(ValueError):
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
    # training
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 50
    early_stopping_patience: int = 5
    restore_best_weights: bool = True
    reduce_lr_patience: int = 3
    reduce_lr_factor: float = 0.1
    min_lr: float = 0.0
    class_weights: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    deterministic: bool = True
    # what the paper claims, for the report (percent, as printed); keys "format/model"
    claimed_metrics: dict = field(default_factory=dict)
    claimed_auc: dict = field(default_factory=dict)  # {"format/model": {class name: AUC}}
    claimed_notes: str = ""

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def training_hash(self) -> str:
        """Hash of everything that changes what a cell computes (not the claims or factors)."""
        d = self.to_json()
        for k in ("name", "paper", "formats", "models", "seeds", "claimed_metrics",
                  "claimed_auc", "claimed_notes"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


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
    raise ConfigError(f"{key}={text!r}: expected {name}"
                      + (" (comma-separated)" if origin is tuple else ""))


def apply_overrides(cfg, overrides: list[str], prefix: str = ""):
    """Return a copy of cfg with `key=value` overrides applied (dataclasses stay frozen)."""
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    changes: dict = {}
    nested: dict[str, list[str]] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{item!r}: overrides are written key=value")
        key, value = item.split("=", 1)
        head, _, rest = key.partition(".")
        if head not in names:
            raise ConfigError(f"unknown config key {prefix + head!r}; known: {', '.join(names)}")
        if rest:
            if not dataclasses.is_dataclass(getattr(cfg, head)):
                raise ConfigError(f"{prefix + head!r} has no sub-keys")
            nested.setdefault(head, []).append(f"{rest}={value}")
        elif dataclasses.is_dataclass(getattr(cfg, head)) or hints[head] is dict:
            raise ConfigError(f"{prefix + head!r} cannot be set from the command line as a whole")
        else:
            changes[head] = _coerce(prefix + key, value, hints[head])
    for head, items in nested.items():
        changes[head] = apply_overrides(getattr(cfg, head), items, prefix=f"{head}.")
    return dataclasses.replace(cfg, **changes)


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such experiment config")
    namespace = runpy.run_path(str(path))
    cfg = namespace.get("CONFIG")
    if not isinstance(cfg, ExperimentConfig):
        raise ConfigError(f"{path}: defines no CONFIG = ExperimentConfig(...)")
    return apply_overrides(cfg, overrides or [])


def config_from_json(d: dict) -> ExperimentConfig:
    d = dict(d)
    d["augment"] = AugmentConfig(**d.get("augment", {}))
    for k in ("formats", "models", "seeds"):
        d[k] = tuple(d[k])
    return ExperimentConfig(**d)
