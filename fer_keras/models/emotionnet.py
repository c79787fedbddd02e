"""Bhardwaj & Singh, "EmotionNet: Enhanced Facial Emotion Recognition Using a Hybrid CNN-LSTM
Architecture with Advanced Preprocessing" (EmotionNet++), section "Proposed Methodology", and
the baselines of "Results and Evaluation".

What the paper specifies, and what we chose where it does not (it prints no layer summary, so
every parameter count is ours, derived below and pinned by the tests):

* "Five convolutional layers with ReLU activations. Filter sizes: {32, 64, 128, 256, 256}.
  Each convolution is followed by batch normalization and max pooling." Kernel size is not
  given: 3x3 with "same" padding (with "valid" convolutions five 2x2 poolings do not fit in
  48x48), 2x2 pooling.
* "Dropout (0.3-0.5) is applied after pooling layers": 0.3, 0.3, 0.4, 0.4, 0.5, rising with
  depth through the stated range.
* "Two stacked LSTM layers with 128 and 64 hidden units, respectively. Tanh activation is used.
  Dropout is applied for regularization": LSTM(128, return_sequences) -> Dropout(0.3) ->
  LSTM(64) -> Dropout(0.3); the rate is not given, we take the low end of the CNN's range.
* "A fully connected dense layer outputs probabilities for seven emotion classes using softmax."
* Input: (48, 48, 1) grey, scaled to [0, 1] by the pipeline (preprocessing step 3).

The sequence the LSTMs read is not described; we read the last feature map as a sequence of
its spatial positions (as Özer's Figure 4 does). Its length then depends on the padding of the
five poolings, which the paper does not give, so both readings are registered and run side by
side (same parameter count):
* `emotionnet_pp` ("valid" pooling, Keras' default): 48 -> 24 -> 12 -> 6 -> 3 -> 1, so the
  LSTMs read ONE step of 256 features and cannot model any order: the LSTM block acts as a
  gated dense layer. That is a property of this reading, not of the paper's text.
* `emotionnet_pp_seq4` ("same" pooling): 48 -> 24 -> 12 -> 6 -> 3 -> 2, a sequence of FOUR
  steps (the 2x2 positions of the last map, row by row).

Baselines the paper compares against ("CNN-only, CNN-GRU, and 3D-CNN"), on the same trunk (the
`emotionnet_pp` reading) so that only the named component differs:
* `emotionnet_cnn`: CNN-only, also the paper's "without the LSTM component" ablation. The two
  LSTMs become two dense layers of the same widths (Flatten -> Dense 128 ReLU -> Dropout 0.3
  -> Dense 64 ReLU -> Dropout 0.3), the rest unchanged.
* `emotionnet_cnn_gru`: the two LSTMs become GRUs of the same widths (128, then 64).
* The 3D-CNN baseline needs video sequences (CK+); FER-2013 has single images, so it is not
  built (experiments/emotionnet.py says so).

Parameters. Trunk: convolutions 320 + 18,496 + 73,856 + 295,168 + 590,080 = 977,920; batch
norms 4 x (32 + 64 + 128 + 256 + 256) = 2,944; together 980,864. Dense 64 -> 7: 455.
* LSTM 128: 4 x (256 + 128 + 1) x 128 = 197,120; LSTM 64: 4 x (128 + 64 + 1) x 64 = 49,408.
  `emotionnet_pp` and `emotionnet_pp_seq4`: 1,227,847.
* Dense 128: 256 x 128 + 128 = 32,896; Dense 64: 128 x 64 + 64 = 8,256. `emotionnet_cnn`:
  1,022,471.
* GRU 128 (Keras' reset_after=True, two bias vectors): 3 x (256 x 128 + 128 x 128 + 2 x 128) =
  148,224; GRU 64: 3 x (128 x 64 + 64 x 64 + 2 x 64) = 37,248. `emotionnet_cnn_gru`: 1,166,791.
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_model

FILTERS = (32, 64, 128, 256, 256)
DROPOUT = (0.3, 0.3, 0.4, 0.4, 0.5)
HEAD_UNITS = (128, 64)  # the two stacked LSTMs (and the baselines' GRUs / dense layers)
HEAD_DROPOUT = 0.3
SOURCE = "Bhardwaj & Singh, EmotionNet++, 'Proposed Methodology'"


def _trunk(input_shape, pool_padding: str) -> list[keras.layers.Layer]:
    out: list[keras.layers.Layer] = [keras.Input(shape=tuple(input_shape), name="input")]
    for i, (filters, rate) in enumerate(zip(FILTERS, DROPOUT, strict=True), start=1):
        out += [
            layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}"),
            layers.BatchNormalization(name=f"bn{i}"),
            layers.MaxPooling2D(padding=pool_padding, name=f"pool{i}"),
            layers.Dropout(rate, name=f"dropout{i}"),
        ]
    return out


def _recurrent_head(cell: type[keras.layers.Layer], kind: str, num_classes: int
                    ) -> list[keras.layers.Layer]:
    first, second = HEAD_UNITS
    return [
        layers.Reshape((-1, FILTERS[-1]), name="to_sequence"),
        cell(first, activation="tanh", return_sequences=True, name=f"{kind}1"),
        layers.Dropout(HEAD_DROPOUT, name=f"dropout_{kind}1"),
        cell(second, activation="tanh", name=f"{kind}2"),
        layers.Dropout(HEAD_DROPOUT, name=f"dropout_{kind}2"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]


@register_model(
    "emotionnet_pp",
    source=f"{SOURCE}: 'valid' pooling, the LSTMs read 1 step (90.5 % claimed)",
    expected_params=1_227_847,
    params_source="ours: derived from the paper's layer list (no summary printed)",
    input_shape=(48, 48, 1),
)
def build_emotionnet_pp(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """Five Conv2D/BatchNorm/MaxPool/Dropout blocks, LSTM 128, LSTM 64, Dense softmax."""
    return keras.Sequential(_trunk(input_shape, "valid")
                            + _recurrent_head(layers.LSTM, "lstm", num_classes),
                            name="emotionnet_pp")


@register_model(
    "emotionnet_pp_seq4",
    source=f"{SOURCE}: 'same' pooling, the LSTMs read 4 steps (90.5 % claimed)",
    expected_params=1_227_847,
    params_source="ours: derived from the paper's layer list (no summary printed)",
    input_shape=(48, 48, 1),
)
def build_emotionnet_pp_seq4(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """As emotionnet_pp with "same" pooling: the last map is 2x2, a 4-step sequence."""
    return keras.Sequential(_trunk(input_shape, "same")
                            + _recurrent_head(layers.LSTM, "lstm", num_classes),
                            name="emotionnet_pp_seq4")


@register_model(
    "emotionnet_cnn",
    source=f"{SOURCE}: the CNN-only baseline / without-LSTM ablation",
    expected_params=1_022_471,
    params_source="ours: the emotionnet_pp trunk with a dense head of the LSTMs' widths",
    input_shape=(48, 48, 1),
)
def build_emotionnet_cnn(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """The emotionnet_pp trunk, Flatten, Dense 128, Dense 64, Dense softmax."""
    first, second = HEAD_UNITS
    return keras.Sequential(_trunk(input_shape, "valid") + [
        layers.Flatten(name="flatten"),
        layers.Dense(first, activation="relu", name="dense1"),
        layers.Dropout(HEAD_DROPOUT, name="dropout_dense1"),
        layers.Dense(second, activation="relu", name="dense2"),
        layers.Dropout(HEAD_DROPOUT, name="dropout_dense2"),
        layers.Dense(num_classes, activation="softmax", name="predictions"),
    ], name="emotionnet_cnn")


@register_model(
    "emotionnet_cnn_gru",
    source=f"{SOURCE}: the CNN-GRU baseline",
    expected_params=1_166_791,
    params_source="ours: the emotionnet_pp trunk with GRU 128 and GRU 64",
    input_shape=(48, 48, 1),
)
def build_emotionnet_cnn_gru(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """The emotionnet_pp trunk, GRU 128, GRU 64, Dense softmax."""
    return keras.Sequential(_trunk(input_shape, "valid")
                            + _recurrent_head(layers.GRU, "gru", num_classes),
                            name="emotionnet_cnn_gru")
