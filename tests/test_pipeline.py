import keras
import numpy as np
import pytest
from keras import layers

from fer_keras.data.augment import AugmentConfig, build_augmenter
from fer_keras.data.pipeline import EpochClock, InputSpec, make_dataset
from fer_keras.models import create_model, expects_raw_pixels, list_models

WHITE = np.full((4, 48, 48, 1), 255, np.uint8)
LABELS = np.array([0, 3, 6, 2])


def _first_batch(spec, **kw):
    x, y = next(iter(make_dataset(WHITE, LABELS, spec, batch_size=4, training=False, **kw)))
    return x.numpy(), y.numpy()


@pytest.mark.parametrize("name", list_models())
def test_no_model_sees_pixels_scaled_twice_or_not_at_all(name):
    """What reaches the first layer after any Rescaling has white = 1.0 (in [0, 1]; mini-Xception
    scales to [-1, 1] as its original does)."""
    model = create_model(name)
    spec = InputSpec(int(model.input_shape[-1]), expects_raw_pixels(model))
    x, _ = _first_batch(spec)
    assert x.shape[1:] == model.input_shape[1:]
    rescaling = next((ly for ly in model.layers if isinstance(ly, layers.Rescaling)), None)
    seen = rescaling(x) if expects_raw_pixels(model) else x
    np.testing.assert_allclose(np.asarray(seen), 1.0, rtol=1e-6)
    if expects_raw_pixels(model):  # and black is 0 (or -1 for mini-Xception)
        black = np.asarray(rescaling(np.zeros_like(x)))
        np.testing.assert_allclose(black, -1.0 if name == "mini_xception" else 0.0, atol=1e-6)


def test_ozer_cnn_gets_raw_pixels_and_the_lstm_gets_unit_scale():
    assert expects_raw_pixels(create_model("ozer_cnn"))
    assert not expects_raw_pixels(create_model("ozer_cnn_lstm"))
    assert _first_batch(InputSpec(3, True))[0].max() == 255.0
    assert _first_batch(InputSpec(1, False))[0].max() == 1.0


def test_grey_to_rgb_repeats_and_labels_are_one_hot():
    grey = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    x, y = next(iter(make_dataset(grey, LABELS, InputSpec(3, True), batch_size=4,
                                  training=False)))
    x = x.numpy()
    assert x.shape == (4, 48, 48, 3)
    assert (x[..., 0] == grey[..., 0]).all() and (x[..., 2] == grey[..., 0]).all()
    assert y.numpy().argmax(1).tolist() == LABELS.tolist() and y.shape == (4, 7)


def test_rgb_to_grey():
    rgb = np.repeat(np.arange(4 * 48 * 48, dtype=np.uint32).reshape(4, 48, 48, 1) % 256, 3, -1)
    x, _ = next(iter(make_dataset(rgb.astype(np.uint8), LABELS, InputSpec(1, True),
                                  batch_size=4, training=False)))
    np.testing.assert_allclose(x.numpy()[..., 0], rgb[..., 0], atol=1e-4)


def test_evaluation_data_keeps_order_and_is_never_augmented():
    imgs = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1), dtype=np.uint8)
    aug = AugmentConfig(rotation_deg=30, horizontal_flip=True, noise_std=0.5)
    ds = make_dataset(imgs, np.arange(8) % 7, InputSpec(1, False), batch_size=8, training=False,
                      augment=aug)
    x, y = next(iter(ds))
    np.testing.assert_allclose(x.numpy(), imgs / 255.0, rtol=1e-6)
    assert y.numpy().argmax(1).tolist() == (np.arange(8) % 7).tolist()


def test_training_data_is_augmented_when_configured():
    imgs = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1), dtype=np.uint8)
    ds = make_dataset(imgs, np.zeros(8, int), InputSpec(1, False), batch_size=8, training=True,
                      clock=EpochClock(0), augment=AugmentConfig(noise_std=0.2))
    x, _ = next(iter(ds))
    plain = np.sort((imgs / 255.0).ravel())
    assert not np.allclose(np.sort(x.numpy().ravel()), plain, atol=1e-3)


def test_augmenter_has_the_configured_named_layers():
    cfg = AugmentConfig(rotation_deg=15, horizontal_flip=True, zoom=0.1, shift=0.1, shear=0.1,
                        brightness=0.1, contrast=0.1, noise_std=0.01)
    aug = build_augmenter(cfg, (0.0, 1.0))
    assert [ly.name for ly in aug.layers] == ["aug_rotation", "aug_flip", "aug_zoom",
                                               "aug_shift", "aug_shear", "aug_brightness",
                                               "aug_contrast", "aug_noise"]
    assert aug.layers[0].factor == pytest.approx((-15 / 360, 15 / 360))
    assert build_augmenter(AugmentConfig(), (0.0, 1.0)) is None
    out = aug(np.random.default_rng(0).uniform(0, 1, (2, 48, 48, 1)).astype("float32"),
              training=True)
    assert tuple(out.shape) == (2, 48, 48, 1)
    assert isinstance(aug, keras.Sequential)


def test_tf_data_autotuning_is_off_with_fixed_parallelism():
    """AUTOTUNE made every epoch wait after its last batch (pipeline.py); it must stay off."""
    from fer_keras.data import pipeline

    for training in (True, False):
        ds = make_dataset(WHITE, LABELS, InputSpec(1, False), batch_size=2, training=training,
                          clock=EpochClock(0))
        assert ds.options().autotune.enabled is False
    assert pipeline.PARALLEL_CALLS >= 1 and pipeline.PREFETCH_BATCHES == 2


def test_functional_model_with_rescaling_after_its_input_expects_raw_pixels():
    inputs = keras.Input((48, 48, 1), name="input")
    x = keras.layers.Rescaling(1 / 255, name="rescaling")(inputs)
    outputs = keras.layers.Dense(7, activation="softmax", name="out")(
        keras.layers.Flatten(name="flatten")(x))
    assert expects_raw_pixels(keras.Model(inputs, outputs))
    assert not expects_raw_pixels(create_model("emotionnet_pp"))


def test_crop_augmentation_is_a_named_random_crop_resized_back():
    aug = build_augmenter(AugmentConfig(crop=0.1), (0.0, 1.0), seed=0, size=(48, 48))
    assert [ly.name for ly in aug.layers] == ["aug_crop", "aug_crop_resize"]
    assert (aug.layers[0].height, aug.layers[0].width) == (43, 43)  # round(0.9 x 48)
    x = np.random.default_rng(0).uniform(0, 1, (4, 48, 48, 1)).astype("float32")
    out = keras.ops.convert_to_numpy(aug(x, training=True))
    assert out.shape == (4, 48, 48, 1) and not np.allclose(out, x)
