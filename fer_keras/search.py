"""A search space over what a paper leaves open, declared in its experiment config
(`ExperimentConfig.search_space`), and how one point of it becomes a config.

    search_space={
        "learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
        "batch_size": {"choices": (16, 32, 64, 128)},
        "reduce_lr": {"choices": (True, False)},
        "reduce_lr_factor": {"choices": (0.1, 0.2, 0.5), "if": "reduce_lr"},
        "model": {"choices": ("ozer_cnn", "ozer_cnn_grey"), "for": ("ozer_cnn",)},
    }

Keys are config keys that change training (not names, factors or claims), or "model": another
registered reading of the studied model. "if" names a boolean key of the space: the key is
drawn only when that one came out True. "for" limits a key to the studies of some models.

Plain Python, no Optuna: `suggest` takes any object with Optuna's `suggest_categorical` and
`suggest_float` (an `optuna.Trial`), so the space is checked without the library.
"""

from __future__ import annotations

import dataclasses
import math
import typing

from .config import NOT_TRAINING, ConfigError, ExperimentConfig

MODEL = "model"  # the one key that is not a config key: the studied model's reading
SPEC_KEYS = {"choices", "low", "high", "log", "if", "for"}


def _spec_error(key: str, why: str) -> ConfigError:
    return ConfigError(f"search_space[{key!r}]: {why}")


def check_space(cfg: ExperimentConfig) -> None:
    """Refuse a space no study can draw from, naming the key; every choice (and both ends of
    every range) must give a config that validates."""
    from .models import list_models  # the registry, for "model" choices

    hints = typing.get_type_hints(ExperimentConfig)
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    space = cfg.search_space
    base = dataclasses.replace(cfg, search_space={}, variants={})
    for key, spec in space.items():
        if not isinstance(spec, dict) or set(spec) - SPEC_KEYS:
            raise _spec_error(key, f"expected a dict with keys among {sorted(SPEC_KEYS)}")
        if key != MODEL and (key not in fields or key in NOT_TRAINING
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
            if key == MODEL or hints[key] is not float or not (
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
            if key == MODEL:
                if v not in list_models():
                    raise _spec_error(key, f"choice {v!r} is not a registered model")
                continue
            if not isinstance(v, hints[key]) or (hints[key] is int and isinstance(v, bool)):
                raise _spec_error(key, f"choice {v!r}: expected {hints[key].__name__}")
            try:
                dataclasses.replace(base, **{key: v}).validate()
            except ConfigError as e:
                raise _spec_error(key, f"choice {v!r}: {e}") from None


def suggest(trial, cfg: ExperimentConfig, model: str) -> dict:
    """Draw one point of the space for a study of `model`: {key: value}, in the space's
    order, conditional keys only when their condition holds."""
    params: dict = {}
    for key, spec in cfg.search_space.items():
        if model not in tuple(spec.get("for", cfg.models)):
            continue
        cond = spec.get("if")
        if cond is not None and params.get(cond) is not True:
            continue
        if "choices" in spec:
            params[key] = trial.suggest_categorical(key, list(spec["choices"]))
        else:
            params[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]),
                                              log=bool(spec.get("log", False)))
    return params


def configure(cfg: ExperimentConfig, fmt: str, model: str, seeds: tuple[int, ...],
              params: dict) -> ExperimentConfig:
    """The config of one point: `cfg` with the drawn values, one format, the drawn model (or
    the studied one) and the given seeds; no variants, no space. Validated."""
    values = {k: v for k, v in params.items() if k != MODEL}
    return dataclasses.replace(cfg, formats=(fmt,), models=(params.get(MODEL, model),),
                               seeds=tuple(seeds), variants={}, search_space={},
                               **values).validate()


def describe(params: dict) -> str:
    """A point, readable: "learning_rate=0.00042, batch_size=64, ...". """
    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) and not math.isclose(v, round(v, 3)) else v
    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items())
