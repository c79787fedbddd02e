"""One input contract for every saved model.

A trained model takes what its paper's pipeline gave it: `ozer_cnn` raw 0-255 pixels repeated
to three channels (its first layer rescales), `ozer_cnn_lstm` grey pixels divided by 255, the
ImageNet-size backbones three channels, and so on. The runner's input pipeline adapts the data
to each model (fer_keras.data.pipeline.adapt_images). A saved model must not make its user
know that, so every model the runner saves or exports is wrapped:

    input  "grey_0_255": float32 (N, 48, 48, 1), grey levels 0-255 (uint8 values as floats)
    ->     the same channel repetition and scaling as the pipeline, as Keras layers
    ->     the trained model
    output (N, 7) probabilities, classes in fer_keras.core.labels order

The wrapper is built from Keras' own layers only (Concatenate, Rescaling), so it saves, loads
and exports with no custom code. What cannot live in a graph (EmotionNet++'s landmark
alignment and CLAHE) stays in fer_keras.data.preprocess.preprocess, which the runner and
`predict` both call with the settings recorded in the run (inference.json).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import layers

from ..core.cellfiles import CHECKPOINT_FILE, MODEL_FILE
from .registry import expects_raw_pixels

INPUT_NAME = "grey_0_255"
INPUT_SHAPE = (48, 48, 1)
CONTRACT = ("input 'grey_0_255': float32 (N, 48, 48, 1), grey levels 0-255; output (N, 7) "
            "probabilities in fer_keras.core.labels order")


def is_inference_model(model: keras.Model) -> bool:
    return getattr(model.inputs[0], "name", "").startswith(INPUT_NAME) \
        and tuple(model.input_shape[1:]) == INPUT_SHAPE


def inference_model(model: keras.Model) -> keras.Model:
    """The trained `model` behind the one input contract (above)."""
    if is_inference_model(model):
        return model
    inputs = keras.Input(shape=INPUT_SHAPE, name=INPUT_NAME)
    x = inputs
    channels = int(model.input_shape[-1])
    if channels == 3:  # what the pipeline does for an RGB model: three identical channels
        x = layers.Concatenate(axis=-1, name="grey_to_rgb")([x, x, x])
    elif channels != 1:
        raise ValueError(f"{model.name}: input with {channels} channels; expected 1 or 3")
    if not expects_raw_pixels(model):  # the pipeline divides by 255 exactly once
        x = layers.Rescaling(1.0 / 255, name="to_unit_range")(x)
    outputs = model(x)
    return keras.Model(inputs, outputs, name=f"{model.name}_inference")


def averaged(models: list[keras.Model], name: str) -> keras.Model:
    """One contract model that answers the mean of the probabilities of `models` (contract
    models, e.g. a benchmark's best cells: an average of several models often beats each
    alone). It must branch, hence the functional API; each member keeps its own name
    (`member_<i>`: two builders may give their models the same name) and weights, and the
    mean is Keras' Average layer, so it saves and loads like any contract model."""
    inputs = keras.Input(shape=INPUT_SHAPE, name=INPUT_NAME)
    answers = [keras.Model(m.inputs[0], m.outputs[0], name=f"member_{i}")(inputs)
               for i, m in enumerate(models)]
    return keras.Model(inputs, layers.Average(name="average")(answers), name=name)


def as_input(images) -> np.ndarray:
    """Grey images, uint8 or float, (N, 48, 48) or (N, 48, 48, 1), as the contract's float32
    (N, 48, 48, 1) array of grey levels 0-255."""

    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"images of shape {x.shape[1:]}: expected {INPUT_SHAPE} grey faces")
    return x.astype(np.float32)


def mirrored(x: np.ndarray) -> np.ndarray:
    """Contract input (N, 48, 48, 1) mirrored left to right: the same faces, the other way."""
    return np.ascontiguousarray(x[:, :, ::-1])


def predict_views(model: keras.Model, images, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """A contract model's class probabilities for the faces as they are and mirrored left to
    right (float32, (N, 7) each): flip averaging at inference is their mean. A face's mirror
    image shows the same expression, which is why training augments with flips."""
    x = as_input(images)
    as_is = model.predict(x, batch_size=batch, verbose=0)
    flipped = model.predict(mirrored(x), batch_size=batch, verbose=0)
    return as_is.astype(np.float32), flipped.astype(np.float32)


def adapt_for(model: keras.Model, images):
    """The contract's input as the wrapped (inner) model sees it: the wrapper's own layers
    applied, for tools that work on the inner model (Grad-CAM)."""
    x = keras.ops.convert_to_tensor(as_input(images))
    for layer in model.layers[1:-1]:
        x = layer([x, x, x]) if isinstance(layer, layers.Concatenate) else layer(x)
    return x


def model_file(folder) -> Path | None:
    """A run cell's or published folder's model: model.keras (behind the contract), else the
    training checkpoint best.keras (cells trained before model.keras existed); None if
    neither is there."""
    for name in (MODEL_FILE, CHECKPOINT_FILE):
        if (Path(folder) / name).exists():
            return Path(folder) / name
    return None


def inner_model(model: keras.Model) -> keras.Model:
    """The trained model inside an inference model."""
    return model.layers[-1] if is_inference_model(model) else model


def unrolled(model: keras.Model) -> keras.Model:
    """The same model with every recurrent layer unrolled (its weights copied). LiteRT's
    built-in ops cannot run a recurrent loop (it would need TensorFlow's "Flex" select ops,
    which the LiteRT interpreter does not ship); our sequences have a fixed, short length, so
    unrolling them computes exactly the same function with built-in ops."""
    def clone(layer):
        config = layer.get_config()
        inner = config.get("layer", {}).get("config")  # Bidirectional wraps its RNN
        for c in (config, inner):
            if c is not None and "unroll" in c:
                c["unroll"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


class LiteRT:
    """A LiteRT (.tflite) model run by TensorFlow's LiteRT interpreter: float32 in, its first
    output out. `shape`: the input shape it runs at now; an input of another shape (another
    batch size) resizes the interpreter's tensors first."""

    def __init__(self, content: bytes):
        import tensorflow as tf

        with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
            warnings.simplefilter("ignore")
            self._interpreter = tf.lite.Interpreter(model_content=content)
        self._interpreter.allocate_tensors()
        given = self._interpreter.get_input_details()[0]
        self._index, self.shape = given["index"], tuple(int(v) for v in given["shape"])
        self._output = self._interpreter.get_output_details()[0]["index"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self.shape:
            self._interpreter.resize_tensor_input(self._index, x.shape)
            self._interpreter.allocate_tensors()
            self.shape = x.shape
        self._interpreter.set_tensor(self._index, np.ascontiguousarray(x, np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


def litert_function(model: keras.Model) -> LiteRT:
    """`model` (the input contract) converted in memory to LiteRT, recurrent layers unrolled,
    float32 (no quantisation: the same probabilities to about 1e-6): (N, 48, 48, 1) float32 ->
    (N, 7). For one face at a time it answers faster than a traced Keras call (`make bench`,
    single face); converting costs a few seconds once, so it pays for a camera, a video or a
    long loop of single images."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        unrolled(model).export(str(path), format="litert", verbose=False)
        return LiteRT(path.read_bytes())


def traced_function(model: keras.Model):
    """One traced function for any number of faces: an eager call of a Keras model costs tens
    of milliseconds per frame (an LSTM steps in Python), a traced one a few."""
    import tensorflow as tf

    serve = tf.function(lambda x: model(x, training=False),
                        input_signature=[tf.TensorSpec((None, 48, 48, 1), tf.float32)])
    return lambda x: serve(x).numpy()


def one_face_ms(model: keras.Model, reps: int = 200) -> float:
    """Median milliseconds of one face through an inference model's traced function (batch 1,
    the threads this process runs on), after a warm-up: what `predict` pays per face with the
    Keras runtime, not counting detection."""
    import time

    run = traced_function(model)
    x = np.zeros((1, *INPUT_SHAPE), np.float32)
    for _ in range(10):
        run(x)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 3)
