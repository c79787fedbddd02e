"""Ashok, "Human Emotion: The Detection of Human Facial Expressions Using CNN and Bi-LSTM".

The paper compares seven models on FER-2013 (Table 3: CNN 56 %, CNN+LSTM 62 %, CNN+BiLSTM 72 %,
CNN+BiLSTM+Attention 66 %, ResNet-50 48 %, DenseNet-121 58 %, MobileNetV2 54 %) but prints no
layer summary, no filter counts and no parameter counts: Figure 3 (the CNN+BiLSTM diagram) is
not in the text. What it does give: input (48, 48, 1) (§3.7), batch normalisation (§3.6), a
CNN front end whose feature map is read as a sequence by the (Bi)LSTM (§3.5.1), and the
attention variant (§4). So these builders are our reading, and their parameter counts are
ours, pinned by the tests, not published numbers:

* The four custom models share one CNN trunk: three blocks of Conv2D(3x3, same, ReLU) ->
  BatchNormalization -> MaxPooling2D(2x2) -> Dropout(0.25) with 32, 64 and 128 filters. Three
  blocks with exactly these layers is the published design of Wasey's FER-2013 CNN-LSTM (the
  closest paper with a layer list); 32/64/128 are Özer's CNN-LSTM filter counts (Figure 4).
  Dropout 0.25 after convolutions and 0.5 before the classifier are the common Keras defaults
  for such blocks; the paper gives no rates.
* Dropout: the paper names batch normalisation (§3.6) and no dropout at all. Our first
  reading (above, fixed before any result) adds the common rates; the literal reading, the
  same models without any Dropout layer, is registered beside each of them as
  `<name>_nodropout` (same layers otherwise, same parameter counts: Dropout has none), and
  both readings are run and reported.
* The 6x6x128 map becomes a sequence of 36 steps of 128 features, one step per spatial
  position, as in Özer's Figure 4 (§3.5.1: "treat those features as a sequence").
* LSTM width 128 (per direction for the BiLSTM). Note that CNN+LSTM (one LSTM of 128)
  against CNN+BiLSTM (2 x 128) changes width as well as direction: Table 3's 62 -> 72 %
  cannot be credited to bidirectionality alone.
* Attention (§4, after Kumar et al. 2023): standard additive (Bahdanau-style) attention
  pooling over the 36 BiLSTM outputs: a Dense(128, tanh) projection per step, a linear
  Dense(1) score, softmax over the steps, weighted sum (see its builder).
* ResNet-50, DenseNet-121 and MobileNetV2 are Keras' own builders, trained from scratch
  (weights=None) on (48, 48, 1): the paper does not say it used ImageNet weights, and those
  need 3 channels and a download. Our head: global average pooling and Dense softmax 7.
  Their counts follow from Keras' published no-top totals at 3 channels (ResNet-50
  23,587,712; DenseNet-121 7,037,504; MobileNetV2 2,257,984) minus the first convolution's
  weights for the two missing input channels, plus the 7-way head (see each docstring).

All take pixels scaled to [0, 1] (no Rescaling layer): §3.3 keeps "all input values within a
small, consistent range".
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import get_spec, register_model

ASHOK = "Ashok (CNN + Bi-LSTM)"
NOT_PUBLISHED = "ours: the paper prints no layer summary"
TRUNK_FILTERS = (32, 64, 128)
NO_DROPOUT = "_nodropout"  # name suffix of the literal (no-dropout) reading


def _trunk(dropout: bool) -> list:
    """Three Conv2D/BatchNorm/MaxPool(/Dropout) blocks; (48, 48, 1) -> (6, 6, 128)."""
    out = []
    for i, filters in enumerate(TRUNK_FILTERS, start=1):
        out += [layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}"),
                layers.BatchNormalization(name=f"bn{i}"),
                layers.MaxPooling2D(name=f"pool{i}")]
        if dropout:
            out.append(layers.Dropout(0.25, name=f"dropout{i}"))
    return out


def _sequence():
    """The trunk's map as a sequence: one step per spatial position (-1: any input size)."""
    return layers.Reshape((-1, TRUNK_FILTERS[-1]), name="to_sequence")


def _head(num_classes: int, dropout: bool) -> list:
    return ([layers.Dropout(0.5, name="dropout_head")] if dropout else []) + [
        layers.Dense(num_classes, activation="softmax", name="predictions")]


def _name(name: str, dropout: bool) -> str:
    """Without dropout the model is the `_nodropout` reading (see the module docstring)."""
    return name if dropout else f"{name}{NO_DROPOUT}"


def _stack(name: str, input_shape, body: list, num_classes: int, dropout: bool):
    """A plain stack: input, trunk, `body` (the layers between the trunk and the head), head."""
    return keras.Sequential([keras.Input(shape=tuple(input_shape), name="input"),
                             *_trunk(dropout), *body, *_head(num_classes, dropout)],
                            name=_name(name, dropout))


@register_model("ashok_cnn", source=f"{ASHOK}, Table 3 'CNN' (56 %)", expected_params=684_423,
                params_source=NOT_PUBLISHED, input_shape=(48, 48, 1))
def build_ashok_cnn(input_shape=(48, 48, 1), num_classes: int = 7,
                    dropout: bool = True) -> keras.Model:
    """Trunk, Flatten (4,608), Dense 128 ReLU, Dropout 0.5, Dense softmax.

    93,568 (trunk) + 589,952 (dense) + 903 (predictions) = 684,423 parameters.
    """
    return _stack("ashok_cnn", input_shape, [
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
    ], num_classes, dropout)


@register_model("ashok_cnn_lstm", source=f"{ASHOK}, Table 3 'CNN+LSTM' (62 %)",
                expected_params=226_055, params_source=NOT_PUBLISHED, input_shape=(48, 48, 1))
def build_ashok_cnn_lstm(input_shape=(48, 48, 1), num_classes: int = 7,
                         dropout: bool = True) -> keras.Model:
    """Trunk, 36 steps of 128, LSTM 128, Dropout 0.5, Dense softmax.

    93,568 + 131,584 (LSTM: 4 x (128 + 128 + 1) x 128) + 903 = 226,055 parameters.
    """
    return _stack("ashok_cnn_lstm", input_shape, [_sequence(), layers.LSTM(128, name="lstm")],
                  num_classes, dropout)


@register_model("ashok_cnn_bilstm", source=f"{ASHOK}, Table 3 'CNN+BI-LSTM' (72 %, proposed)",
                expected_params=358_535, params_source=NOT_PUBLISHED, input_shape=(48, 48, 1))
def build_ashok_cnn_bilstm(input_shape=(48, 48, 1), num_classes: int = 7,
                           dropout: bool = True) -> keras.Model:
    """The proposed model: trunk, 36 steps of 128, BiLSTM 2 x 128, Dropout 0.5, softmax.

    93,568 + 263,168 (two LSTMs of 131,584) + 1,799 (256 x 7 + 7) = 358,535 parameters.
    """
    return _stack("ashok_cnn_bilstm", input_shape, [
        _sequence(), layers.Bidirectional(layers.LSTM(128), name="bilstm")], num_classes, dropout)


@register_model("ashok_cnn_bilstm_attention",
                source=f"{ASHOK}, Table 3 'CNN+BI-LSTM+ATTENTION' (66 %)",
                expected_params=391_560, params_source=NOT_PUBLISHED, input_shape=(48, 48, 1))
def build_ashok_cnn_bilstm_attention(input_shape=(48, 48, 1), num_classes: int = 7,
                                     dropout: bool = True) -> keras.Model:
    """Trunk, 36 steps, BiLSTM 2 x 128 returning every step, additive attention pooling,
    Dropout 0.5, softmax. Functional, not a stack: the context reads the BiLSTM outputs twice
    (for the scores and for the weighted sum).

    Attention: u_t = tanh(W h_t + b) with W 256 -> 128 (ASSUMPTION: the projection width is
    not given; 128 is the LSTM width per direction), score e_t = v . u_t + c (linear),
    a = softmax over the 36 steps, context = sum_t a_t h_t.

    Why not our first reading, Dense(1, activation="tanh") as the score: scores in [-1, 1]
    over 36 steps cap every weight at e / (e + 35 / e) = 0.174, so the "attention" could never
    move far from uniform average pooling. The linear score has no such cap.

    358,535 + 32,896 (projection: 256 x 128 + 128) + 129 (score: 128 + 1) = 391,560
    parameters.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    seq = inputs
    for layer in [*_trunk(dropout), _sequence(),
                  layers.Bidirectional(layers.LSTM(128, return_sequences=True), name="bilstm")]:
        seq = layer(seq)
    hidden = layers.Dense(128, activation="tanh", name="attention_projection")(seq)
    score = layers.Dense(1, name="attention_score")(hidden)
    weights = layers.Softmax(axis=1, name="attention_weights")(score)
    context = layers.Dot(axes=1, name="attention_context")([weights, seq])  # (None, 1, 256)
    x = layers.Flatten(name="context")(context)
    for layer in _head(num_classes, dropout):
        x = layer(x)
    return keras.Model(inputs, x, name=_name("ashok_cnn_bilstm_attention", dropout))


def _register_no_dropout(builder) -> None:
    """Register `builder`'s literal reading, without any Dropout layer, as `<name>_nodropout`:
    the paper names batch normalisation (§3.6) and no dropout. Same source, same layer names
    otherwise, same parameter count (Dropout has no weights)."""
    spec = get_spec(builder.__name__.removeprefix("build_"))

    def build(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
        return builder(input_shape, num_classes, dropout=False)

    build.__name__ = build.__qualname__ = f"{builder.__name__}{NO_DROPOUT}"
    build.__doc__ = (f"{spec.name} without its Dropout layers (the paper names none, §3.6): "
                     f"the same {spec.expected_params:,} parameters.")
    register_model(f"{spec.name}{NO_DROPOUT}", source=f"{spec.source}, no-dropout reading",
                   expected_params=spec.expected_params, params_source=NOT_PUBLISHED,
                   input_shape=spec.input_shape)(build)


for _builder in (build_ashok_cnn, build_ashok_cnn_lstm, build_ashok_cnn_bilstm,
                 build_ashok_cnn_bilstm_attention):
    _register_no_dropout(_builder)


def _application(name: str, builder, input_shape, num_classes: int) -> keras.Model:
    """A Keras application from scratch, our global-average-pooling + softmax head."""
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    base = builder(include_top=False, weights=None, input_tensor=inputs, pooling=None)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("ashok_resnet50", source=f"{ASHOK}, Table 3 'RESNET-50' (48 %)",
                expected_params=23_595_783, params_source="Keras ResNet50 (no top), 1 channel, "
                "7-way head", input_shape=(48, 48, 1))
def build_ashok_resnet50(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """keras.applications.ResNet50 from scratch. 23,587,712 - 6,272 (7 x 7 x 2 x 64 first-conv
    weights of the two missing channels) + 14,343 (2,048 x 7 + 7) = 23,595,783 parameters."""
    return _application("ashok_resnet50", keras.applications.ResNet50, input_shape, num_classes)


@register_model("ashok_densenet121", source=f"{ASHOK}, Table 3 'DENSENET-121' (58 %)",
                expected_params=7_038_407, params_source="Keras DenseNet121 (no top), 1 channel, "
                "7-way head", input_shape=(48, 48, 1))
def build_ashok_densenet121(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """keras.applications.DenseNet121 from scratch. 7,037,504 - 6,272 (7 x 7 x 2 x 64) +
    7,175 (1,024 x 7 + 7) = 7,038,407 parameters."""
    return _application("ashok_densenet121", keras.applications.DenseNet121, input_shape,
                        num_classes)


@register_model("ashok_mobilenetv2", source=f"{ASHOK}, Table 3 'MOBILENETV2' (54 %)",
                expected_params=2_266_375, params_source="Keras MobileNetV2 (no top, alpha 1), "
                "1 channel, 7-way head", input_shape=(48, 48, 1))
def build_ashok_mobilenetv2(input_shape=(48, 48, 1), num_classes: int = 7) -> keras.Model:
    """keras.applications.MobileNetV2 (alpha 1.0) from scratch. 2,257,984 - 576 (3 x 3 x 2 x 32)
    + 8,967 (1,280 x 7 + 7) = 2,266,375 parameters."""
    return _application("ashok_mobilenetv2", keras.applications.MobileNetV2, input_shape,
                        num_classes)
