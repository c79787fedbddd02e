"""The public API at the top of the package (#64): `from fer_keras import Predictor,
top_emotion, create_model` works, each name is the wing's own object, and importing the
package alone loads no TensorFlow."""

import subprocess
import sys

import pytest


def test_the_package_alone_loads_no_tensorflow():
    code = ("import sys, fer_keras; print(sorted(m for m in ('tensorflow', 'keras', "
            "'fer_keras.use.predict', 'fer_keras.models') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_public_names_are_the_wings_own():
    from fer_keras import Predictor, create_model, list_models, top_emotion
    from fer_keras.models.registry import create_model as registry_create
    from fer_keras.use.predict import Predictor as UsePredictor
    from fer_keras.use.predict import top_emotion as use_top

    assert (Predictor, top_emotion, create_model) == (UsePredictor, use_top, registry_create)
    assert "ozer_cnn_lstm" in list_models()
    import fer_keras

    assert set(fer_keras.__all__) == {"Predictor", "top_emotion", "create_model", "list_models"}
    assert set(fer_keras.__all__) <= set(dir(fer_keras))


def test_create_model_builds_the_registered_architecture():
    from fer_keras import create_model
    from fer_keras.models import get_spec
    from fer_keras.models.summary import count_params

    model = create_model("xu_cnn")
    assert count_params(model) == get_spec("xu_cnn").expected_params
    assert tuple(model.input_shape[1:3]) == (48, 48)


def test_an_unknown_name_is_an_attribute_error():
    import fer_keras

    with pytest.raises(AttributeError, match="no attribute 'predictor'"):
        fer_keras.predictor  # noqa: B018
