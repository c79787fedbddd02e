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
    from fer_keras.use.export import ExportError, export

    out = tmp_path / "exported.onnx"
    export(model, "onnx", out)
    with pytest.raises(ExportError, match="an earlier export.*--overwrite"):
        export(model, "onnx", out)
    r = export(model, "onnx", out, overwrite=True)
    from fer_keras.core.provenance import sha256_file

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
    assert sorted(_tree(tmp_path / "ann")) == [".fer-keras-outputs.json", "a/x.jpg.png",
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


# ---------------------------------------------------------------------------------------
# Never destroy, part two (issue #62): report, index, data sample, publish and predict
# replace only what they wrote (fer_keras.core.outputs); config mistakes end in one line.


def _fake_runs(root: Path) -> Path:
    from tests.fake_runs import write_fake_runs

    return write_fake_runs(root, seeds=(0,))


def test_a_report_never_deletes_the_run_folder_it_reads_from_below_its_output(tmp_path):
    """`fer-keras report runs/ozer --out .` once deleted all of ./runs, models and other runs
    included, and printed success."""
    work = tmp_path / "w"
    _fake_runs(work / "runs" / "ozer")
    _fake_runs(work / "runs" / "other")
    (work / "runs" / "ozer" / "csv-ozer_cnn" / "seed-0" / "model.keras").write_bytes(b"m")
    before = _tree(work)
    res = _cli("report", "runs/ozer", "--out", ".", cwd=work)
    assert res.returncode == 2 and res.stderr.strip() == (
        "error: runs/ozer: lies inside the report's folder .; expected --out apart from the run "
        "folder, or the report's own folder to rebuild it from its runs/ copy (nothing was "
        "changed)")
    assert _tree(work) == before


def test_a_report_replaces_only_what_a_report_wrote(tmp_path):
    from fer_keras.core.outputs import MARKER
    from fer_keras.reports import build_report

    runs = _fake_runs(tmp_path / "runs")
    out = tmp_path / "rep"
    (out / "cards").mkdir(parents=True)
    (out / "cards" / "mine.md").write_text("my notes")
    (out / "runs" / "theirs").mkdir(parents=True)
    (out / "runs" / "theirs" / "keep.txt").write_text("a user's run")
    (out / "index.html").write_text("my page")
    before = _tree(out)
    res = _cli("report", runs, "--out", out)
    assert res.returncode == 2 and res.stderr.strip() == (
        f"error: {out / 'index.html'}: already exists and fer-keras did not write it (or it "
        "changed since); expected a new output folder, or --overwrite to replace it (nothing "
        "was changed)")
    assert _tree(out) == before and not any(p.name.endswith(".tmp") for p in out.iterdir())
    # --overwrite replaces the page in the way; the user's other files stay
    assert _cli("report", runs, "--out", out, "--overwrite").returncode == 0
    assert (out / "cards" / "mine.md").read_text() == "my notes"
    assert (out / "runs" / "theirs" / "keep.txt").read_text() == "a user's run"
    assert "<!DOCTYPE html>" in (out / "index.html").read_text()
    # written again from the report's own copy: nothing of the copy goes, every file is its own
    copy = _tree(out / "runs")
    build_report(out / "runs", out)
    assert _tree(out / "runs") == copy
    # a page edited since is the user's now: refused again
    (out / "summary.json").write_text("{}")
    with pytest.raises(Exception, match="summary.json: already exists and fer-keras did not"):
        build_report(runs, out)
    assert json.loads((out / MARKER).read_text())["files"]["index.html"]["by"] == "report"


def test_a_link_in_the_output_is_never_followed(tmp_path):
    from fer_keras.core.outputs import OutputError, staged

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "cards").symlink_to(outside)
    with pytest.raises(OutputError, match="cards: is a link; expected a plain folder"):
        with staged(out, "report") as stage:
            (stage / "cards").mkdir()
            (stage / "cards" / "a.txt").write_text("new")
    assert (outside / "a.txt").read_text() == "precious"
    (out / "cards").unlink()
    (out / "index.html").symlink_to(outside / "a.txt")  # a link where a file goes
    with staged(out, "report", overwrite=True) as stage:
        (stage / "index.html").write_text("page")
    assert (outside / "a.txt").read_text() == "precious"  # the link was replaced, not followed
    assert not (out / "index.html").is_symlink() and (out / "index.html").read_text() == "page"


def test_the_sample_is_never_written_over_a_users_data(tmp_path):
    data = tmp_path / "mydata"
    (data / "images" / "train" / "happy").mkdir(parents=True)
    (data / "images" / "train" / "happy" / "me.png").write_bytes(b"my face")
    (data / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    before = _tree(data)
    res = _cli("data", "sample", data, "--n", "70")
    assert res.returncode == 2 and res.stderr.startswith(f"error: {data / 'fer2013.csv'}: "
                                                         "already exists and fer-keras did not")
    assert _tree(data) == before
    # a sample it wrote is replaced by another (its own files only)
    fresh = tmp_path / "sample"
    assert _cli("data", "sample", fresh, "--n", "70").returncode == 0
    (fresh / "notes.txt").write_text("mine")
    assert _cli("data", "sample", fresh, "--n", "140", "--seed", "1").returncode == 0
    assert (fresh / "notes.txt").read_text() == "mine"
    clean = tmp_path / "clean"
    assert _cli("data", "sample", clean, "--n", "140", "--seed", "1").returncode == 0
    assert _tree(fresh / "images") == _tree(clean / "images")  # the first sample's are gone
    assert not (fresh / ".complete-n70-seed0").exists()


def test_predict_overwrite_never_writes_through_a_link(model, tmp_path):
    _face(tmp_path / "x.jpg", 0)
    assert _cli("predict", model, "x.jpg", "--out", "ann", cwd=tmp_path).returncode == 0
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"precious")
    (tmp_path / "ann" / "x.png").unlink()
    (tmp_path / "ann" / "x.png").symlink_to(outside)
    res = _cli("predict", model, "x.jpg", "--out", "ann", "--overwrite", cwd=tmp_path)
    assert res.returncode == 2 and "was not written by fer-keras predict" in res.stderr
    assert outside.read_bytes() == b"precious"


def test_predict_writes_under_names_that_are_not_utf8(model, tmp_path):
    """OpenCV crashed (exit 139) on an --out path it could not encode."""
    import os

    odd = os.fsdecode(b"caf\xe9")
    folder = tmp_path / odd
    _face(tmp_path / "x.jpg", 0)
    os.rename(tmp_path / "x.jpg", tmp_path / (odd + ".jpg"))
    res = subprocess.run([*CLI, "predict", str(model), odd + ".jpg", "--out", str(folder)],
                         capture_output=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr[-2000:]
    written = folder / (odd + ".png")
    assert cv2.imdecode(np.fromfile(os.fsencode(written), np.uint8), 0).shape[:2] == (48, 48)


@pytest.mark.parametrize("line,expected", [
    ("CONFIG = ExperimentConfig(name='a', models=undefined_name)",
     "NameError: name 'undefined_name' is not defined"),
    ("import no_such_module_here", "ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("CONFIG = ExperimentConfig(name='a', seeds=1 / 0)", "ZeroDivisionError: division by zero"),
    ("CONFIG = ExperimentConfig(name='a', epochs=3)",
     "TypeError: ExperimentConfig.__init__() got an unexpected keyword argument 'epochs'; "
     "expected CONFIG = ExperimentConfig(...) with the keys of "
     "fer_keras.train.config.ExperimentConfig"),
    ("CONFIG = ExperimentConfig(name='a'", "not valid Python ("),
])
def test_any_mistake_inside_a_config_is_one_line_naming_its_line(tmp_path, line, expected):
    config = tmp_path / "mine.py"
    config.write_text(f"from fer_keras.train.config import ExperimentConfig\n\n{line}\n")
    for cmd in (("run", config, "--dry-run"), ("reproduce", config, "--dry-run")):
        res = _cli(*cmd)
        assert res.returncode == 2, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
        assert res.stderr.startswith(f"error: {config}:3: {expected}"), res.stderr


def test_single_file_outputs_are_replaced_only_with_overwrite(tmp_path):
    from fer_keras.data.synthetic import write_sample

    images, _ = write_sample(tmp_path / "s", n=70)
    target = tmp_path / "mine.csv"
    target.write_text("precious")
    for cmd in (("data", "to-csv", images, target), ("data", "audit", images, "--json", target)):
        res = _cli(*cmd)
        assert res.returncode == 2 and res.stderr.strip() == (
            f"error: {target}: already exists; expected a new file for "
            f"{'the CSV' if cmd[1] == 'to-csv' else 'the audit' + chr(39) + 's JSON'}, or "
            "--overwrite to replace it (nothing was changed)")
        assert target.read_text() == "precious"
    assert _cli("data", "to-csv", images, target, "--overwrite").returncode == 0
    assert target.read_text().startswith("emotion,pixels,Usage\n")


def test_an_override_without_equals_is_one_line():
    res = _cli("run", ROOT / "experiments" / "xu.py", "--dry-run", "seeds")
    assert res.returncode == 2 and res.stderr.strip() == (
        "error: 'seeds': overrides are written key=value (e.g. seeds=0,1)")


def test_publish_never_replaces_a_model_or_card_it_did_not_write(tmp_path):
    from fer_keras.core.outputs import OutputError
    from fer_keras.use.publish import publish
    from tests.fake_runs import reseal, write_fake_runs

    runs = write_fake_runs(tmp_path / "runs", seeds=(0,))
    keras.utils.set_random_seed(0)
    tiny = inference_model(create_model("xu_rnn_lstm"))
    for cell in runs.glob("*/seed-0"):
        tiny.save(cell / "model.keras")
    reseal(runs)
    out = tmp_path / "models"
    mine = out / "csv-ozer_cnn" / "model.keras"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"a user's model")
    with pytest.raises(OutputError, match="csv-ozer_cnn/model.keras: already exists and "
                                          "fer-keras did not write it"):
        publish(runs, out)
    assert mine.read_bytes() == b"a user's model" and sorted(_tree(out)) == [
        "csv-ozer_cnn/model.keras"]  # nothing of any cell was written
    mine.unlink()
    assert len(publish(runs, out)) == 4
    again = _tree(out)
    assert len(publish(runs, out)) == 4 and _tree(out) == again  # its own: the same again
    (out / "csv-ozer_cnn" / "inference.json").write_text("{}")  # edited since
    with pytest.raises(OutputError, match="inference.json: already exists"):
        publish(runs, out)
    assert len(publish(runs, out, overwrite=True)) == 4


def test_predict_refuses_a_cell_without_its_done_json(model, tmp_path):
    import shutil

    cell = tmp_path / "runs" / "csv-ozer_cnn_lstm" / "seed-0"
    shutil.copytree(model, cell)
    (cell / "config.json").write_text("{}")  # a cell's folder whose done.json went
    _face(tmp_path / "x.jpg", 0)
    res = _cli("predict", cell, tmp_path / "x.jpg")
    assert res.returncode == 2 and res.stderr.strip() == (
        f"error: {cell}: an unfinished cell (no done.json); expected a finished one (let its "
        "run finish, or run it again)")


def test_predict_rewrites_its_record_once_per_hundred_files_and_keeps_it_on_a_failure(
        model, tmp_path, monkeypatch):
    """Annotating a folder of N photos rewrote the output record N times (each rewrite as
    large as the record): now once per RECORD_EVERY files and once at the end; a failure on
    the way still records every file already written, so a later --overwrite may replace
    them."""
    from fer_keras.core.outputs import recorded
    from fer_keras.use import predict as predict_module
    from fer_keras.use.predict import RECORD_EVERY, Predictor, predict_paths

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2 * RECORD_EVERY + 5):
        cv2.imwrite(str(photos / f"{i:03d}.png"), rng.integers(0, 256, (48, 48), np.uint8))
    saves = []
    real = predict_module.remember
    monkeypatch.setattr(predict_module, "remember",
                        lambda *a: (saves.append(len(a[2])), real(*a))[1])
    out = tmp_path / "out"
    predict_paths(Predictor(model), [str(photos)], out)
    assert saves == [RECORD_EVERY, RECORD_EVERY, 5]
    assert len(recorded(out)["files"]) == 2 * RECORD_EVERY + 5
    # a failure part-way (an unreadable photo after 7 good ones): the 7 are recorded
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(7):
        cv2.imwrite(str(broken / f"{i}.png"), rng.integers(0, 256, (48, 48), np.uint8))
    (broken / "9.png").write_bytes(b"not an image")
    out2 = tmp_path / "out2"
    with pytest.raises(predict_module.PredictError, match="cannot be read as an image"):
        predict_paths(Predictor(model), [str(broken)], out2)
    assert sorted(recorded(out2)["files"]) == [f"{i}.png" for i in range(7)]
