"""Wasey, "Facial Emotion Recognition Using CNN-LSTM" (../shared/papers/003_c88dc6450790f003.txt)
and the author's public notebook that goes with it.

The paper (§7) lists three blocks of Conv2D + BatchNorm + MaxPool + Dropout, Flatten, Reshape,
one LSTM and a Dense softmax of 7, with no filter counts, no LSTM size and no rates. The
notebook fixes what the text leaves open, and differs from it: its `model.summary()` has no
BatchNorm and no Dropout in the blocks (one Dropout 0.5 after the LSTM). Both are registered:

* `wasey_cnn_lstm`: the notebook's model, a published layer table (tests/data/
  wasey_cnn_lstm.summary.tsv, checked row by row): Conv2D 64 / 128 / 256 (3x3, valid, ReLU),
  each followed by 2x2 max pooling; Flatten (4,096); Reshape (1, -1); LSTM 128; Dropout 0.5;
  Dense 7 softmax. 2,533,767 parameters. The Reshape makes a sequence of ONE step of 4,096
  features, so the LSTM cannot model any order between features: it is a gated dense layer.
* `wasey_cnn_lstm_paper`: the §7 reading, each block Conv2D -> BatchNormalization ->
  MaxPooling2D -> Dropout, filters as in the notebook, the same head. ASSUMPTION: block
  dropout 0.25 (§5.2 says only "Dropout is applied"; 0.25 after convolutional blocks is the
  common Keras value, half the notebook's 0.5 after the LSTM). Batch norms add
  4 x (64 + 128 + 256) = 1,792 parameters: 2,535,559.
* `wasey_cnn`: the "baseline CNN" of §9, the notebook's trunk with a dense head: the LSTM 128
  becomes Dense 128 ReLU (same width, same Dropout 0.5 after it). Dense 128: 4,096 x 128 + 128
  = 524,416; with the trunk (369,664) and Dense 7 (903): 894,983.

Input (48, 48, 1) grey, scaled to [0, 1] by the pipeline (the notebook's rescale=1/255).
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_model

FILTERS = (64, 128, 256)
SOURCE = "Wasey, Facial Emotion Recognition Using CNN-LSTM"


def _trunk(input_shape, block_dropout: float | None = None) -> list[keras.layers.Layer]:
    """Three 3x3 valid Conv2D/MaxPool blocks; with block_dropout, the paper's §7 blocks
    (BatchNorm after the convolution, Dropout after the pooling). Keras' automatic names, as
    the notebook's summary prints them."""
    out: list[keras.layers.Layer] = [keras.Input(shape=tuple(input_shape), name="input")]
    for i, filters in enumerate(FILTERS):
        k = f"_{i}" if i else ""
        out.append(layers.Conv2D(filters, 3, padding="valid", activation="relu",
                                 name=f"conv2d{k}"))
        if block_dropout is not None:
            out.append(layers.BatchNormalization(name=f"batch_normalization{k}"))
        out.append(layers.MaxPooling2D(name=f"max_pooling2d{k}"))
        if block_dropout is not None:
            out.append(layers.Dropout(block_dropout, name=f"block_dropout{k}"))
    return out + [layers.Flatten(name="flatten")]


def _lstm_head(num_classes: int) -> list[keras.layers.Layer]:
    return [
        layers.Reshape((1, -1), name="reshape"),  # the notebook's Reshape: a 1-step sequence
        layers.LSTM(128, name="lstm"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(num_classes, activation="softmax", name="dense"),
    ]


@register_model(
    "wasey_cnn_lstm",
    source=f"{SOURCE}: the author's notebook (model.summary())",
    expected_params=2_533_767,
    input_shape=(48, 48, 1),
)
def build_wasey_cnn_lstm(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """The notebook's CNN-LSTM: 2,533,767 parameters at the defaults."""
    return keras.Sequential(_trunk(input_shape) + _lstm_head(num_classes),
                            name="wasey_cnn_lstm")


@register_model(
    "wasey_cnn_lstm_paper",
    source=f"{SOURCE}, §7 (BatchNorm and Dropout in every block)",
    expected_params=2_535_559,
    params_source="ours: the notebook's layers with §7's BatchNorm and Dropout",
    input_shape=(48, 48, 1),
)
def build_wasey_cnn_lstm_paper(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """§7's blocks (Conv2D, BatchNorm, MaxPool, Dropout 0.25) with the notebook's sizes."""
    return keras.Sequential(_trunk(input_shape, block_dropout=0.25) + _lstm_head(num_classes),
                            name="wasey_cnn_lstm_paper")


@register_model(
    "wasey_cnn",
    source=f"{SOURCE}, §9 (the baseline CNN)",
    expected_params=894_983,
    params_source="ours: the notebook's trunk with Dense 128 in place of the LSTM",
    input_shape=(48, 48, 1),
)
def build_wasey_cnn(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """The notebook's trunk, Dense 128 ReLU, Dropout 0.5, Dense softmax."""
    return keras.Sequential(_trunk(input_shape) + [
        layers.Dense(128, activation="relu", name="dense_hidden"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(num_classes, activation="softmax", name="dense"),
    ], name="wasey_cnn")
