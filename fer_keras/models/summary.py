"""`model.summary()`-level facts of a model, row by row, for comparison with printed tables."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import keras
import numpy as np


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


def _without_names(obj):
    """A layer config without its (and its sublayers') names: auto-generated names depend on
    how many layers a process has built before, not on the architecture."""
    if isinstance(obj, dict):
        return {k: _without_names(v) for k, v in obj.items() if k != "name"}
    if isinstance(obj, (list, tuple)):
        return [_without_names(v) for v in obj]
    return obj


def _rows(layers_) -> list:
    return [[type(layer).__name__, _without_names(layer.get_config()),
             _shape_text(layer.output.shape), int(layer.count_params())] for layer in layers_]


def _hash_rows(input_shape, rows: list) -> str:
    text = json.dumps([list(input_shape), rows], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _computing_layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def signature(model: keras.Model) -> str:
    """SHA-256 (16 hex digits) of the architecture: the input shape, then every layer's class,
    configuration (less names), output shape and parameter count, in order. Equal signatures:
    same computation. The input layer is not a row (the input shape is hashed once), so a
    `keras.Sequential` stack and the same layers built with the functional API, whose
    `model.layers` also lists its InputLayer, have one signature."""
    return _hash_rows(model.input_shape, _rows(_computing_layers(model)))


def signatures(model: keras.Model) -> tuple[str, str]:
    """`signature(model)`, then the same architecture's signature as fer-keras computed it
    before 2026-11-24, when the input layer was a row: functional models' cells recorded that
    form (Sequential models' recorded the current one). A run folder may hold either; both
    mean the same computation. The layers' rows are computed once for both."""
    rows = _rows(_computing_layers(model))
    inputs = [layer for layer in model.layers if isinstance(layer, keras.layers.InputLayer)]
    if not inputs:  # a Sequential model: its InputLayer as the functional API would list it
        inputs = [keras.layers.InputLayer(batch_shape=tuple(model.input_shape),
                                          dtype=model.inputs[0].dtype)]
    return (_hash_rows(model.input_shape, rows),
            _hash_rows(model.input_shape, _rows(inputs) + rows))


def _lstm_flops(steps: int, features: int, units: int) -> int:
    return steps * 2 * 4 * (features + units) * units  # four gates, input and recurrent products


def _gru_flops(steps: int, features: int, units: int) -> int:
    return steps * 2 * 3 * (features + units) * units  # update, reset and candidate


def _recurrent_flops(layer, steps: int, features: int) -> int:
    import keras

    per = _gru_flops if isinstance(layer, keras.layers.GRU) else _lstm_flops
    return per(steps, features, layer.units)


def model_flops(model) -> int:
    """Forward multiply-adds x 2 per image, counted per layer: Conv2D, DepthwiseConv2D,
    SeparableConv2D (its depthwise and pointwise parts), Dense (on every step of a sequence
    input), LSTM and GRU, alone or Bidirectional. Batch norm, pooling, activations, additions
    and the attention's weighted sum are left out: a few FLOPs per value, not per weight."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            _, h, w, cout = layer.output.shape
            total += 2 * kh * kw * cout * h * w
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            _, h, w, cout = layer.output.shape
            inner = cin * layer.depth_multiplier
            total += 2 * kh * kw * inner * h * w + 2 * inner * cout * h * w
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            _, h, w, cout = layer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
        elif isinstance(layer, keras.layers.Dense):
            positions = int(np.prod(layer.input.shape[1:-1]))  # 1 for flat input
            total += 2 * positions * layer.input.shape[-1] * layer.units
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            total += _recurrent_flops(layer, *layer.input.shape[1:])
        elif isinstance(layer, keras.layers.Bidirectional):
            steps, features = layer.input.shape[1:]
            total += sum(_recurrent_flops(inner, steps, features)
                         for inner in (layer.forward_layer, layer.backward_layer))
    return int(total)


def params_table() -> tuple[list[str], bool]:
    """`fer-keras params`: every registered model built, its parameters counted against the
    count its source states; the table's lines, and whether every count matches."""
    from .registry import create_model, get_spec, list_models

    rows, ok = [], True
    for name in list_models():
        spec = get_spec(name)
        built = count_params(create_model(name))
        match = built == spec.expected_params
        ok &= match
        rows.append((name, spec.source, f"{spec.expected_params:,}", spec.params_source,
                     f"{built:,}", "yes" if match else "NO"))
    header = ("model", "source", "expected params", "count from", "built params", "match")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths))
            for r in [header, tuple("-" * w for w in widths), *rows]], ok
