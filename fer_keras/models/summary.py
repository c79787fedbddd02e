"""`model.summary()`-level facts of a model, row by row, for comparison with printed tables."""

from __future__ import annotations

from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class LayerRow:
    layer: str
    type: str
    output_shape: str
    params: int

    def render(self) -> str:
        return f"{self.layer} ({self.type}) {self.output_shape} {self.params:,}"


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def summary_rows(model: keras.Model) -> list[LayerRow]:
    """One row per layer, as Keras prints it: name, class, output shape, parameter count."""
    return [
        LayerRow(
            layer=layer.name,
            type=type(layer).__name__,
            output_shape=_shape_text(layer.output.shape),
            params=int(layer.count_params()),
        )
        for layer in model.layers
    ]


def count_params(model: keras.Model) -> int:
    return int(sum(int(keras.ops.size(w)) for w in model.weights))
