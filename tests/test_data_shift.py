"""The guard against a damaged copy: a run refuses, before the first epoch, to train on
training images that differ in sharpness from the test images (as FER-2013's blurred train/
did), unless told to with --allow-data-shift; then every cell's manifest says so."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_keras.data import load
from fer_keras.data.audit import data_shift, source_shifts
from fer_keras.data.splits import split_indices

ROOT = Path(__file__).parents[1]
OZER = ROOT / "experiments" / "ozer.py"
# all images of the export (train/ and test/): a random split then mixes both parts
ARGS = ["formats=directory", "directory_subset=all", "models=ozer_cnn", "seeds=0"]


@pytest.fixture(scope="module")
def blurred(sample, tmp_path_factory):
    """The sample with every train/ image blurred as our damaged FER-2013 copy was (Gaussian,
    sigma 3 px), test/ untouched."""
    root = tmp_path_factory.mktemp("blurred") / "images"
    shutil.copytree(sample[0], root)
    for path in (root / "train").rglob("*.png"):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(path), cv2.GaussianBlur(image, (0, 0), 3))
    return root


def _run(data, out, *extra):
    return subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                           str(data), "--out", str(out), *ARGS, *extra], cwd=ROOT,
                          capture_output=True, text=True)


def test_a_blurred_training_part_is_refused_in_one_line(blurred, tmp_path):
    res = _run(blurred, tmp_path / "run", "--dry-run")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {blurred}: directory data, seed 0: ")
    # both figures, which part is blurred, and the way forward
    assert "differ in sharpness by a factor of" in lines[0]
    assert "the Training images are much blurrier" in lines[0]
    assert "median Laplacian variance" in lines[0] and "--allow-data-shift" in lines[0]
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize("protocol", [
    ["formats=directory", "directory_subset=train"],  # Özer's: train/ alone, split 80/10/10
    ["formats=csv", "csv_subset=Training"],  # one Usage part of the CSV built from the root
])
def test_a_protocol_that_never_loads_test_is_refused_all_the_same(blurred, tmp_path, protocol):
    """Its training, validation and test parts all come from the blurred train/, so they
    agree; the data root's train/ and test/ folders do not (issue #61)."""
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", str(OZER), "--data",
                          str(blurred), "--out", str(tmp_path / "run"), "models=ozer_cnn",
                          "seeds=0", *protocol, "--dry-run"], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {blurred}: ")
    assert "train/ folder and test/ folder differ in sharpness" in lines[0]
    assert "the train/ folder images are much blurrier" in lines[0]
    assert "--allow-data-shift" in lines[0]


def test_clean_data_passes_the_guard(sample, tmp_path):
    res = _run(sample[0], tmp_path / "run", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "directory-ozer_cnn" in res.stdout


@pytest.mark.slow
def test_the_flag_lets_it_train_and_the_manifest_says_so(blurred, tmp_path):
    res = _run(blurred, tmp_path / "run", "--allow-data-shift", "max_epochs=1", "--jobs", "1")
    assert res.returncode == 0, res.stderr
    man = json.loads((tmp_path / "run/directory-ozer_cnn/seed-0/manifest.json").read_text())
    assert man["data_shift"]["allowed"] is True
    assert man["data_shift"]["shifts"] and "much blurrier" in man["data_shift"]["shifts"][0]
    # and the report says so, in the red warning box
    from fer_keras.reports import build_report

    html = build_report(tmp_path / "run", tmp_path / "report").read_text()
    assert '<div class="warn"><p><strong>Trained with <code>--allow-data-shift</code>' in html
    assert man["data_shift"]["shifts"][0] in html


def test_the_guard_looks_at_fer2013s_own_parts_when_a_split_mixes_them(blurred):
    """A random split of every image has blurred images on both sides: its training and test
    parts agree, but FER-2013's Training and PublicTest/PrivateTest parts do not."""
    data = load(blurred)
    split = split_indices(data.labels, "80/10/10", 0)
    shifts = data_shift(data, split)
    assert shifts and all("Training" in s for s in shifts)
    assert not any(s.startswith("training part and test part") for s in shifts)


@pytest.mark.real_data
def test_the_repaired_fer2013_passes_the_guard(fer2013_dir):
    data = load(fer2013_dir)
    assert len(data) == 35_887 and set(np.unique(data.usage)) == {
        "Training", "PublicTest", "PrivateTest"}
    assert data_shift(data, split_indices(data.labels, "80/10/10", 0)) == []
    assert source_shifts(fer2013_dir) == []  # its train/ and test/ folders agree
