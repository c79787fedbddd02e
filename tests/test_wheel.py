"""The package as a user installs it: build the wheel, install it into a fresh virtual
environment (the tested lock, requirements.txt, as constraints; packages from the registry),
and use it from a folder with no checkout: `--version`, `params`, `models`, and `predict` by
a published model's name on a real face."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


def _run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{cmd}: {res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
          str(ROOT)])
    (found,) = out.glob("fer_keras-*.whl")
    return found


def test_the_wheel_holds_the_code_templates_and_published_models_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    published = sorted(n for n in names if n.startswith("fer_keras/published/"))
    on_disk = sorted(f"fer_keras/published/{p.relative_to(ROOT / 'reports').as_posix()}"
                     for p in (ROOT / "reports").glob("*/models/*/*")
                     if p.name in ("model.keras", "inference.json", "card.md"))
    assert published == on_disk and len(on_disk) >= 12  # Özer's four models, three files each
    assert "fer_keras/reports/templates/report.html.j2" in names
    code = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "fer_keras").rglob("*.py"))
    assert [c for c in code if c not in names] == []  # every module of every wing ships
    assert not [n for n in names if n.startswith(("tests/", "experiments/", "reports/"))
                or "/runs/" in n]
    shipped = sorted(n for n in names if n.startswith("fer_keras/experiments/"))
    assert shipped == sorted(f"fer_keras/experiments/{p.name}"
                             for p in (ROOT / "experiments").glob("*.py"))  # every config


def _face(tmp: Path) -> Path:
    data = os.environ.get("FER2013_DIR")
    if data and (Path(data) / "test" / "happy").is_dir():
        return sorted((Path(data) / "test" / "happy").iterdir())[0]  # a real FER-2013 face
    from fer_keras.data.synthetic import write_sample

    images, _ = write_sample(tmp / "sample", n=70, seed=0)
    return sorted((images / "test" / "happy").iterdir())[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel in a fresh virtual environment, no extras; a working folder with no checkout
    here, nor above it: (fer-keras command, working folder, environment)."""
    tmp = tmp_path_factory.mktemp("installed")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "requirements.txt"),
          str(wheel)], timeout=1200)
    work = tmp / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return [str(venv / "bin" / "fer-keras")], work, env


def test_an_installed_wheel_predicts_by_name_without_a_checkout(installed, tmp_path):
    fer, work, env = installed
    version = _run([*fer, "--version"], cwd=work, env=env).stdout
    assert version.startswith("fer-keras 0.")
    _run([*fer, "params"], cwd=work, env=env)
    listed = json.loads(_run([*fer, "models", "--json"], cwd=work, env=env).stdout)
    lstm = next(m for m in listed if m["name"] == "ozer/csv-ozer_cnn_lstm")
    assert "/site-packages/fer_keras/published/" in lstm["folder"]  # the wheel's, not ROOT's
    face = _face(tmp_path)
    res = _run([*fer, "predict", "ozer/csv-ozer_cnn_lstm", str(face), "--format", "json"],
               cwd=work, env=env)
    (row,) = json.loads(res.stdout)["faces"]
    assert "/site-packages/fer_keras/published/ozer/models/csv-ozer_cnn_lstm" in \
        json.loads(res.stdout)["model"]
    # a photo goes through the default detector (MTCNN, a dependency); dlib is an extra
    # ([align]): without it, one line says so; OpenCV's cascade (always installed) works
    photo = tmp_path / "photo.png"
    scene = np.tile(np.linspace(70, 150, 640).astype(np.uint8), (480, 1))
    scene[150:294, 300:444] = cv2.resize(cv2.imread(str(face), cv2.IMREAD_GRAYSCALE), (144, 144))
    cv2.imwrite(str(photo), scene)
    res = subprocess.run([*fer, "predict", "ozer/csv-ozer_cnn_lstm", str(photo), "--detector",
                          "dlib"], cwd=work, env=env, capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "fer-keras[align]" in \
        res.stderr, res.stderr
    for detector in ("mtcnn", "haar"):
        res = _run([*fer, "predict", "ozer/csv-ozer_cnn_lstm", str(photo), "--detector",
                    detector, "--format", "json"], cwd=work, env=env)
        assert len(json.loads(res.stdout)["faces"]) == 1, detector
    # the same probabilities as this checkout's Predictor on the same face
    from fer_keras.core.labels import CLASS_NAMES
    from fer_keras.use.predict import Predictor

    here = Predictor(ROOT / "reports" / "ozer" / "models" / "csv-ozer_cnn_lstm").predict(
        cv2.imread(str(face)))[0]
    np.testing.assert_allclose([row[c] for c in CLASS_NAMES], here.probs, atol=1e-5)
    # the papers' configs ship: a paper's reproduction plans from the wheel, no checkout
    # ("no such paper; expected one of: none in experiments/" before)
    plan = _run([*fer, "reproduce", "ozer", "--dry-run"], cwd=work,
                env={k: v for k, v in env.items() if k != "FER2013_DIR"}).stdout.splitlines()
    assert plan[1].startswith("fer-keras run ") and plan[1].endswith(
        "/site-packages/fer_keras/experiments/ozer.py --data DATA --out runs/ozer seeds=0,1,2")
    assert plan[-1] == ("runs/ozer: 12 cells planned, all to train (no committed runs in "
                        "reports/ozer/runs)")


# Three FER-2013 test faces (the first of test/happy, test/surprise, test/neutral), 160 px,
# side by side in a 640x480 photo; hand-checked: the default detector finds all three and the
# default model names each one's own class.
SCENE_FACES = (("happy", 30), ("surprise", 240), ("neutral", 450))


def _scene(data: Path, path: Path) -> Path:
    scene = np.tile(np.linspace(70, 150, 640).astype(np.uint8), (480, 1))
    for cls, x in SCENE_FACES:
        face = cv2.imread(str(sorted((data / "test" / cls).iterdir())[0]), cv2.IMREAD_GRAYSCALE)
        scene[170:330, x:x + 160] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(path), scene)
    return path


def test_an_installed_wheel_predicts_a_scene_with_the_default_detector_and_model(installed,
                                                                                tmp_path):
    """`pip install fer-keras`, then `fer-keras predict photo.jpg`: no extras, no model named,
    several faces found, each one's emotion named."""
    data = os.environ.get("FER2013_DIR")
    if not (data and (Path(data) / "test" / "happy").is_dir()):
        pytest.skip("FER2013_DIR is not set: the scene is made of real FER-2013 faces (the "
                    "synthetic ones are no faces to a face detector)")
    fer, work, env = installed
    photo = _scene(Path(data), tmp_path / "scene.jpg")
    res = _run([*fer, "predict", str(photo), "--format", "json"], cwd=work, env=env)
    out = json.loads(res.stdout)
    assert out["model"].endswith(
        "/site-packages/fer_keras/published/wasey/models/directory-wasey_cnn_lstm/model.keras")
    faces = sorted(out["faces"], key=lambda f: f["x"])
    assert [f["top"] for f in faces] == [cls for cls, _ in SCENE_FACES]
    for f, (_, x) in zip(faces, SCENE_FACES):  # each box on its own pasted face
        assert abs(f["x"] + f["w"] / 2 - (x + 80)) < 40 and abs(f["y"] + f["h"] / 2 - 250) < 40
        assert f["detection"] > 0.9  # MTCNN's probability of a face
    python = Path(fer[0]).with_name("python")
    api = _run([str(python), "-c", "from fer_keras.use.predict import top_emotion; "
                f"print(top_emotion({str(photo)!r}))"], cwd=work, env=env)
    assert api.stdout.strip().startswith("('")  # the largest face's emotion, no noise
    assert api.stderr == ""


def test_an_installed_wheel_reproduces_a_paper_in_quick_mode(installed, tmp_path):
    """`fer-keras reproduce xu --quick` from the wheel: the shipped config trains, reports and
    publishes in the working folder (one seed on the synthetic sample: a check of the path)."""
    fer, work, env = installed
    sample = tmp_path / "sample"
    _run([*fer, "data", "sample", str(sample)], cwd=work, env=env)
    _run([*fer, "reproduce", "xu", "--quick", "--seeds", "0", "--data", str(sample / "images")],
         cwd=work, env=env, timeout=1200)
    report = work / "runs" / "xu-quick" / "report"
    page = (report / "index.html").read_text()
    assert "Quick check" in page
    assert sorted(p.name for p in (report / "models").iterdir() if p.is_dir()) == [
        "csv-xu_cnn", "csv-xu_rnn_lstm"]


def test_building_the_package_warns_of_no_ignored_data_folder(tmp_path):
    """`make demo` printed six screens of setuptools' "Package would be ignored" (the
    templates and every published model's folder): the data files are package-data's alone."""
    res = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path),
                str(ROOT)])
    assert "would be ignored" not in res.stdout + res.stderr
