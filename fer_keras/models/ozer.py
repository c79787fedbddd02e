"""Özer & Subaşı, "Automatic Classification of Basic Emotions Using Deep Learning Techniques".

Both builders reproduce the printed Keras summaries row for row (layer class, output shape,
parameter count). Where the paper's prose and its printed summaries disagree, the printed
summary wins, because it is what the authors' code actually built:

* §2.3(a) says the Pure CNN takes (48, 48, 1) grey input; Figure 2 prints (None, 48, 48, 3)
  and 448 parameters in the first Conv2D (3*3*3*16 + 16), which only 3 channels give. We use
  (48, 48, 3), the RGB default of `image_dataset_from_directory`; grey data is repeated to
  three channels by the data pipeline.
* §2.3(a) says dropout follows the dense layers; Figure 2 prints no Dropout row. We add none.
* §2.3(b) says the LSTM reads "a sequence of length 36 with a feature dimension 128";
  Figure 4 prints Reshape (None, 16, 128), the only shape 2,048 features allow. We use 16x128.
* Activations are not printed. We use ReLU in every Conv2D and hidden Dense (Figure 1's
  "Conv and ReLU" blocks) and softmax at the output (§2.3(a) "Output Layer").
* Conv kernels are 3x3: the printed parameter counts (448, 4,640, 18,496; 320, 18,496,
  73,856) are those of 3x3 kernels. Figure 2's convolutions keep 48x48, so they use "same"
  padding; Figure 4's shrink 48->46, so they use "valid" padding. Pools are 2x2.
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_model

OZER = "Özer & Subaşı"


@register_model(
    "ozer_cnn",
    source=f"{OZER}, Figure 2 (Pure CNN)",
    expected_params=319_527,
    input_shape=(48, 48, 3),
)
def build_ozer_cnn(input_shape=(48, 48, 3), num_classes: int = 7) -> keras.Model:
    """Pure CNN of Figure 2: Rescaling, three Conv2D(same)/MaxPool blocks (16, 32, 64),
    Flatten (2,304), Dense 128, Dense softmax. 319,527 parameters at the defaults.

    The model divides by 255 itself (its Rescaling layer), so it is fed 0..255 pixels.
    """
    return _pure_cnn(input_shape, num_classes, "ozer_cnn")


def _pure_cnn(input_shape, num_classes: int, name: str) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape), name="input"),
            layers.Rescaling(1.0 / 255, name="rescaling"),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2d"),
            layers.MaxPooling2D(name="max_pooling2d"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2d_1"),
            layers.MaxPooling2D(name="max_pooling2d_1"),
            layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2d_2"),
            layers.MaxPooling2D(name="max_pooling2d_2"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dense(num_classes, activation="softmax", name="dense_1"),
        ],
        name=name,
    )


@register_model(
    "ozer_cnn_lstm",
    source=f"{OZER}, Figure 4 (Hybrid CNN-LSTM)",
    expected_params=232_967,
    input_shape=(48, 48, 1),
)
def build_ozer_cnn_lstm(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """Hybrid CNN-LSTM of Figure 4: three Conv2D(valid)/MaxPool blocks (32, 64, 128),
    Flatten (2,048), Reshape (16, 128), LSTM 128, Dense 64, Dense softmax.
    232,967 parameters at the defaults.

    It has no Rescaling layer, so it is fed pixels already scaled to [0, 1] (§2.1).
    """
    conv = [
        layers.Conv2D(32, 3, padding="valid", activation="relu", name="conv2d"),
        layers.MaxPooling2D(name="max_pooling2d"),
        layers.Conv2D(64, 3, padding="valid", activation="relu", name="conv2d_1"),
        layers.MaxPooling2D(name="max_pooling2d_1"),
        layers.Conv2D(128, 3, padding="valid", activation="relu", name="conv2d_2"),
        layers.MaxPooling2D(name="max_pooling2d_2"),
        layers.Flatten(name="flatten"),
    ]
    # Figure 4: the flattened 2,048 features become 16 steps of 128 (the last conv's channel
    # count), i.e. one step per spatial position of the 4x4 map. -1 keeps this valid for other
    # input sizes, where the flatten size is always (h * w * 128).
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape), name="input"),
            *conv,
            layers.Reshape((-1, 128), name="reshape"),
            layers.LSTM(128, name="lstm"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(num_classes, activation="softmax", name="dense_1"),
        ],
        name="ozer_cnn_lstm",
    )


@register_model(
    "ozer_cnn_grey",
    source=f"{OZER}, §2.3(a) prose (Pure CNN on (48, 48, 1) grey input)",
    # Figure 2's 319,527 less the first Conv2D's weights for the two channels the prose's
    # single-channel input does not have: 3*3*(3-1)*16 = 288.
    expected_params=319_239,
    input_shape=(48, 48, 1),
    params_source="derived: Figure 2's count with a one-channel first Conv2D (3*3*1*16 + 16)",
)
def build_ozer_cnn_grey(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """The Pure CNN as §2.3(a)'s prose describes its input, (48, 48, 1): Figure 2's layers
    with the first Conv2D reading one channel: 319,239 parameters (Figure 2's 319,527 less
    3*3*2*16 = 288 first-layer weights). A reading studied by the reachability study
    (experiments/ozer_reachability.py), never a cell of the reference reproduction."""
    return _pure_cnn(input_shape, num_classes, "ozer_cnn_grey")
