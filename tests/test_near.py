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
