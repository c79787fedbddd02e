"""Near-copies across FER-2013's parts (fer_keras.data.near), on hand-made images whose
distances are known."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_keras.data.dataset import FerData
from fer_keras.data.near import near_copies, nearest

ROOT = Path(__file__).parents[1]


def images(*values) -> np.ndarray:
    return np.stack([np.asarray(v, np.uint8).reshape(48, 48, 1) for v in values])


def hand_made():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (48, 48))
    references = images(np.zeros((48, 48)), np.full((48, 48), 100), noise)
    one_pixel = noise.copy()
    one_pixel[0, 0] = (one_pixel[0, 0] + 48) % 256 if one_pixel[0, 0] < 208 else \
        one_pixel[0, 0] - 48
    queries = images(np.full((48, 48), 101),  # 1 grey level from the 100s everywhere: RMS 1
                     one_pixel,  # one pixel of 2,304 off by 48: RMS sqrt(48^2 / 2304) = 1
                     np.full((48, 48), 30))  # 30 from the zeros, 70 from the 100s: RMS 30
    return references, queries


def test_the_nearest_image_and_its_rms_distance_are_exact():
    references, queries = hand_made()
    distance, index = nearest(queries, references, block=2)  # blocks of 2: a block boundary
    assert index.tolist() == [1, 2, 0]
    assert distance == pytest.approx([1.0, 1.0, 30.0], abs=1e-9)


def test_near_copies_of_one_part_in_another_with_the_threshold():
    references, queries = hand_made()
    data = FerData(images=np.concatenate([references, queries]), labels=np.zeros(6, np.int64),
                   sources=np.array([f"img{i}" for i in range(6)]),
                   usage=np.array(["Training"] * 3 + ["PrivateTest"] * 3))
    found = near_copies(data)
    assert (found["images"], found["near"], found["threshold"]) == (3, 2, 2.0)
    assert [(c["index"], c["nearest"], c["rms"]) for c in found["copies"]] == [(3, 1, 1.0),
                                                                               (4, 2, 1.0)]
    assert near_copies(data, threshold=0.5)["near"] == 0
    assert near_copies(data, threshold=30.0)["near"] == 3  # at the threshold counts
    with pytest.raises(ValueError, match="expected images of both 'PublicTest' and"):
        near_copies(data, part="PublicTest")


def test_the_command_writes_a_new_list_and_never_replaces_one(sample, tmp_path):
    out = tmp_path / "near.json"
    cmd = [sys.executable, "-m", "fer_keras.cli", "data", "near-copies", str(sample[1]),
           "--json", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    found = json.loads(out.read_text())
    assert res.stdout.startswith(f"{found['near']} of {found['images']} PrivateTest images")
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert again.stderr.startswith(f"error: {out}: already exists")


def test_the_report_scores_each_cell_with_and_without_the_near_copies(tmp_path):
    """Hand-made runs: the listed test images come out of the second figure, by hand."""
    from fer_keras.reports import build_report

    from .fake_runs import write_fake_runs

    runs = write_fake_runs(tmp_path / "runs", seeds=(0,))
    folder = runs / "csv-ozer_cnn" / "seed-0"
    z = np.load(folder / "predictions.npz")
    listed = z["indices"][:10]  # ten of its test images have a near-copy
    (runs / "near-copies.json").write_text(json.dumps({
        "data_fingerprint": "f" * 64, "threshold": 2.0, "part": "PrivateTest",
        "of": "Training", "images": 150, "near": 10,
        "copies": [{"index": int(i), "rms": 1.0} for i in listed]}))
    index = build_report(runs, tmp_path / "report")
    rows = {r["cell"]: r for r in json.loads(
        (index.parent / "summary.json").read_text())["without_near_copies"]["rows"]}
    right = z["probs"].argmax(1) == z["labels"]
    assert rows["csv/ozer_cnn"]["all"]["mean"] == pytest.approx(right.mean() * 100)
    assert rows["csv/ozer_cnn"]["clean"]["mean"] == pytest.approx(right[10:].mean() * 100)
    assert rows["csv/ozer_cnn"]["images"] == [[140, 150]]
    assert 'id="near-copies"' in index.read_text()
    assert (index.parent / "runs" / "near-copies.json").exists()  # kept with the runs
