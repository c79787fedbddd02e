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
`suggest_float` (an `optuna.Trial`). The space is checked where every config is checked, when it
loads (`fer_keras.train.config.check_space`).
"""

from __future__ import annotations

import dataclasses
import math

from .config import SPACE_MODEL, ExperimentConfig


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
    values = {k: v for k, v in params.items() if k != SPACE_MODEL}
    return dataclasses.replace(cfg, formats=(fmt,), models=(params.get(SPACE_MODEL, model),),
                               seeds=tuple(seeds), variants={}, search_space={},
                               **values).validate()


def describe(params: dict) -> str:
    """A point, readable: "learning_rate=0.00042, batch_size=64, ...". """
    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) and not math.isclose(v, round(v, 3)) else v
    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items())
