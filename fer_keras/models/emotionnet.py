"""Bhardwaj & Singh, "EmotionNet: Enhanced Facial Emotion Recognition Using a Hybrid CNN-LSTM
Architecture with Advanced Preprocessing" (EmotionNet++), section "Proposed Methodology".

What the paper specifies, and what we chose where it does not (it prints no layer summary, so
the parameter count is ours, derived below and pinned by the tests):

* "Five convolutional layers with ReLU activations. Filter sizes: {32, 64, 128, 256, 256}.
  Each convolution is followed by batch normalization and max pooling." Kernel size is not
  given: we use 3x3 with "same" padding (the only padding that lets five convolutions and
  five 2x2 poolings run on 48x48 input), and 2x2 pooling.
* "Dropout (0.3-0.5) is applied after pooling layers": 0.3, 0.3, 0.4, 0.4, 0.5, rising with
  depth through the stated range.
* "Two stacked LSTM layers with 128 and 64 hidden units, respectively. Tanh activation is used.
  Dropout is applied for regularization": LSTM(128, return_sequences) -> Dropout(0.3) ->
  LSTM(64) -> Dropout(0.3); the rate is not given, we take the low end of the CNN's range.
* "A fully connected dense layer outputs probabilities for seven emotion classes using softmax."
* The sequence the LSTM reads is not described. We read the last feature map as a sequence of
  its spatial positions (as Özer's Figure 4 does). Note what that means at 48x48: five 2x2
  poolings take 48 -> 24 -> 12 -> 6 -> 3 -> 1, so the "sequence" has ONE step of 256
  features and the LSTM block cannot model any temporal or spatial order; it acts as a gated
  dense layer. This is a property of the architecture as described, not of our reading, and
  the reports say so; on larger inputs (e.g. CK+ frames) the sequence is longer.
* Input: (48, 48, 1) grey, scaled to [0, 1] by the pipeline (preprocessing step 3).

Parameters at the defaults: convolutions 320 + 18,496 + 73,856 + 295,168 + 590,080 = 977,920;
batch norms 4 x (32 + 64 + 128 + 256 + 256) = 2,944; LSTM 128: 4 x (256 + 128 + 1) x 128 =
197,120; LSTM 64: 4 x (128 + 64 + 1) x 64 = 49,408; Dense: 64 x 7 + 7 = 455. Total 1,227,847.
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_model

FILTERS = (32, 64, 128, 256, 256)
DROPOUT = (0.3, 0.3, 0.4, 0.4, 0.5)
LSTM_DROPOUT = 0.3


@register_model(
    "emotionnet_pp",
    source="Bhardwaj & Singh, EmotionNet++, 'Proposed Methodology' (90.5 % claimed)",
    expected_params=1_227_847,
    params_source="ours: derived from the paper's layer list (no summary printed)",
    input_shape=(48, 48, 1),
)
def build_emotionnet_pp(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """Five Conv2D/BatchNorm/MaxPool/Dropout blocks, LSTM 128, LSTM 64, Dense softmax."""
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    for i, (filters, rate) in enumerate(zip(FILTERS, DROPOUT, strict=True), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
        x = layers.Dropout(rate, name=f"dropout{i}")(x)
    x = layers.Reshape((-1, FILTERS[-1]), name="to_sequence")(x)
    x = layers.LSTM(128, activation="tanh", return_sequences=True, name="lstm1")(x)
    x = layers.Dropout(LSTM_DROPOUT, name="dropout_lstm1")(x)
    x = layers.LSTM(64, activation="tanh", name="lstm2")(x)
    x = layers.Dropout(LSTM_DROPOUT, name="dropout_lstm2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="emotionnet_pp")
