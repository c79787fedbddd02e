import json

import cv2
import numpy as np
import pytest

from fer_keras.cli import main
from fer_keras.data.audit import audit, render
from fer_keras.data.dataset import FerData


def _data():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 48, 48, 1), dtype=np.uint8)
    imgs[1] = imgs[0]  # duplicate within Training
    imgs[4] = imgs[2]  # duplicate across Training / PrivateTest, other label
    imgs[5] = 7  # constant
    return FerData(imgs, np.array([0, 0, 3, 4, 6, 2]), np.array([f"f{i}" for i in range(6)]),
                   np.array(["Training"] * 4 + ["PrivateTest"] * 2))


def test_audit_finds_duplicates_leakage_conflicts_and_blanks():
    r = audit(_data())
    assert r["counts"]["Training"]["total"] == 4 and r["counts"]["PrivateTest"]["neutral"] == 1
    assert r["duplicate_groups"] == 2
    assert r["extra_copies_within_split"] == {"Training": 1}
    assert r["groups_spanning_splits"] == {"PrivateTest & Training": 1}
    assert r["groups_with_conflicting_labels"] == 1
    assert r["constant_images"] == 1 and r["constant_examples"] == ["f5"]


def test_audit_cli_writes_json_and_examples(tmp_path, sample, capsys):
    _, csv_path = sample
    out, png = tmp_path / "audit.json", tmp_path / "examples.png"
    assert main(["data", "audit", str(csv_path), "--json", str(out), "--examples", str(png)]) == 0
    text = capsys.readouterr().out
    assert "exact-duplicate groups: 0" in text and "image quality per split" in text
    report = json.loads(out.read_text())
    assert set(report["quality"]) == {"Training", "PublicTest", "PrivateTest"}
    # one row per split, 12 images of 48 x 48 enlarged twice
    assert cv2.imread(str(png), cv2.IMREAD_GRAYSCALE).shape == (3 * 96, 12 * 96)


def test_sharpness_and_contrast_on_hand_checked_images():
    from fer_keras.data.audit import contrast, sharpness
    dot = np.zeros((1, 48, 48, 1), np.uint8)
    dot[0, 24, 24, 0] = 1
    # OpenCV's 3x3 Laplacian of a unit impulse: -4 at the pixel, +1 at its four neighbours,
    # 0 elsewhere; mean 0, so the variance is (16 + 4 x 1) / 2304.
    assert sharpness(dot)[0] == pytest.approx(20 / 2304)
    flat = np.full((1, 48, 48, 1), 90, np.uint8)
    assert sharpness(flat)[0] == 0 and contrast(flat)[0] == 0
    halves = np.zeros((1, 48, 48, 1), np.uint8)
    halves[0, :, 24:] = 255
    assert contrast(halves)[0] == pytest.approx(127.5)


def _split_data(blur_training: bool) -> FerData:
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (40, 48, 48, 1), dtype=np.uint8)
    if blur_training:
        for i in range(20):
            imgs[i, ..., 0] = cv2.GaussianBlur(imgs[i, ..., 0], (0, 0), 3)
    return FerData(imgs, np.arange(40) % 7, np.array([f"f{i}" for i in range(40)]),
                   np.array(["Training"] * 20 + ["PublicTest"] * 20))


def test_audit_flags_a_blurred_split_and_only_then():
    r = audit(_split_data(blur_training=True))
    q = r["quality"]
    assert q["Training"]["n"] == 20 and q["PublicTest"]["n"] == 20
    assert q["Training"]["sharpness_median"] * 4 < q["PublicTest"]["sharpness_median"]
    [warning] = r["quality_shifts"]
    assert warning.startswith("PublicTest and Training differ in sharpness")
    assert "the Training images are much blurrier" in warning
    assert "WARNING: PublicTest and Training" in render(r)
    clean = audit(_split_data(blur_training=False))
    assert clean["quality_shifts"] == []
    assert "splits agree in sharpness" in render(clean)
