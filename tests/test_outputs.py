"""Commands never delete or overwrite what they did not create (issue #35, findings 1 and 2):
an existing export path and annotated copies that would land on an input or on a user's file
are refused in one line before anything is written; --overwrite replaces only what the
command itself wrote before."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from fer_keras.models import create_model
from fer_keras.models.inference import inference_model

ROOT = Path(__file__).parents[1]
CLI = [sys.executable, "-m", "fer_keras.cli"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("m")
    keras.utils.set_random_seed(0)
    inference_model(create_model("ozer_cnn_lstm")).save(folder / "model.keras")
    (folder / "inference.json").write_text(json.dumps({"preprocess": None}))
    return folder


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _cli(*args, cwd=ROOT):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("fmt", ["saved_model", "onnx"])
def test_export_refuses_an_existing_path_it_did_not_make(model, tmp_path, fmt):
    users = tmp_path / ("photos" if fmt == "saved_model" else "notes.onnx")
    if fmt == "saved_model":
        users.mkdir()
        (users / "holiday.jpg").write_bytes(b"precious")
    else:
        users.write_bytes(b"precious")
    before = _tree(tmp_path)
    for extra in ((), ("--overwrite",)):  # not even with --overwrite: it is not an export
        res = _cli("export", model, "--format", fmt, "--out", users, *extra)
        assert res.returncode == 2, res.stderr
        assert res.stderr.strip() == (f"error: {users}: already exists and is not an export "
                                      "made by fer-keras; expected a new path for --out "
                                      "(nothing was changed)")
    assert _tree(tmp_path) == before


def test_export_refuses_the_model_folder_itself(model):
    before = _tree(model)
    res = _cli("export", model, "--out", model)
    assert res.returncode == 2 and "already exists and is not an export" in res.stderr
    assert _tree(model) == before


def test_an_earlier_export_is_replaced_only_with_overwrite(model, tmp_path):
    from fer_keras.export import ExportError, export

    out = tmp_path / "exported.onnx"
    export(model, "onnx", out)
    with pytest.raises(ExportError, match="an earlier export.*--overwrite"):
        export(model, "onnx", out)
    r = export(model, "onnx", out, overwrite=True)
    from fer_keras.provenance import sha256_file

    side = json.loads((tmp_path / "exported.onnx.json").read_text())["export"]
    assert r["same_top_class"] and side["sha256"] == sha256_file(out) == r["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported.onnx", "exported.onnx.json"]


def _face(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    return path


def test_predict_never_writes_over_an_input(model, tmp_path):
    photos = tmp_path / "photos"
    _face(photos / "a.png", 0), _face(photos / "b.jpg", 1)
    before = _tree(photos)
    res = _cli("predict", model, "photos", "--out", ".", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: photos/a.png: is one of the inputs")
    assert _tree(photos) == before


def test_predict_mirrors_relative_paths_so_names_never_collide(model, tmp_path):
    _face(tmp_path / "a" / "x.jpg", 0), _face(tmp_path / "b" / "x.jpg", 1)
    _face(tmp_path / "a" / "x.png", 2)
    res = _cli("predict", model, "a", "b", "--out", "ann", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(_tree(tmp_path / "ann")) == [".fer-keras-predict.json", "a/x.jpg.png",
                                               "a/x.png.png", "b/x.png"]
    # a second run: the files predict wrote are kept unless --overwrite
    res = _cli("predict", model, "a", "b", "--out", "ann", cwd=tmp_path)
    assert res.returncode == 2 and "--overwrite" in res.stderr
    res = _cli("predict", model, "a", "b", "--out", "ann", "--overwrite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_predict_refuses_a_users_file_at_a_target(model, tmp_path):
    _face(tmp_path / "x.jpg", 0)
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "x.png").write_bytes(b"mine")
    for extra in ((), ("--overwrite",)):
        res = _cli("predict", model, "x.jpg", "--out", "ann", *extra, cwd=tmp_path)
        assert res.returncode == 2 and "was not written by fer-keras predict" in res.stderr
    assert (tmp_path / "ann" / "x.png").read_bytes() == b"mine"


def test_two_absolute_inputs_of_one_name_are_refused(model, tmp_path):
    a, b = _face(tmp_path / "a" / "x.jpg", 0), _face(tmp_path / "b" / "x.jpg", 1)
    res = _cli("predict", model, a, b, "--out", tmp_path / "ann")
    assert res.returncode == 2 and "both would be annotated as" in res.stderr
    assert not (tmp_path / "ann").exists() or not any((tmp_path / "ann").iterdir())
