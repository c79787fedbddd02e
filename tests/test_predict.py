"""Using the models: the one input contract (parity with the runner's evaluation path for
every registered model), `fer-keras predict` on images, photos and video, the committed Özer
weights, export with parity, Grad-CAM, publish and model cards."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from fer_keras.core.cellfiles import copy_cell
from fer_keras.core.labels import CLASS_NAMES
from fer_keras.core.provenance import sha256_file
from fer_keras.data import load_directory
from fer_keras.data.pipeline import InputSpec, make_dataset
from fer_keras.models import create_model, expects_raw_pixels, list_models
from fer_keras.models.explain import gradcam
from fer_keras.models.inference import INPUT_NAME, as_input, inference_model
from fer_keras.use.predict import FRAMING, Predictor, crop_face, frame_of, predict_paths
from fer_keras.use.pretrained import published_in

ROOT = Path(__file__).parents[1]
PUBLISHED = ROOT / "reports" / "ozer" / "models"
CLI = [sys.executable, "-m", "fer_keras.cli"]


@pytest.fixture(scope="module")
def faces(sample):
    data = load_directory(sample[0], subset="test")
    return data.images[:12], data.labels[:12]


def _saved(model: keras.Model, folder: Path, meta: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    inference_model(model).save(folder / "model.keras")
    (folder / "inference.json").write_text(json.dumps(meta or {"preprocess": None}))
    return folder


@pytest.mark.parametrize("name", list_models())
def test_saved_model_predicts_exactly_what_the_runner_path_predicts(name, faces, tmp_path):
    """The runner's input pipeline (channel adaptation and scaling in tf.data) and the saved
    inference model (the same steps as layers, loaded back from disk) agree on every model."""
    images, labels = faces
    keras.utils.set_random_seed(0)
    model = create_model(name)
    spec = InputSpec(channels=int(model.input_shape[-1]), raw_pixels=expects_raw_pixels(model))
    runner = model.predict(make_dataset(images, labels, spec, batch_size=8, training=False),
                           verbose=0)
    wrapped = inference_model(model)
    wrapped.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    saved = loaded.predict(as_input(images), verbose=0)
    assert loaded.input_shape == (None, 48, 48, 1) and loaded.inputs[0].name.startswith(INPUT_NAME)
    assert (saved.argmax(1) == runner.argmax(1)).all()
    np.testing.assert_allclose(saved, runner, rtol=0, atol=2e-6)


def test_predict_a_crop_a_photo_and_nothing(faces, tmp_path):
    images, _ = faces
    keras.utils.set_random_seed(0)
    folder = _saved(create_model("ozer_cnn_lstm"), tmp_path / "m")
    p = Predictor(folder, detector="haar")
    crop = p.predict(images[0, ..., 0])  # 48x48: the whole image is the face
    assert [f.box for f in crop] == [(0, 0, 48, 48)]
    np.testing.assert_allclose(crop[0].probs, p.predict_faces(images[:1])[0], atol=1e-6)
    assert crop[0].probs.sum() == pytest.approx(1, abs=1e-5) and crop[0].top in CLASS_NAMES
    assert p.predict(np.full((300, 400), 128, np.uint8)) == []  # no face: empty, no error


def test_flip_averaging_follows_the_published_choice_unless_told(faces, tmp_path):
    """inference.json `flip` (publish sets it where flipping helped on validation) turns flip
    averaging on: each face's probabilities averaged with its mirror image's; flip= overrides
    it, and a model published without it predicts the faces as they are."""
    images, _ = faces
    keras.utils.set_random_seed(0)
    model = create_model("ozer_cnn_lstm")
    x = as_input(images[:3])
    plain = inference_model(model).predict(x, verbose=0)
    mirrored = inference_model(model).predict(x[:, :, ::-1], verbose=0)
    assert not np.allclose(plain, mirrored, atol=1e-4)
    on = _saved(model, tmp_path / "on", {"preprocess": None, "flip": True})
    off = _saved(model, tmp_path / "off")
    assert Predictor(on).flip and not Predictor(off).flip
    np.testing.assert_allclose(Predictor(on).predict_faces(images[:3]), (plain + mirrored) / 2,
                               atol=1e-5)
    np.testing.assert_allclose(Predictor(on, flip=False).predict_faces(images[:3]), plain,
                               atol=1e-5)
    np.testing.assert_allclose(Predictor(off, flip=True).predict_faces(images[:3]),
                               (plain + mirrored) / 2, atol=1e-5)


def _photo(face: np.ndarray, at=(150, 300), size=144) -> np.ndarray:
    """A FER face pasted, enlarged, into a photo-sized grey gradient."""
    canvas = np.tile(np.linspace(70, 150, 640).astype(np.uint8), (480, 1))
    y, x = at
    canvas[y:y + size, x:x + size] = cv2.resize(face, (size, size),
                                                interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def _real_face(fer2013_dir: Path) -> tuple[Path, np.ndarray]:
    path = sorted((fer2013_dir / "test" / "happy").iterdir())[0]
    return path, cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def test_committed_ozer_weights_are_intact():
    folders = sorted(p for p in PUBLISHED.iterdir() if p.is_dir())
    for folder in folders:
        meta = json.loads((folder / "inference.json").read_text())
        assert sha256_file(folder / "model.keras") == meta["sha256"], folder
        assert meta["sha256"] in (folder / "card.md").read_text()
    assert len(folders) == 4


def test_fresh_clone_predicts_a_real_face_and_a_photo(fer2013_dir, tmp_path):
    """The committed weights on a FER-2013 test image and on a photo made from it: the
    detector finds the pasted face, and the CLI prints it."""
    path, face = _real_face(fer2013_dir)
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), _photo(face))
    model = PUBLISHED / "csv-ozer_cnn_lstm"
    p = Predictor(model)
    on_crop, on_photo = p.predict(cv2.imread(str(path))), p.predict(cv2.imread(str(photo)))
    assert len(on_crop) == 1 and len(on_photo) == 1
    x, y, w, h = on_photo[0].box  # overlaps the pasted 144x144 face at (300, 150)
    ix = max(0, min(x + w, 444) - max(x, 300)) * max(0, min(y + h, 294) - max(y, 150))
    assert ix / (w * h + 144 * 144 - ix) > 0.4
    res = subprocess.run([*CLI, "predict", str(model), str(path), str(photo), "--format",
                          "json", "--out", str(tmp_path / "ann")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["faces"]
    assert [r["file"] for r in rows] == [str(path), str(photo)]
    assert rows[0]["top"] == on_crop[0].top and (tmp_path / "ann" / "photo.png").exists()


def _published_reproduce_their_runs(fmt: str, papers: set[str], crops_of) -> None:
    """Every published `fmt`-format model (of at least `papers`), fed the first 300 test images
    its run scored (crops_of(sources) finds them) through `predict`'s path, gives the run's
    own saved predictions (made by the training pipeline)."""
    published = [p.folder for p in published_in(ROOT / "reports")
                 if p.folder.name.startswith(f"{fmt}-")]
    assert {f.parents[1].name for f in published} >= papers
    for folder in published:
        meta = json.loads((folder / "inference.json").read_text())
        paper, cell = meta["source"].split("/", 1)
        z = np.load(ROOT / "reports" / paper / "runs" / cell / "predictions.npz")
        take = slice(0, 300)
        probs = Predictor(folder).predict_faces(crops_of(z["sources"][take], z["labels"][take]))
        assert (probs.argmax(1) == z["probs"][take].argmax(1)).all(), folder
        np.testing.assert_allclose(probs, z["probs"][take], atol=1e-5)


def test_committed_weights_reproduce_the_committed_predictions(fer2013_dir):
    """The published directory-format models, on the image files their runs scored."""
    def crops_of(sources, labels):
        files = [fer2013_dir / s.split("fer2013/", 1)[1] for s in sources]
        return np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])

    _published_reproduce_their_runs("directory", {"ozer", "wasey"}, crops_of)


def test_committed_csv_weights_reproduce_the_committed_predictions(fer2013_dir, tmp_path):
    """The published CSV-format models (Ozer's, Ashok's): the CSV is built from the image
    export as the runs built theirs (same fingerprint), and each run's test rows are found by
    their CSV line."""
    from fer_keras.data import load
    from fer_keras.data.convert import dir_to_csv

    dir_to_csv(fer2013_dir, tmp_path / "fer2013.csv")
    data = load(tmp_path / "fer2013.csv")
    row_of = {s.rsplit(":", 1)[1]: i for i, s in enumerate(data.sources)}

    def crops_of(sources, labels):
        rows = [row_of[s.rsplit(":", 1)[1]] for s in sources]
        assert (data.labels[rows] == labels).all()
        return data.images[rows]

    _published_reproduce_their_runs("csv", {"ozer", "ashok"}, crops_of)


def test_cli_errors_are_one_line(tmp_path, faces):
    keras.utils.set_random_seed(0)
    folder = _saved(create_model("ozer_cnn"), tmp_path / "m")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 400), 128, np.uint8))
    cases = [([str(folder), str(bad)], 2, f"error: {bad}: cannot be read as an image"),
             ([str(tmp_path / "none"), str(blank)], 2, f"error: {tmp_path / 'none'}: no such"),
             ([str(tmp_path), str(blank)], 2, f"error: {tmp_path}: holds 1 models; name one"),
             ([str(folder), str(tmp_path / "x.png")], 2, f"error: {tmp_path / 'x.png'}: no such")]
    for args, code, start in cases:
        res = subprocess.run([*CLI, "predict", *args], capture_output=True, text=True)
        assert res.returncode == code and res.stderr.startswith(start), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = subprocess.run([*CLI, "predict", str(folder), str(blank)], capture_output=True,
                         text=True)
    assert res.returncode == 0 and f"{blank}: no face found" in res.stdout


def test_video_frames_are_predicted_and_annotated(faces, tmp_path):
    images, _ = faces
    keras.utils.set_random_seed(0)
    folder = _saved(create_model("ozer_cnn_lstm"), tmp_path / "m")
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 480))
    for i in range(6):
        writer.write(_photo(images[i % 3, ..., 0], at=(150, 100 + 40 * i), size=160))
    writer.release()
    rows, faceless = predict_paths(Predictor(folder, detector="haar"), [str(video)],
                                   tmp_path / "out")
    assert faceless == [] and [r["frame"] for r in rows] == list(range(6))
    assert all(abs(r["x"] - (100 + 40 * r["frame"])) < 40 for r in rows)  # follows the face
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6


def test_crop_cuts_the_box_or_the_frame_its_detector_implies():
    grey = np.arange(100 * 100, dtype=np.uint32).reshape(100, 100).astype(np.uint8)
    np.testing.assert_array_equal(crop_face(grey, (10, 10, 48, 48)), grey[10:58, 10:58])
    # dlib's box is 0.864 of FER-2013's frame, 0.063 from its left and 0.133 from its top:
    # side 43 / 0.864 = 49.8 -> 50; left 34.5 + 0.005 * 49.8 - 24.9 = 9.9 -> 10;
    # top 37.5 - 0.0645 * 49.8 - 24.9 = 9.4 -> 9
    framed = crop_face(grey, (13, 16, 43, 43), FRAMING["dlib"])
    x, y, s, _ = frame_of((13, 16, 43, 43), FRAMING["dlib"])
    assert (s, x, y) == (50, 10, 9)
    np.testing.assert_array_equal(framed, cv2.resize(grey[9:59, 10:60], (48, 48),
                                                     interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("fmt", ["saved_model", "onnx", "litert"])
def test_export_passes_its_parity_check(fmt, tmp_path):
    from fer_keras.use.export import export

    keras.utils.set_random_seed(0)
    folder = _saved(create_model("emotionnet_pp_seq4"), tmp_path / "m",
                    {"preprocess": {"align": True, "clahe": True}})
    r = export(folder, fmt, tmp_path / "exported")
    assert r["same_top_class"] and r["max_abs_diff"] < 1e-4
    side = Path(r["path"] + ".json") if Path(r["path"]).is_file() \
        else Path(r["path"]) / "inference.json"
    assert json.loads(side.read_text())["preprocess"]["align"]  # what the graph cannot hold


def test_gradcam_of_a_hand_made_model():
    """One identity channel feeding a dense layer: the class weights' sign decides. With a
    positive weight everywhere the heat map is the image itself (normalised); with a negative
    one it is all zero (ReLU)."""
    model = keras.Sequential([keras.Input((48, 48, 1)),
                              keras.layers.Conv2D(1, 1, use_bias=False, name="conv"),
                              keras.layers.Flatten(), keras.layers.Dense(7, use_bias=False),
                              keras.layers.Softmax()])
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), np.float32)])
    w = np.zeros((48 * 48, 7), np.float32)
    w[:, 0], w[:, 1] = 0.001, -0.001
    model.layers[2].set_weights([w])
    wrapped = inference_model(model)
    img = np.random.default_rng(0).integers(1, 256, (2, 48, 48, 1)).astype(np.uint8)
    maps = gradcam(wrapped, img, classes=np.array([0, 1]))
    np.testing.assert_allclose(maps[0], img[0, ..., 0] / img[0].max(), atol=1e-5)
    assert np.abs(maps[1]).max() == 0
    assert gradcam(inference_model(create_model("xu_rnn_lstm")), img) is None  # no convolution


@pytest.mark.parametrize("functional", [False, True])
def test_dead_relu_units_are_counted_per_layer(functional, tmp_path):
    """Hand-made: a Dense(4, ReLU) with zero weights and biases -1, -1, 1, 0.5 has exactly two
    units that never fire, whatever the image; a 1x1 ReLU convolution with weight +1 fires
    wherever a pixel is non-zero. Counted on the images as the contract takes them (0-255)."""
    from fer_keras.models.explain import ACTIVITY_FILE, backfill, relu_activity, write_activity

    stack = [keras.layers.Conv2D(1, 1, activation="relu", name="conv"),
             keras.layers.Flatten(), keras.layers.Dense(4, activation="relu", name="hidden"),
             keras.layers.Dense(7, activation="softmax", name="out")]
    if functional:
        inputs = keras.Input((48, 48, 1))
        x = inputs
        for layer in stack:
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        model = keras.Sequential([keras.Input((48, 48, 1)), *stack])
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), np.float32), np.zeros(1)])
    model.get_layer("hidden").set_weights([np.zeros((48 * 48, 4), np.float32),
                                           np.array([-1, -1, 1, 0.5], np.float32)])
    img = np.random.default_rng(0).integers(1, 256, (3, 48, 48, 1)).astype(np.uint8)
    wrapped = inference_model(model)
    assert relu_activity(wrapped, img) == [{"layer": "conv", "units": 1, "dead": 0},
                                           {"layer": "hidden", "units": 4, "dead": 2}]
    write_activity(tmp_path, wrapped, img)
    assert json.loads((tmp_path / ACTIVITY_FILE).read_text())["images"] == 3
    # a cell trained before activity.json existed gets it from its model and examples
    cell = tmp_path / "runs" / "csv-m" / "seed-0"
    cell.mkdir(parents=True)
    wrapped.save(cell / "model.keras")
    np.savez(cell / "examples.npz", images=img)
    (cell / "done.json").write_text("{}")
    assert backfill(tmp_path / "runs") == [cell]
    assert json.loads((cell / ACTIVITY_FILE).read_text())["layers"][1]["dead"] == 2
    assert (cell / "gradcam.npz").exists() and backfill(tmp_path / "runs") == []
    # a model without a convolution gets its activity once, and is not counted again
    lstm = tmp_path / "runs" / "csv-lstm" / "seed-0"
    lstm.mkdir(parents=True)
    inference_model(create_model("xu_rnn_lstm")).save(lstm / "model.keras")
    np.savez(lstm / "examples.npz", images=img)
    (lstm / "done.json").write_text("{}")
    assert backfill(tmp_path / "runs") == [lstm] and (lstm / ACTIVITY_FILE).exists()
    assert not (lstm / "gradcam.npz").exists() and backfill(tmp_path / "runs") == []


@pytest.mark.slow
def _ozer_run(sample, runs: Path, models: str, max_epochs: int) -> Path:
    """Seeds 0 and 1 of Özer's csv cells of `models` on the synthetic sample, into `runs`."""
    images, csv_path = sample
    subprocess.run([*CLI, "run", str(ROOT / "experiments" / "ozer.py"), "--data", str(images),
                    "--csv", str(csv_path), "--out", str(runs), "formats=csv",
                    f"models={models}", "seeds=0,1", f"max_epochs={max_epochs}"], check=True,
                   capture_output=True)
    return runs


def _load_npz(path: Path) -> dict:
    with np.load(path) as z:
        return dict(z)


def test_publish_chosen_publishes_only_the_cell_or_average_the_leaderboard_chooses(
        sample, tmp_path):
    """`publish --chosen` (a benchmark's default model): of two cells, only the one with the
    best mean validation accuracy over its seeds (history.csv at each seed's scored epoch),
    its seed of lowest validation loss; or the average of both where it beats that cell alone
    on validation (validation.npz, the same seeds). The average, published as one model, is
    its cells' models of the seed whose average has the lowest validation loss, answering the
    mean of their probabilities; with a member's model lost, nothing, and a note naming what
    to train again; with no model file in any seed of the chosen cell, nothing, and a note."""
    from fer_keras.core.rundata import read_runs
    from fer_keras.reports.leaderboard import cell_rows, ensembles
    from fer_keras.use.publish import publish_average

    runs = _ozer_run(sample, tmp_path / "runs", "ozer_cnn,ozer_cnn_lstm", max_epochs=1)
    validation, loss = {}, {}
    for model in ("ozer_cnn", "ozer_cnn_lstm"):
        per_seed = []
        for seed in (0, 1):
            folder = runs / f"csv-{model}" / f"seed-{seed}"
            scored = json.loads((folder / "manifest.json").read_text())["scored_epoch"]
            history = np.genfromtxt(folder / "history.csv", delimiter=",", names=True)
            per_seed.append(float(np.atleast_1d(history["val_accuracy"])[scored - 1]))
            loss[(model, seed)] = float(np.atleast_1d(history["val_loss"]).min())
        validation[model] = float(np.mean(per_seed))
    best = max(sorted(validation), key=validation.get)
    other = next(m for m in validation if m != best)

    def views(model, seed, name):
        return _load_npz(runs / f"csv-{model}" / f"seed-{seed}" / name)

    mean_probs, alone, together, avg_loss = {}, [], [], []
    for seed in (0, 1):
        a, b = views(best, seed, "validation.npz"), views(other, seed, "validation.npz")
        p = (a["probs"] + b["probs"]) / 2
        alone.append(np.mean(a["probs"].argmax(1) == a["labels"]))
        together.append(np.mean(p.argmax(1) == a["labels"]))
        avg_loss.append(-np.mean(np.log(p[np.arange(len(p)), a["labels"]])))
        mean_probs[seed] = (views(best, seed, "predictions.npz")["probs"]
                            + views(other, seed, "predictions.npz")["probs"]) / 2
    chosen = "csv-top2_average" if np.mean(together) > np.mean(alone) else f"csv-{best}"
    out = tmp_path / "models"
    res = subprocess.run([*CLI, "publish", str(runs), "--out", str(out), "--chosen"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"published: {out / chosen}"]
    assert [d.name for d in out.iterdir() if d.is_dir()] == [chosen]
    seed = min((0, 1), key=lambda s: loss[(best, s)])
    if chosen == f"csv-{best}":
        assert json.loads((out / chosen / "inference.json").read_text())["seed"] == seed

    # the average of both, published as one model whichever the choice
    experiment, found = read_runs(runs)
    average, = ensembles(cell_rows(found), found)
    assert average["cells"] == [f"csv/{best}", f"csv/{other}"]
    assert average["validation_loss"] == pytest.approx(avg_loss, abs=1e-5)
    folder, = publish_average(runs, tmp_path / "avg", experiment, found, average)
    meta = json.loads((folder / "inference.json").read_text())
    at = int(np.argmin(avg_loss))
    labels = views(best, at, "predictions.npz")["labels"]
    assert (folder.name, meta["model"], meta["seed"]) == ("csv-top2_average", "average", at)
    assert [(m["cell"], m["seed"]) for m in meta["members"]] == [
        (f"csv/{best}", at), (f"csv/{other}", at)]
    assert meta["measured"]["test_accuracy"] == round(
        float(np.mean(mean_probs[at].argmax(1) == labels) * 100), 2)
    assert meta["sha256"] == sha256_file(folder / "model.keras")
    members = [keras.models.load_model(runs / f"csv-{m}" / f"seed-{at}" / "model.keras",
                                       compile=False) for m in (best, other)]
    x = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 1)).astype(np.uint8)
    want = np.mean([m.predict(x.astype(np.float32), verbose=0) for m in members], axis=0)
    for runtime in ("keras", "litert"):
        got = Predictor(folder, runtime=runtime, flip=False).predict_faces(x[..., 0])
        assert np.allclose(got, want, atol=1e-5), runtime
    text = (folder / "card.md").read_text()
    assert text.splitlines()[0] == "# Model card: csv/top2_average"
    assert ("better, so it is the protocol's choice" in text) == (chosen == "csv-top2_average")
    lost = runs / f"csv-{other}" / f"seed-{at}"
    for name in ("model.keras", "best.keras"):  # a committed copy: neither kept
        (lost / name).rename(tmp_path / name)
    skipped = []
    assert publish_average(runs, tmp_path / "avg2", experiment, found, average, skipped) == []
    assert skipped == [f"csv/top2_average: not published: seed {at} has the average's lowest "
                       f"validation loss but no model file in {lost} (train seed {at} of "
                       f"csv/{other} again to publish it)"]
    for name in ("model.keras", "best.keras"):
        (tmp_path / name).rename(lost / name)

    if chosen != f"csv-{best}":
        return  # what follows is the cell's case
    for s in (0, 1):  # both seeds' models lost: their committed copies, which keep none
        folder = runs / f"csv-{best}" / f"seed-{s}"
        copy_cell(folder, tmp_path / "copy")
        shutil.rmtree(folder)
        shutil.move(tmp_path / "copy", folder)
    res = subprocess.run([*CLI, "publish", str(runs), "--out", str(tmp_path / "again"),
                          "--chosen"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == ""
    assert res.stderr.splitlines() == [
        f"note: csv/{best}: not published: seed {seed} has the lowest validation loss but no "
        f"model file in {runs / f'csv-{best}' / f'seed-{seed}'}; no other seed has one (train "
        f"seed {seed} again to publish this cell)"]


def test_publish_and_cards_from_a_run(sample, tmp_path):
    from fer_keras.use.publish import publish

    runs = _ozer_run(sample, tmp_path / "runs", "ozer_cnn_lstm", max_epochs=2)
    (folder,) = publish(runs, tmp_path / "models")
    meta = json.loads((folder / "inference.json").read_text())
    best = {s: float(np.loadtxt(runs / "csv-ozer_cnn_lstm" / f"seed-{s}" / "history.csv",
                                delimiter=",", skiprows=1, usecols=5).min()) for s in (0, 1)}
    # history columns: epoch, accuracy, learning_rate, loss, val_accuracy, val_loss
    assert meta["seed"] == min(best, key=best.get)  # chosen on validation loss
    assert meta["sha256"] == sha256_file(folder / "model.keras")
    # a 2-epoch model on the synthetic sample may not beat always answering its largest class:
    # published all the same (a pipeline check), and then marked so
    z = np.load(runs / "csv-ozer_cnn_lstm" / f"seed-{meta['seed']}" / "predictions.npz")
    unlearned = (z["probs"].argmax(1) == z["labels"]).mean() <= \
        np.bincount(z["labels"]).max() / z["labels"].size
    assert ("no_better_than_majority" in meta["measured"]) == unlearned
    # flip averaging on by default where it adds accuracy on validation, mean over the seeds
    gains = {}
    for part, file in (("validation", "validation.npz"), ("test", "predictions.npz")):
        per_seed = []
        for seed in (0, 1):
            v = np.load(runs / "csv-ozer_cnn_lstm" / f"seed-{seed}" / file)
            p, m, y = v["probs"], v["probs_flipped"], v["labels"]
            per_seed.append(100 * (((p + m).argmax(1) == y).mean() - (p.argmax(1) == y).mean()))
        gains[part] = float(np.mean(per_seed))
    assert meta["flip"] == (gains["validation"] > 0)
    assert meta["flip_gain"] == pytest.approx(gains, abs=1e-3) and meta["flip_seeds"] == [0, 1]
    text = (folder / "card.md").read_text()
    for part in ("# Model card: csv/ozer_cnn_lstm", "SYNTHETIC", "Measured on the test part",
                 meta["sha256"], "Known limits", "learning_rate 0.001", "80/10/10 (seed"):
        assert part in text, part
    assert (runs / "csv-ozer_cnn_lstm" / "seed-0" / "gradcam.npz").exists()
    # the chosen seed's model lost (a replaced machine), the other seed's kept: nothing is
    # published in its place, and the note names the seed to train again
    # (the committed copy of that seed, which keeps no model files: cellfiles.copy_cell)
    chosen = runs / "csv-ozer_cnn_lstm" / f"seed-{meta['seed']}"
    copy_cell(chosen, tmp_path / "copy")
    shutil.rmtree(chosen)
    shutil.move(tmp_path / "copy", chosen)
    skipped: list[str] = []
    assert publish(runs, tmp_path / "again", skipped=skipped) == []
    assert skipped == [f"csv/ozer_cnn_lstm: not published: seed {meta['seed']} has the lowest "
                       f"validation loss but no model file in {chosen}; seed "
                       f"{1 - meta['seed']} has one (train seed {meta['seed']} again to "
                       "publish this cell)"]
