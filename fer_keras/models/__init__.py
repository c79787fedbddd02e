"""Registered model builders. Importing this package registers every architecture."""

from . import ashok, emotionnet, mini_xception, ozer, wasey, xu  # noqa: F401  (importing registers the builders)
from .registry import (
    ModelSpec,
    UnknownModelError,
    create_model,
    expects_raw_pixels,
    get_spec,
    list_models,
    register_model,
)

__all__ = [
    "ModelSpec",
    "UnknownModelError",
    "create_model",
    "expects_raw_pixels",
    "get_spec",
    "list_models",
    "register_model",
]
