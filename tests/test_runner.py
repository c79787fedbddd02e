"""End-to-end runner tests on the embedded sample (slow: they train small models)."""

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_keras.data import load
from fer_keras.data.errors import DataError
from fer_keras.train.config import load_config
from fer_keras.train.diagnostics import blur_check
from fer_keras.train.runner import Cell, RunOptions, cells, plan_cell, run_cell, run_experiment

ROOT = Path(__file__).parents[1]
OZER = ROOT / "experiments" / "ozer.py"
pytestmark = pytest.mark.slow
CELL_FILES = {"config.json", "manifest.json", "split.npz", "history.csv", "best.keras",
              "examples.npz", "validation.npz",
              "predictions.npz", "metrics.json", "activity.json", "done.json"}


def _opts(sample, out, **kw):
    images, csv_path = sample
    return RunOptions(data=images, csv=csv_path, out=out, **kw)


def test_tiny_factorial_writes_every_file(sample, tmp_path):
    cfg = load_config(OZER, ["seeds=0", "max_epochs=1"])
    results = run_experiment(cfg, _opts(sample, tmp_path / "run"))
    rows = list(csv.DictReader(open(results)))
    assert [(r["format"], r["model"]) for r in rows] == [
        ("csv", "ozer_cnn"), ("csv", "ozer_cnn_lstm"),
        ("directory", "ozer_cnn"), ("directory", "ozer_cnn_lstm")]
    images, csv_path = sample
    n_dir, n_csv = len(load(images, subset="train")), len(load(csv_path))
    for cell in cells(cfg):
        folder = cell.folder(tmp_path / "run")
        assert CELL_FILES <= {p.name for p in folder.iterdir()}, folder
        man = json.loads((folder / "manifest.json").read_text())
        n = n_dir if cell.format == "directory" else n_csv
        assert man["data"]["n"] == n
        assert man["split"]["train"] == int(np.floor(0.8 * n + 1e-9))
        assert man["input"]["raw_pixels"] == (cell.model == "ozer_cnn")
        assert man["input"]["channels"] == (3 if cell.model == "ozer_cnn" else 1)
        assert len(man["model_sha256"]) == 64 and man["git_commit"]
        assert man["git_commit"].endswith("-dirty") == bool(man["git_dirty_files"])
        pred = np.load(folder / "predictions.npz")
        split = np.load(folder / "split.npz")
        assert np.array_equal(pred["indices"], split["test"])
        assert pred["probs"].shape == (split["test"].size, 7)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["n"] == split["test"].size
        assert set(np.intersect1d(split["train"], split["test"])) == set()
        activity = json.loads((folder / "activity.json").read_text())
        assert activity["images"] == min(64, split["test"].size)  # the example images
        assert activity["layers"]  # both models have ReLU layers
    # the directory format holds train/ only; the CSV all rows
    assert n_dir < n_csv


def test_rerun_skips_finished_cells(sample, tmp_path, capsys):
    cfg = load_config(OZER, ["seeds=0", "max_epochs=1", "formats=csv", "models=ozer_cnn"])
    run_experiment(cfg, _opts(sample, tmp_path / "run"))
    folder = tmp_path / "run/csv-ozer_cnn/seed-0"
    before = (folder / "done.json").read_text()
    quality = json.loads((folder / "quality.json").read_text())
    split = np.load(folder / "split.npz")
    assert {k: q["n"] for k, q in quality["parts"].items()} == {
        k: split[k].size for k in ("train", "val", "test")}
    # one population, randomly split: no shift reported
    assert quality["shifts"] == []
    # each test image's original FER-2013 part is recorded with the predictions
    pred = dict(np.load(folder / "predictions.npz"))
    data = load(sample[1])
    assert np.array_equal(pred["usage"], data.usage[split["test"]])
    assert set(pred["usage"]) == {"Training", "PublicTest", "PrivateTest"}
    # a cell finished before quality.json and the usage existed gets them when the run
    # reuses the cell
    (folder / "quality.json").unlink()
    (folder / "split.npz").unlink()  # as in a report's committed copy of the cell
    np.savez(folder / "predictions.npz", **{k: v for k, v in pred.items() if k != "usage"})
    done = json.loads((folder / "done.json").read_text())
    del done["files"]  # such a cell recorded no SHA-256 of its files either
    (folder / "done.json").write_text(json.dumps(done))
    before = (folder / "done.json").read_text()
    capsys.readouterr()
    run_experiment(cfg, _opts(sample, tmp_path / "run"))
    out = capsys.readouterr().out
    assert "already done with the same config, data and model; reused" in out
    assert "image quality of its split recorded (quality.json)" in out
    assert "original FER-2013 part of each test image recorded (predictions.npz)" in out
    assert json.loads((folder / "quality.json").read_text()) == quality
    restored = dict(np.load(folder / "predictions.npz"))
    assert restored.keys() == pred.keys()
    for key, value in pred.items():
        assert np.array_equal(restored[key], value), key
    assert (folder / "done.json").read_text() == before
    # predictions that name other test images are refused, never silently given a usage
    np.savez(folder / "predictions.npz", **{k: v[::-1] if k == "indices" else v
                                            for k, v in pred.items() if k != "usage"})
    with pytest.raises(DataError, match="test indices differ from the split"):
        run_experiment(cfg, _opts(sample, tmp_path / "run"))


def test_same_seed_gives_identical_metrics(sample, tmp_path):
    cfg = load_config(OZER, ["max_epochs=2"])
    data = load(sample[1])
    cell = Cell("csv", "ozer_cnn_lstm", 0)
    a, b = (run_cell(plan_cell(cfg, cell, data, opts), opts)
            for opts in (_opts(sample, tmp_path / "a"), _opts(sample, tmp_path / "b")))
    assert a == b


def test_test_labels_never_influence_training_or_selection(sample, tmp_path):
    """Shuffled test labels: same training history, same selected model; only the score moves."""
    cfg = load_config(OZER, ["max_epochs=3"])
    data = load(sample[1])
    cell = Cell("csv", "ozer_cnn", 0)
    opts = _opts(sample, tmp_path / "true")
    run_cell(plan_cell(cfg, cell, data, opts), opts)
    test_idx = np.load(tmp_path / "true/csv-ozer_cnn/seed-0/split.npz")["test"]
    shuffled = np.random.default_rng(9).permutation(data.labels[test_idx])
    opts = _opts(sample, tmp_path / "shuffled")
    run_cell(plan_cell(cfg, cell, data, opts), opts, test_labels=shuffled)
    a, b = (tmp_path / d / "csv-ozer_cnn/seed-0" for d in ("true", "shuffled"))
    assert (a / "history.csv").read_text() == (b / "history.csv").read_text()
    pa, pb = np.load(a / "predictions.npz"), np.load(b / "predictions.npz")
    np.testing.assert_array_equal(pa["probs"], pb["probs"])
    assert not np.array_equal(pa["labels"], pb["labels"])


MIRRORED = """
import json, sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
from fer_keras.train.config import load_config
from fer_keras.data import load
from fer_keras.train.runner import Cell, RunOptions, plan_cell, run_cell
images, csv_path, out, ozer = sys.argv[1:]
cfg = load_config(ozer, ["max_epochs=1"])
opts = RunOptions(data=Path(images), csv=Path(csv_path), out=Path(out), strategy="mirrored")
m = run_cell(plan_cell(cfg, Cell("csv", "ozer_cnn", 0), load(csv_path), opts), opts)
man = json.loads((Path(out) / "csv-ozer_cnn/seed-0/manifest.json").read_text())
print(json.dumps({"replicas": man["replicas"], "accuracy": m["accuracy"]}))
"""


def test_mirrored_strategy_on_two_logical_cpus(sample, tmp_path):
    images, csv_path = sample
    res = subprocess.run([sys.executable, "-c", MIRRORED, str(images), str(csv_path),
                          str(tmp_path / "m"), str(OZER)], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and 0 <= out["accuracy"] <= 1


def test_shards_partition_the_cells():
    cfg = load_config(OZER, ["seeds=0,1,2"])
    everything = cells(cfg)
    parts = [cells(cfg, (i, 3)) for i in range(3)]
    assert sorted(sum(parts, []), key=everything.index) == everything
    assert len(everything) == 12 and all(len(p) == 4 for p in parts)


def test_a_runs_models_and_seeds_narrow_its_variants():
    ashok = ROOT / "experiments" / "ashok.py"

    def variant_cells(*overrides):
        return [(c.model, c.seed) for c in cells(load_config(ashok, list(overrides)))
                if c.variant]

    assert variant_cells() == [("ashok_cnn_bilstm", s) for s in (0, 1, 2)]
    assert variant_cells("models=ashok_cnn,ashok_cnn_bilstm", "seeds=0") == [
        ("ashok_cnn_bilstm", 0)]
    assert variant_cells("seeds=1,2") == [("ashok_cnn_bilstm", 1), ("ashok_cnn_bilstm", 2)]
    # the backbones' run (with its own epoch cap) has no variant cell to collide with
    assert variant_cells("models=ashok_resnet50,ashok_mobilenetv2", "max_epochs=15") == []
    emotionnet = load_config(ROOT / "experiments" / "emotionnet.py", ["seeds=1,2"])
    assert {c.variant for c in cells(emotionnet)} == {"", "no-preprocessing"}  # classwise: 0


def test_a_split_without_validation_is_refused(sample, tmp_path):
    from fer_keras.data import DataError
    from fer_keras.train.config import ConfigError

    for split in ("80/20", "folders"):  # refused with the config, before any data is read
        with pytest.raises(ConfigError, match=f"split={split} has no validation part"):
            load_config(OZER, [f"split={split}"])
    # and by the runner, for a config built without validate()
    cfg = dataclasses.replace(load_config(OZER, ["max_epochs=1"]), split="80/20")
    with pytest.raises(DataError, match="no validation part"):
        plan_cell(cfg, Cell("csv", "ozer_cnn", 0), load(sample[1]), _opts(sample, tmp_path))


def test_official_split_trains_on_training_and_scores_private_test(sample, tmp_path):
    cfg = load_config(OZER, ["split=official", "max_epochs=1", "formats=csv",
                             "models=ozer_cnn", "seeds=0"])
    run_experiment(cfg, _opts(sample, tmp_path / "o"))
    data = load(sample[1])
    split = np.load(tmp_path / "o/csv-ozer_cnn/seed-0/split.npz")
    assert set(data.usage[split["train"]]) == {"Training"}
    assert set(data.usage[split["val"]]) == {"PublicTest"}
    assert set(data.usage[split["test"]]) == {"PrivateTest"}
    # both parts scored as they are and mirrored, by the saved model itself (validation.npz;
    # predictions.npz): flip averaging and ensembles are judged from the run folder alone
    import keras

    from fer_keras.models.inference import as_input

    folder = tmp_path / "o/csv-ozer_cnn/seed-0"
    model = keras.models.load_model(folder / "model.keras", compile=False)
    val, pred = np.load(folder / "validation.npz"), np.load(folder / "predictions.npz")
    for z, part in ((val, "val"), (pred, "test")):
        assert np.array_equal(z["indices"], split[part])
        x = as_input(data.images[split[part]])
        np.testing.assert_allclose(z["probs"], model.predict(x, verbose=0), atol=1e-5)
        np.testing.assert_allclose(z["probs_flipped"], model.predict(x[:, :, ::-1], verbose=0),
                                   atol=1e-5)
        assert not np.allclose(z["probs"], z["probs_flipped"])
    assert np.array_equal(val["labels"], data.labels[split["val"]])


def test_no_data_message_and_exit_2(capsys, monkeypatch):
    from fer_keras.cli import main

    monkeypatch.delenv("FER2013_DIR", raising=False)
    assert main(["run", str(OZER)]) == 2
    err = capsys.readouterr().err
    assert "No FER-2013 data given" in err and "make demo" in err and "emotion,pixels,Usage" in err


MIXED = """
import json, sys
from pathlib import Path
from fer_keras.train.config import load_config
from fer_keras.train.runner import RunOptions, run_experiment
import keras
images, csv_path, out, ozer = sys.argv[1:]
cfg = load_config(ozer, ["max_epochs=1", "formats=csv", "models=ozer_cnn", "seeds=0"])
run_experiment(cfg, RunOptions(data=Path(images), csv=Path(csv_path), out=Path(out),
                               mixed_precision=True))
print(keras.mixed_precision.dtype_policy().name)
"""


def test_mixed_precision_option(sample, tmp_path):
    images, csv_path = sample
    res = subprocess.run([sys.executable, "-c", MIXED, str(images), str(csv_path),
                          str(tmp_path / "mp"), str(OZER)], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "mixed_float16"
    folder = tmp_path / "mp/csv-ozer_cnn/seed-0"
    assert json.loads((folder / "manifest.json").read_text())["mixed_precision"] is True
    probs = np.load(folder / "predictions.npz")["probs"]
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-2)


def test_multiworker_strategy_runs_as_a_single_worker(sample, tmp_path):
    """Without TF_CONFIG, MultiWorkerMirroredStrategy is one local worker: the code path runs."""
    images, csv_path = sample
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                    str(images), "--csv", str(csv_path), "--out", str(tmp_path / "mw"),
                    "--strategy", "multiworker", "formats=csv", "models=ozer_cnn,ozer_cnn_lstm",
                    "seeds=0", "max_epochs=1"], cwd=ROOT, check=True, capture_output=True, env=env)
    for model in ("ozer_cnn", "ozer_cnn_lstm"):
        man = json.loads((tmp_path / f"mw/csv-{model}/seed-0/manifest.json").read_text())
        assert man["strategy"] == "multiworker" and man["replicas"] == 1


def test_blur_check_reproduces_the_test_accuracy_at_sigma_0(sample, tmp_path, capsys):
    cfg = load_config(OZER, ["seeds=0", "max_epochs=1", "formats=csv", "models=ozer_cnn_lstm"])
    opts = _opts(sample, tmp_path / "run")
    run_experiment(cfg, opts)
    path = blur_check(cfg, opts, (0.0, 3.0))
    rows = list(csv.DictReader(open(path)))
    assert [(r["cell"], r["seed"], float(r["sigma"])) for r in rows] == [
        ("csv-ozer_cnn_lstm", "0", 0.0), ("csv-ozer_cnn_lstm", "0", 3.0)]
    metrics = json.loads((tmp_path / "run/csv-ozer_cnn_lstm/seed-0/metrics.json").read_text())
    assert float(rows[0]["accuracy"]) == pytest.approx(metrics["accuracy"], abs=1e-9)
    assert "blur sigma 3 px, test accuracy" in capsys.readouterr().out


def test_dirty_files_are_named_from_git_status():
    from fer_keras.core.provenance import dirty_files

    assert dirty_files(" M README.md\nM  fer_keras/train/runner.py\n\n") == [
        "README.md", "fer_keras/train/runner.py"]
    assert dirty_files("") == []
