"""Xu, "Enhancing Facial Emotion Recognition Through Deep Learning: Integrating CNN and RNN-LSTM
Models" (../shared/papers/000_1b12a397d85afe8b.txt).

The paper runs no experiment of its own and gives no layer of either model; it argues that a
CNN beats an RNN-LSTM on FER-2013 and "exceeds human" accuracy (65 % +/- 5 %, §2.1). Our
readings, fixed before any result (every choice is an ASSUMPTION):

* `xu_cnn`: "a plain CNN" as §2.2.1 describes one (convolutional layers with several filters,
  each stage followed by pooling, then fully connected classification), at the size of the CNN
  it cites (Bodapati's, 2.3M parameters, no layer list printed): three VGG-style stages of two
  3x3 "same" convolutions (32, 64, 128 filters, ReLU) and 2x2 max pooling, Flatten (6 x 6 x
  128 = 4,608), Dense 256 ReLU, Dropout 0.5, Dense 7 softmax. Convolutions 320 + 9,248 +
  18,496 + 36,928 + 73,856 + 147,584 = 286,432; Dense 256: 4,608 x 256 + 256 = 1,179,904;
  Dense 7: 1,799. Total 1,468,135.
* `xu_rnn_lstm`: an RNN-LSTM on the image itself (§2.2.2: an LSTM over a sequence), reading the
  48 rows as 48 steps of 48 pixels: Reshape (48, 48), LSTM 128, Dropout 0.5, Dense 7 softmax.
  LSTM: 4 x (48 + 128 + 1) x 128 = 90,624; Dense 7: 903. Total 91,527.

Input (48, 48, 1) grey, scaled to [0, 1] by the pipeline.
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_model

SOURCE = "Xu, Integrating CNN and RNN-LSTM Models"
STAGES = (32, 64, 128)


@register_model(
    "xu_cnn",
    source=f"{SOURCE}, §2.2.1 / §3.1 (CNN; no layers given)",
    expected_params=1_468_135,
    params_source="ours: a plain VGG-style CNN (the paper gives no layers)",
    input_shape=(48, 48, 1),
)
def build_xu_cnn(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """Three stages of two 3x3 convolutions and 2x2 pooling, Dense 256, Dense softmax."""
    stack: list[keras.layers.Layer] = [keras.Input(shape=tuple(input_shape), name="input")]
    for i, filters in enumerate(STAGES, start=1):
        stack += [
            layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}a"),
            layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}b"),
            layers.MaxPooling2D(name=f"pool{i}"),
        ]
    stack += [
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(stack, name="xu_cnn")


@register_model(
    "xu_rnn_lstm",
    source=f"{SOURCE}, §2.2.2 (RNN-LSTM; no layers given)",
    expected_params=91_527,
    params_source="ours: an LSTM over the image rows (the paper gives no layers)",
    input_shape=(48, 48, 1),
)
def build_xu_rnn_lstm(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """The 48 rows of the face as 48 steps of 48 pixels: LSTM 128, Dense softmax."""
    h, w, c = input_shape
    return keras.Sequential([
        keras.Input(shape=tuple(input_shape), name="input"),
        layers.Reshape((h, w * c), name="rows"),
        layers.LSTM(128, name="lstm"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ], name="xu_rnn_lstm")
