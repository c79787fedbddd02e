"""Model registry: every reproduced architecture is registered by name with its provenance.

Each entry records where the architecture comes from (paper, figure/table) and its expected
parameter count, so that tests and `fer-keras params` check every registered model the moment
it is registered. `params_source` says where that count comes from: the paper's printed layer
summary when it has one, otherwise our own derivation written in the builder's docstring
(and then the report never presents it as the paper's).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import keras

from ..core.errors import UnknownModelError


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one architecture."""

    name: str
    builder: Callable[..., keras.Model]
    source: str  # paper and figure/table the architecture is taken from
    expected_params: int  # total parameters: published, or derived by hand (params_source)
    input_shape: tuple[int, int, int]  # the published input shape (the builder's default)
    num_classes: int = 7
    params_source: str = "published"  # "published" or how we derived expected_params

    @property
    def params_published(self) -> bool:
        return self.params_source == "published"


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    source: str,
    expected_params: int,
    input_shape: tuple[int, int, int],
    num_classes: int = 7,
    params_source: str = "published",
) -> Callable[[Callable[..., keras.Model]], Callable[..., keras.Model]]:
    """Decorator registering a builder `f(input_shape=..., num_classes=...) -> keras.Model`."""

    def decorate(builder: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            source=source,
            expected_params=expected_params,
            input_shape=tuple(input_shape),
            num_classes=num_classes,
            params_source=params_source,
        )
        return builder

    return decorate


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list_models(), n=1)
        known = ", ".join(list_models()) or "(none)"
        raise UnknownModelError(f"unknown model {name!r}"
                                + (f" (did you mean {close[0]!r}?)" if close else "")
                                + f"; known models: {known}") from None


def create_model(name: str, **overrides) -> keras.Model:
    """Build a registered model; keyword overrides (e.g. input_shape) go to its builder."""
    spec = get_spec(name)
    kwargs = {"input_shape": spec.input_shape, "num_classes": spec.num_classes}
    kwargs.update(overrides)
    return spec.builder(**kwargs)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def expects_raw_pixels(model: keras.Model) -> bool:
    """True when the model rescales its own input (its first layer after the input is a
    Rescaling layer; functional models list their InputLayer first, Sequential ones do not).

    Such a model must be fed 0..255 pixels; every other model gets [0, 1]. This is how the
    runner keeps pixels divided by 255 exactly once (Özer §2.1).
    """
    first = next((ly for ly in model.layers if not isinstance(ly, keras.layers.InputLayer)), None)
    return isinstance(first, keras.layers.Rescaling)
