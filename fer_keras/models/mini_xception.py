"""mini-Xception (Arriaga, Valdenegro-Toro and Plöger, "Real-time Convolutional Neural Networks
for Emotion and Gender Classification", 2017; code: github.com/oarriaga/face_classification,
src/models/cnn.py, `mini_XCEPTION`).

Not a paper of this suite: a well-known stronger FER-2013 architecture, trained through the
same data, split and runner as a paper's models, as a control that the pipeline itself does
not hold the numbers down (reachability study, experiments/ozer_reachability.py). Its public
figure: 66 % on FER-2013 (the repository's README), with 58,423 parameters.

Layers as in `mini_XCEPTION(input_shape, num_classes, l2_regularization=0.01)`: two 3x3
Conv2D(8) (valid, no bias) with BatchNorm + ReLU, four residual modules (16, 32, 64, 128
filters: a strided 1x1 Conv2D + BatchNorm shortcut; two 3x3 SeparableConv2D + BatchNorm, ReLU
between, a 3x3/2 MaxPool; added), a 3x3 Conv2D to the classes, global average pooling,
softmax. L2 0.01 on the kernels the original's training actually regularised: the two first
Conv2D kernels only. cnn.py also passes `kernel_regularizer` to each SeparableConv2D, but Keras 2
(the version it was written and trained with) silently ignores that argument there: a separable
convolution's kernels take `depthwise_regularizer` and `pointwise_regularizer`, and its
`build` never reads `kernel_regularizer` (keras/layers/convolutional.py, `_SeparableConv`;
`get_config` even drops it). So the published 66 % was trained with unregularised separable
convolutions, and so are ours. Our first control run regularised them as the source reads
(L2 0.01 on every depthwise and pointwise kernel): it sat at 40-41 % training accuracy from
epoch 9 to 21 when we found this and stopped it.

The original scales pixels to [-1, 1] (x / 255, then (x - 0.5) * 2, `preprocess_input`); here
a Rescaling layer does it (0 parameters), so the model is fed 0..255 pixels.
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_model

L2 = 0.01  # cnn.py's default l2_regularization


def _module(x, filters: int, name: str):
    residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False,
                             name=f"{name}_shortcut")(x)
    residual = layers.BatchNormalization(name=f"{name}_shortcut_bn")(residual)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                               name=f"{name}_sepconv1")(x)
    x = layers.BatchNormalization(name=f"{name}_sepconv1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_sepconv1_act")(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                               name=f"{name}_sepconv2")(x)
    x = layers.BatchNormalization(name=f"{name}_sepconv2_bn")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return layers.Add(name=f"{name}_add")([x, residual])


@register_model(
    "mini_xception",
    source="Arriaga et al. 2017, face_classification src/models/cnn.py (mini_XCEPTION)",
    expected_params=58_423,
    input_shape=(48, 48, 1),
    params_source="face_classification's mini_XCEPTION at 7 classes (58,423, its README)",
)
def build_mini_xception(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """mini-Xception; residual modules, so the functional API."""
    reg = keras.regularizers.L2(L2)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescaling")(inputs)  # [-1, 1]
    for i in (1, 2):
        x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=reg, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"conv{i}_bn")(x)
        x = layers.Activation("relu", name=f"conv{i}_act")(x)
    for i, filters in enumerate((16, 32, 64, 128), 1):
        x = _module(x, filters, f"module{i}")
    x = layers.Conv2D(num_classes, 3, padding="same", name="classes")(x)
    x = layers.GlobalAveragePooling2D(name="global_average_pooling")(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mini_xception")
