"""Cells side by side (`run --jobs N`): each cell trains with the config's threads (pinned, part
of its identity), so its numbers do not depend on how many cells train at once, nor on
whether it trains in this process or in a worker process."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import pytest

from fer_keras.train.config import ConfigError, load_config
from fer_keras.train.runner import RunOptions, run_experiment

ROOT = Path(__file__).parents[1]
OZER = ROOT / "experiments" / "ozer.py"
# files whose bytes hold a time or a zip's dates; their content is compared below instead
TIMED = {"manifest.json", "done.json", "best.keras", "model.keras", "inference.json"}


def _run(sample, out, jobs):
    images, csv_path = sample
    cfg = load_config(OZER, ["formats=csv", "models=ozer_cnn,ozer_cnn_lstm", "seeds=0",
                             "max_epochs=2"])
    return run_experiment(cfg, RunOptions(data=images, csv=csv_path, out=out, jobs=jobs))


def _weights(path: Path) -> dict:
    """Every array in a .keras file's weights, by its path in the HDF5 file (the file's bytes
    also hold object addresses that may differ between identical saves)."""
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as h5:
        arrays = {}
        h5.visititems(lambda name, obj: arrays.__setitem__(name, obj[()].tobytes())
                      if isinstance(obj, h5py.Dataset) else None)
        return arrays


@pytest.mark.slow
def test_one_job_and_two_jobs_give_identical_cells(sample, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _run(sample, one, jobs=1)  # both cells in this process, one after the other
    _run(sample, two, jobs=2)  # both at once, each in a worker process
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file()
                   and "_data" not in p.parts)
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file()
                           and "_data" not in p.parts)
    compared = 0
    for rel in files:
        a, b = one / rel, two / rel
        if rel.name not in TIMED:
            assert a.read_bytes() == b.read_bytes(), rel
            compared += 1
    assert compared >= 2 * 9  # history, predictions, metrics, ... of both cells, and aggregates
    for cell in ("csv-ozer_cnn/seed-0", "csv-ozer_cnn_lstm/seed-0"):
        for name in ("best.keras", "model.keras"):
            w1, w2 = _weights(one / cell / name), _weights(two / cell / name)
            assert len(w1) >= 6 and w1 == w2, (cell, name)
        man1, man2 = (json.loads((r / cell / "manifest.json").read_text()) for r in (one, two))
        assert man1["threads"] == man2["threads"] == {"intra_op": 1, "inter_op": 1}
        assert man1["one_face_ms"] > 0 and man2["one_face_ms"] > 0  # timed, so never compared
        config = json.loads((one / cell / "config.json").read_text())
        assert config["identity"]["training"]["threads"] == 1


def test_threads_are_part_of_the_identity_and_checked():
    cfg = load_config(OZER)
    assert cfg.threads == 1 and cfg.training_config()["threads"] == 1
    other = load_config(OZER, ["threads=2"])
    assert other.training_hash() != cfg.training_hash()
    with pytest.raises(ConfigError, match="threads=0: expected an integer >= 1"):
        load_config(OZER, ["threads=0"])


def test_jobs_option_is_checked_in_one_line(sample, tmp_path):
    images, csv_path = sample
    for extra, expected in ((["--jobs", "0"], "error: --jobs 0: expected an integer >= 1"),
                            (["--jobs", "2", "--strategy", "mirrored"],
                             "error: --jobs 2 with --strategy mirrored")):
        res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", str(OZER),
                              "--data", str(images), "--out", str(tmp_path / "r"), *extra],
                             cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 2 and res.stderr.startswith(expected), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_default_jobs_fill_the_cores_at_the_configs_threads(monkeypatch):
    from argparse import Namespace

    from fer_keras.cli import train as train_cli

    monkeypatch.setattr(train_cli, "available_cores", lambda: 8)
    default = Namespace(jobs=None, strategy="default")
    assert [train_cli._jobs(default, t) for t in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert train_cli._jobs(Namespace(jobs=None, strategy="mirrored"), 1) == 1
    assert train_cli._jobs(Namespace(jobs=3, strategy="default"), 2) == 3  # given: as given
