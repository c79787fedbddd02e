"""Grad-CAM heat maps (Selvaraju et al. 2017), following the Keras example "Grad-CAM class
activation visualization": the gradient of the class score with respect to the last
convolutional feature map, averaged over its positions, weights the map's channels; their ReLU'd
sum, normalised to [0, 1] and resized to the face, is where the model looked. Özer & Subaşı
§4.4 names Grad-CAM as the missing piece of their analysis.

Works on any inference model (fer_keras.models.inference) whose trained model has a
convolution: the last Conv2D-like layer, or a nested backbone's output map. Models without one
(an LSTM over pixel rows) have no Grad-CAM and get None.

Also here: dead ReLU units per layer on the same example images (`relu_activity`), the
diagnosis of a run that never left its initial plateau.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..core.cellfiles import ACTIVITY_FILE, EXAMPLES_FILE, FINISHED_GLOB, GRADCAM_FILE
from ..core.provenance import write_json, write_npz
from .inference import adapt_for, inference_model, inner_model, model_file

CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def feature_layer(model: keras.Model) -> keras.layers.Layer | None:
    """The last convolution of the trained model (a nested backbone counts as one)."""
    for layer in reversed(model.layers):
        if isinstance(layer, CONV_TYPES):
            return layer
        if isinstance(layer, keras.Model) and len(layer.output.shape) == 4:
            return layer
    return None


def _probe(inner: keras.Model, wanted: list[keras.layers.Layer]) -> keras.Model:
    """inner's input -> (each wanted layer's output..., the class probabilities), on ONE
    path. A Sequential model rebuilds its graph when it is called inside another model, so its
    layers' first outputs may lie on another path from the same input: it is chained afresh.
    A functional model's own graph is used (outputs[0]: its .output, as a nested layer, is its
    node in the wrapper's graph)."""
    if isinstance(inner, keras.Sequential):
        x = keras.Input(shape=inner.input_shape[1:])
        t, found = x, {}
        for ly in inner.layers:
            t = ly(t)
            if any(ly is w for w in wanted):
                found[id(ly)] = t
        return keras.Model(x, [*(found[id(w)] for w in wanted), t])
    return keras.Model(inner.inputs, [*(w.output for w in wanted), inner.outputs[0]])


def gradcam(model: keras.Model, images: np.ndarray, classes: np.ndarray | None = None,
            batch: int = 64) -> np.ndarray | None:
    """(N, 48, 48) float32 heat maps in [0, 1] for grey 0-255 faces, each for `classes[i]`
    (default: the predicted class); None when the model has no convolution."""
    inner = inner_model(model)
    layer = feature_layer(inner)
    if layer is None:
        return None
    grad_model = _probe(inner, [layer])
    maps = []
    for start in range(0, len(images), batch):
        x = adapt_for(model, images[start:start + batch])
        with tf.GradientTape() as tape:
            features, probs = grad_model(x, training=False)
            cls = (tf.argmax(probs, axis=1) if classes is None
                   else tf.constant(classes[start:start + batch]))
            score = tf.gather(probs, cls, axis=1, batch_dims=1)
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(features * weights, axis=-1))
        peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
        cam = tf.math.divide_no_nan(cam, peak)
        maps.append(tf.image.resize(cam[..., None], images.shape[1:3], method="bilinear")
                    .numpy()[..., 0])
    return np.concatenate(maps).astype(np.float32)


def write_gradcam(folder: Path, model: keras.Model, images: np.ndarray) -> bool:
    """gradcam.npz beside a run's examples.npz: heat maps (uint8, 0-255 for 0-1) of the
    predicted class for each example image, and the layer they come from."""
    maps = gradcam(model, images)
    if maps is None:
        return False
    write_npz(folder / GRADCAM_FILE, maps=np.round(maps * 255).astype(np.uint8),
              layer=np.array(feature_layer(inner_model(model)).name))
    return True


def _is_relu(layer: keras.layers.Layer) -> bool:
    """A layer whose output is a ReLU: its own activation, or a ReLU layer."""
    if isinstance(layer, keras.layers.ReLU):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


def relu_activity(model: keras.Model, images: np.ndarray) -> list[dict]:
    """For every ReLU layer of the trained model: its units (channels) and how many of them
    never fire (output <= 0 at every position of every image). A layer whose units are all
    dead passes nothing on: the model's output no longer depends on its input, which is how
    a run sits at ln 7 (uniform output) for good. Dead units get no gradient, so they stay
    dead."""
    inner = inner_model(model)
    wanted = [ly for ly in inner.layers if _is_relu(ly)]
    if not wanted:
        return []
    outputs = _probe(inner, wanted).predict(adapt_for(model, images), verbose=0)[:-1]
    rows = []
    for layer, out in zip(wanted, outputs):
        fired = (np.asarray(out).reshape(-1, out.shape[-1]) > 0).any(axis=0)
        rows.append({"layer": layer.name, "units": int(fired.size),
                     "dead": int((~fired).sum())})
    return rows




def write_activity(folder: Path, model: keras.Model, images: np.ndarray) -> None:
    """activity.json beside a run's examples.npz: dead ReLU units per layer on the example
    images (a diagnosis of a run that did not learn; nothing is chosen by it)."""
    write_json(folder / ACTIVITY_FILE, {
        "images": int(len(images)), "of": "the example test images (examples.npz)",
        "layers": relu_activity(model, images)})


def backfill(runs_dir: Path) -> list[Path]:
    """gradcam.npz and activity.json for every finished cell below runs_dir that has its
    model and examples but not them yet (cells trained before the runner wrote them)."""
    written = []
    for done in sorted(Path(runs_dir).glob(FINISHED_GLOB)):
        folder = done.parent
        missing_cam = not (folder / GRADCAM_FILE).exists()
        missing_activity = not (folder / ACTIVITY_FILE).exists()
        model_path = model_file(folder)
        if (not (missing_cam or missing_activity) or not (folder / EXAMPLES_FILE).exists()
                or model_path is None):
            continue
        model = inference_model(keras.models.load_model(model_path, compile=False))
        with np.load(folder / EXAMPLES_FILE) as z:
            images = z["images"]
        if missing_activity:
            write_activity(folder, model, images)
        # a model without a convolution has no heat maps: it counts only for its activity
        if (missing_cam and write_gradcam(folder, model, images)) or missing_activity:
            written.append(folder)
    return written
