"""Every registered model, checked the moment it is registered (parametrised over the registry)."""

import functools
import importlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from fer_keras.models import create_model, get_spec, list_models
from fer_keras.models.ozer import build_ozer_cnn
from fer_keras.models.summary import count_params, signature, signatures, summary_rows
from tests.published import published_rows, row_diff

MODELS = list_models()
ROOT = Path(__file__).parents[1]
# models that must branch (attention reads its BiLSTM twice; residual and dense connections)
FUNCTIONAL = {"ashok_cnn_bilstm_attention", "ashok_cnn_bilstm_attention_nodropout",
              "ashok_resnet50", "ashok_densenet121", "ashok_mobilenetv2", "mini_xception"}
PUBLISHED = [m for m in MODELS if get_spec(m).params_published]


@functools.cache
def built(name: str) -> keras.Model:
    """One build per model for the read-only checks (DenseNet-121 takes seconds to build)."""
    return create_model(name)


def test_the_papers_models_are_registered():
    assert set(MODELS) == {
        "ozer_cnn", "ozer_cnn_lstm",
        "ashok_cnn", "ashok_cnn_lstm", "ashok_cnn_bilstm", "ashok_cnn_bilstm_attention",
        "ashok_resnet50", "ashok_densenet121", "ashok_mobilenetv2",
        "ashok_cnn_nodropout", "ashok_cnn_lstm_nodropout", "ashok_cnn_bilstm_nodropout",
        "ashok_cnn_bilstm_attention_nodropout",  # the literal (no-dropout) reading
        "emotionnet_pp", "emotionnet_pp_seq4", "emotionnet_cnn", "emotionnet_cnn_gru",
        "wasey_cnn_lstm", "wasey_cnn_lstm_paper", "wasey_cnn", "xu_cnn", "xu_rnn_lstm",
        "ozer_cnn_grey", "mini_xception",  # the reachability study's reading and control
    }


@pytest.mark.parametrize("name", MODELS)
def test_parameter_count_is_the_expected_one(name):
    """Published counts (Özer) or hand-derived ones written in the builder's docstring."""
    assert count_params(built(name)) == get_spec(name).expected_params


@pytest.mark.parametrize("name", MODELS)
def test_a_count_is_called_published_only_when_the_paper_prints_its_table(name):
    spec = get_spec(name)
    assert spec.params_published == (published_rows(name) is not None)
    if not spec.params_published:  # the derivation is written down where the model is built
        module = importlib.import_module(spec.builder.__module__)
        assert f"{spec.expected_params:,}" in (spec.builder.__doc__ or "") + module.__doc__


@pytest.mark.parametrize("name", PUBLISHED)
def test_every_row_equals_the_published_table(name):
    expected = published_rows(name)
    assert expected is not None, f"{name} claims a published count: add its table in tests/data"
    diff = row_diff(expected, summary_rows(built(name)))
    assert not diff, f"{name} differs from its published summary:\n" + "\n".join(diff)


def test_published_totals_match_the_tables():
    assert sum(r.params for r in published_rows("ozer_cnn")) == 319_527
    assert sum(r.params for r in published_rows("ozer_cnn_lstm")) == 232_967


def test_a_changed_layer_is_reported_by_row():
    """The row comparison names the row that differs (here: Dense 128 -> 129)."""
    mutated = keras.Sequential(
        [keras.Input((48, 48, 3)), *[ly for ly in build_ozer_cnn().layers[:-2]],
         layers.Dense(129, activation="relu", name="dense"),
         layers.Dense(7, activation="softmax", name="dense_1")])
    diff = row_diff(published_rows("ozer_cnn"), summary_rows(mutated))
    assert diff[0].startswith("row 9: paper dense (Dense) (None, 128) 295,040")
    assert "built dense (Dense) (None, 129) 297,345" in diff[0]
    assert diff[1].startswith("row 10:")


@pytest.mark.parametrize("name", MODELS)
def test_output_is_a_softmax_over_7_classes(name):
    model = built(name)
    assert model.output_shape == (None, 7)
    x = np.random.default_rng(0).uniform(0, 255, (4, *model.input_shape[1:])).astype("float32")
    if not isinstance(model.layers[0], layers.Rescaling):
        x /= 255.0
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p >= 0).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("value", [0.0, 255.0])
def test_no_nan_on_constant_batches(name, value):
    model = built(name)
    p = model.predict(np.full((2, *model.input_shape[1:]), value, "float32"), verbose=0)
    assert np.isfinite(p).all()


@pytest.mark.parametrize("name", MODELS)
def test_save_and_reload_gives_identical_predictions(name, tmp_path):
    model = built(name)
    x = np.random.default_rng(1).uniform(0, 1, (3, *model.input_shape[1:])).astype("float32")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_is_named_after_the_paper(name):
    expected = published_rows(name)
    names = [ly.name for ly in built(name).layers]
    assert len(set(names)) == len(names)
    if expected is not None:
        assert names == [r.layer for r in expected]


def test_builders_take_input_shape_and_num_classes():
    cnn = create_model("ozer_cnn", input_shape=(48, 48, 1), num_classes=5)
    assert cnn.input_shape == (None, 48, 48, 1) and cnn.output_shape == (None, 5)
    lstm = create_model("ozer_cnn_lstm", input_shape=(64, 64, 3))
    # 64 -> 62 -> 31 -> 29 -> 14 -> 12 -> 6: 36 steps of 128 features
    assert lstm.get_layer("reshape").output.shape[1:] == (36, 128)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(KeyError) as e:
        create_model("resnet_9000")
    assert "unknown model 'resnet_9000'" in str(e.value)
    assert "ozer_cnn" in str(e.value) and "ozer_cnn_lstm" in str(e.value)


def test_registering_a_name_twice_is_refused():
    from fer_keras.models import register_model

    with pytest.raises(ValueError, match="already registered"):
        register_model("ozer_cnn", source="x", expected_params=1, input_shape=(48, 48, 1))(
            lambda **k: None)


def test_ashok_sequence_models_read_36_steps_of_128():
    for name in ("ashok_cnn_lstm", "ashok_cnn_bilstm", "ashok_cnn_bilstm_attention"):
        model = create_model(name)
        assert model.get_layer("pool3").output.shape[1:] == (6, 6, 128)
        assert model.get_layer("to_sequence").output.shape[1:] == (36, 128)
    bilstm = create_model("ashok_cnn_bilstm").get_layer("bilstm")
    assert bilstm.output.shape[1:] == (256,)


def test_ashok_attention_weights_are_a_distribution_over_the_36_steps():
    keras.utils.set_random_seed(0)  # the weights below are drawn: not left to test order
    model = create_model("ashok_cnn_bilstm_attention")
    probe = keras.Model(model.input, model.get_layer("attention_weights").output)
    w = probe.predict(np.random.default_rng(0).uniform(0, 1, (2, 48, 48, 1)), verbose=0)
    assert w.shape == (2, 36, 1)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    # the standard additive form: tanh projection, then a LINEAR score (a tanh score would cap
    # every weight at e / (e + 35 / e) = 0.174 over 36 steps)
    assert model.get_layer("attention_projection").units == 128
    assert model.get_layer("attention_projection").activation.__name__ == "tanh"
    score = model.get_layer("attention_score")
    assert score.units == 1 and score.activation.__name__ == "linear"
    # with a large enough score one step can take almost all the weight
    seq = model.get_layer("bilstm").output
    probe = keras.Model(model.input, [seq, model.get_layer("attention_weights").output])
    score.set_weights([np.full((128, 1), 50.0, np.float32), np.zeros(1, np.float32)])
    _, w = probe.predict(np.random.default_rng(1).uniform(0, 1, (2, 48, 48, 1)), verbose=0)
    assert w.max() > 0.174


@pytest.mark.parametrize("name", ["ashok_cnn", "ashok_cnn_lstm", "ashok_cnn_bilstm",
                                  "ashok_cnn_bilstm_attention"])
def test_ashok_no_dropout_reading_is_the_same_model_without_its_dropout_layers(name):
    first, literal = built(name), built(f"{name}_nodropout")
    assert literal.name == f"{name}_nodropout"
    dropouts = [ly for ly in first.layers if isinstance(ly, layers.Dropout)]
    assert [(ly.name, ly.rate) for ly in dropouts] == [
        ("dropout1", 0.25), ("dropout2", 0.25), ("dropout3", 0.25), ("dropout_head", 0.5)]
    assert not any(isinstance(ly, layers.Dropout) for ly in literal.layers)
    kept = [(ly.name, type(ly).__name__) for ly in first.layers if ly not in dropouts]
    assert [(ly.name, type(ly).__name__) for ly in literal.layers] == kept
    assert count_params(literal) == count_params(first) == get_spec(name).expected_params
    assert get_spec(f"{name}_nodropout").source == f"{get_spec(name).source}, no-dropout reading"


@pytest.mark.parametrize("name,first_conv", [
    ("ashok_resnet50", "conv1_conv"), ("ashok_densenet121", "conv1_conv"),
    ("ashok_mobilenetv2", "Conv1"),
])
def test_applications_are_grey_input_from_scratch_with_our_head(name, first_conv):
    model = create_model(name)
    assert model.get_layer(first_conv).kernel.shape[2] == 1  # one input channel
    assert [ly.name for ly in model.layers[-2:]] == ["avg_pool", "predictions"]


def test_emotionnet_pp_sequence_has_one_step_at_48x48():
    """Five 2x2 poolings: 48 -> 24 -> 12 -> 6 -> 3 -> 1, so the LSTMs see ONE step (docstring)."""
    model = create_model("emotionnet_pp")
    sizes = [model.get_layer(f"pool{i}").output.shape[1] for i in range(1, 6)]
    assert sizes == [24, 12, 6, 3, 1]
    assert model.get_layer("to_sequence").output.shape[1:] == (1, 256)
    assert [model.get_layer(f"dropout{i}").rate for i in range(1, 6)] == [0.3, 0.3, 0.4, 0.4, 0.5]
    assert model.get_layer("lstm1").units == 128 and model.get_layer("lstm2").units == 64
    # on larger frames the sequence is longer: 96 -> 3x3 = 9 steps
    big = create_model("emotionnet_pp", input_shape=(96, 96, 1))
    assert big.get_layer("to_sequence").output.shape[1:] == (9, 256)


def test_emotionnet_pp_seq4_reads_four_steps_with_the_same_weights():
    """'same' pooling: 48 -> 24 -> 12 -> 6 -> 3 -> 2, a 2x2 map read as 4 steps."""
    model = built("emotionnet_pp_seq4")
    sizes = [model.get_layer(f"pool{i}").output.shape[1] for i in range(1, 6)]
    assert sizes == [24, 12, 6, 3, 2]
    assert model.get_layer("to_sequence").output.shape[1:] == (4, 256)
    one_step = built("emotionnet_pp")
    assert [w.shape for w in model.weights] == [w.shape for w in one_step.weights]


def test_emotionnet_baselines_change_only_the_head():
    """CNN-only: the LSTMs become dense layers of the same widths; CNN-GRU: GRUs."""
    pp, cnn, gru = (built(n) for n in ("emotionnet_pp", "emotionnet_cnn", "emotionnet_cnn_gru"))
    trunk = [ly.name for ly in pp.layers if not ly.name.startswith(("to_sequence", "lstm",
                                                                     "dropout_lstm"))][:-1]
    for model in (cnn, gru):
        assert [ly.name for ly in model.layers[:len(trunk)]] == trunk
        assert model.get_layer("predictions").units == 7
    assert [cnn.get_layer(n).units for n in ("dense1", "dense2")] == [128, 64]
    assert [type(gru.get_layer(n)).__name__ for n in ("gru1", "gru2")] == ["GRU", "GRU"]
    assert [gru.get_layer(n).units for n in ("gru1", "gru2")] == [128, 64]
    assert not any(type(ly).__name__ in ("LSTM", "GRU") for ly in cnn.layers)


def test_wasey_lstm_reads_one_step_and_xu_lstm_reads_the_rows():
    assert built("wasey_cnn_lstm").get_layer("reshape").output.shape[1:] == (1, 4096)
    paper = built("wasey_cnn_lstm_paper")
    assert [type(ly).__name__ for ly in paper.layers[:4]] == [
        "Conv2D", "BatchNormalization", "MaxPooling2D", "Dropout"]  # §7's block order
    assert paper.get_layer("block_dropout").rate == 0.25
    cnn = built("wasey_cnn")
    assert not any(type(ly).__name__ == "LSTM" for ly in cnn.layers)
    assert cnn.get_layer("dense_hidden").units == 128
    assert built("xu_rnn_lstm").get_layer("rows").output.shape[1:] == (48, 48)


def test_mini_xception_regularises_only_the_kernels_keras_2_regularised():
    # face_classification passes kernel_regularizer to its SeparableConv2D layers too, but
    # Keras 2 ignored it there; only the two first Conv2D kernels carried L2 0.01.
    model = create_model("mini_xception")
    regularised = sorted(layer.name for layer in model.layers
                         if getattr(layer, "kernel_regularizer", None) is not None
                         or getattr(layer, "depthwise_regularizer", None) is not None
                         or getattr(layer, "pointwise_regularizer", None) is not None)
    assert regularised == ["conv1", "conv2"]
    kernels = [model.get_layer(n).kernel for n in regularised]
    expected = sum(0.01 * float(np.sum(np.square(k.numpy()))) for k in kernels)
    model(np.zeros((1, 48, 48, 1), "float32"))
    assert len(model.losses) == 2
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_plain_stacks_are_sequential(name):
    """The house rule: keras.Sequential wherever the architecture is a plain stack."""
    assert isinstance(built(name), keras.Sequential) == (name not in FUNCTIONAL)


def _two_denses():
    return [layers.Flatten(name="flatten"), layers.Dense(4, activation="relu", name="d1"),
            layers.Dense(7, activation="softmax", name="d2")]


def test_a_stack_has_one_signature_built_either_way():
    """Sequential or functional, the same layers are the same computation: one signature (the
    input layer is not a row), and the older form (with it) also agrees; another layer, or
    another input shape, is another signature."""
    seq = keras.Sequential([keras.Input((8, 8, 1)), *_two_denses()])
    x = inputs = keras.Input((8, 8, 1))
    for layer in _two_denses():
        x = layer(x)
    func = keras.Model(inputs, x)
    assert signatures(seq) == signatures(func)
    assert signatures(seq)[0] != signatures(seq)[1]
    wider = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),
                              layers.Dense(5, activation="relu"), layers.Dense(7)])
    assert signature(wider) != signature(seq)
    assert signature(keras.Sequential([keras.Input((8, 9, 1)), *_two_denses()])) != \
        signature(seq)


COMMITTED = sorted(ROOT.glob("reports/*/runs/*/seed-*/config.json"))


@pytest.mark.parametrize("config", COMMITTED, ids=lambda p: str(p.relative_to(ROOT / "reports")))
def test_every_committed_cell_is_the_registered_model(config):
    """Each committed reference cell recorded a signature (current or older form) of the model
    registered under its name today, so the runner reuses it instead of refusing it."""
    done = json.loads((config.parent / "done.json").read_text())
    model = json.loads(config.read_text())["cell"]["model"]
    assert done["identity"]["model_signature"] in signatures(built(model))
