"""Faces at any size, cut the way FER-2013 cut its faces: the detector's search size, the
framing that turns a detector's box into FER-2013's 48x48 frame, and the pasted-face
benchmark's pipeline (its numbers are in reports/bench/faces.md, not here)."""

import cv2
import numpy as np
import pytest

from fer_keras.use.facebench import DETECTORS, SCENE, SIZES, framing, iou, paste_scenes, train_faces
from fer_keras.use.predict import FRAMING, WHOLE, FaceDetector, crop_face, frame_of
from fer_keras.use.pretrained import folder_of


@pytest.mark.parametrize("framing_", [FRAMING["dlib"], FRAMING["haar"], (0.1, 0.1, 0.8, 0.8)])
def test_the_frame_of_a_box_placed_by_the_framing_is_the_frame(framing_):
    fx, fy, fw, fh = framing_
    for frame in [(100, 50, 96, 96), (0, 0, 300, 300), (13, 7, 48, 48)]:
        x, y, s, _ = frame
        box = (round(x + fx * s), round(y + fy * s), round(fw * s), round(fh * s))
        got = frame_of(box, framing_)
        assert all(abs(a - b) <= 2 for a, b in zip(got, frame)), (frame, got)
    assert frame_of((10, 20, 30, 30), WHOLE) == (10, 20, 30, 30)


def test_a_frame_leaving_the_image_repeats_its_border_and_keeps_the_square():
    grey = np.arange(100 * 100, dtype=np.uint32).reshape(100, 100) % 251
    grey = grey.astype(np.uint8)
    inside = crop_face(grey, (0, 0, 48, 48))
    np.testing.assert_array_equal(inside, grey[:48, :48])
    out = crop_face(grey, (-24, -24, 48, 48))  # a quarter of it is in the image
    assert out.shape == (48, 48)
    np.testing.assert_array_equal(out[24:, 24:], grey[:24, :24])  # the part in the image
    np.testing.assert_array_equal(out[:24, 24:], np.tile(grey[0, :24], (24, 1)))  # top row
    # a detector's box is widened into the frame: dlib's box is 0.864 of it
    assert crop_face(grey, (30, 30, 40, 40), FRAMING["dlib"]).shape == (48, 48)


@pytest.mark.parametrize("min_face,scale,steps", [(40, 1.0, 1), (80, 1.0, 0), (20, 1.0, 2),
                                                  (40, 0.5, 2), (100, 0.5, 1), (5, 1.0, 2)])
def test_dlib_is_upsampled_until_the_smallest_face_fills_its_80px_window(min_face, scale, steps):
    assert FaceDetector("haar", min_face=min_face).upsampling(scale) == steps


def test_pasted_scenes_are_deterministic_and_hold_the_face_exactly():
    rng = np.random.default_rng(0)
    faces = np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in  # smooth, as faces are
                      rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)])
    pool = rng.integers(0, 256, (10, 48, 48), dtype=np.uint8)
    first = list(paste_scenes(faces, pool, seed=3))
    again = list(paste_scenes(faces, pool, seed=3))
    for (scene, box), (scene2, box2), face in zip(first, again, faces):
        assert box == box2 and np.array_equal(scene, scene2)
        x, y, side, _ = box
        assert scene.shape == (*SCENE, 3) and SIZES[0] <= side <= SIZES[1]
        assert 0 <= x and x + side <= SCENE[1] and 0 <= y and y + side <= SCENE[0]
        grey = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)
        if side == 48:
            np.testing.assert_array_equal(crop_face(grey, box), face)
        else:  # enlarged and cut back out: close to the face, not equal
            assert np.abs(crop_face(grey, box).astype(int) - face).mean() < 3
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


@pytest.mark.slow
def test_the_framing_constants_are_what_the_training_faces_measure(fer2013_dir):
    """FRAMING was measured on 1,000 training faces; 300 (150) of the same draw measure it again
    within 0.03 of a frame side, and each detector finds most of them."""
    pool, faces = train_faces(fer2013_dir, 300)
    for kind in DETECTORS:  # MTCNN (about 4x dlib's time) on the first 150
        got = framing(faces[:150] if kind == "mtcnn" else faces, pool, kind)
        assert got["found"] > 0.6 * got["faces"], got
        np.testing.assert_allclose(got["box"], FRAMING[kind], atol=0.03, err_msg=kind)


def test_a_small_real_face_in_a_photo_is_found(fer2013_dir):
    """A 50 px FER-2013 face in a 640x480 photo: dlib's window is 80 px, so predict's default
    search (faces from 40 px up) upsamples; with min_face=80 it is not searched for."""
    face = cv2.imread(str(sorted((fer2013_dir / "test" / "happy").iterdir())[0]),
                      cv2.IMREAD_GRAYSCALE)
    photo = np.tile(np.linspace(70, 150, 640).astype(np.uint8), (480, 1))
    photo[200:250, 300:350] = cv2.resize(face, (50, 50), interpolation=cv2.INTER_CUBIC)
    found = FaceDetector("dlib")(photo)
    assert found and iou(found[0], (300, 200, 50, 50)) >= 0.4, found
    assert FaceDetector("dlib", min_face=80)(photo) == []
    found = FaceDetector("mtcnn")(photo)  # MTCNN searches from 20 px up
    assert found and iou(found[0], (300, 200, 50, 50)) >= 0.4, found


def test_every_detector_has_its_framing_and_a_choice_on_the_command_line():
    from fer_keras.cli import build_parser

    assert set(FRAMING) == set(DETECTORS)
    action = next(a for a in build_parser()._subparsers._group_actions[0].choices["predict"]
                  ._actions if a.dest == "detector")
    from fer_keras.use.predict import DEFAULT_DETECTOR

    assert set(action.choices) == set(DETECTORS)  # the default first
    assert action.default == action.choices[0] == DEFAULT_DETECTOR
    with pytest.raises(Exception, match="expected dlib, haar or mtcnn"):
        FaceDetector("retina")


def test_the_benchmark_pipeline_on_a_few_faces(sample, monkeypatch):
    """bench_faces end to end on 8 synthetic faces with a published model: pasted at 48 px the
    exact squares are the raw crops (same accuracy); every rate is a share of the faces."""
    import fer_keras.use.facebench as fb

    faces, labels, pool = fb.load_test_faces(sample[0], 8)
    assert faces.shape == (8, 48, 48) and len(pool) > 0
    monkeypatch.setattr(fb, "SIZES", (48, 48))
    model = {"ozer/csv-ozer_cnn": folder_of("ozer/csv-ozer_cnn")}
    r = fb.bench_faces(faces, labels, pool, model, detectors=("haar",))
    m = r["models"]["ozer/csv-ozer_cnn"]
    assert m["square_accuracy"] == m["raw_accuracy"]
    d = r["detectors"]["haar"]
    assert 0 <= d["detected"] <= 8 and d["rate"] == d["detected"] / 8
    lines = "\n".join(fb.render_faces(r))
    assert "| haar |" in lines and f"{d['detected']}/8" in lines



def test_each_face_carries_its_detectors_score_and_the_no_face_policy(fer2013_dir):
    """A detection score per face (fer and deepface give one), the boxes exactly those of the
    detectors' plain calls; an image without a face: skipped, answered whole, or an error."""
    from fer_keras.use.predict import PredictError, Predictor

    face = cv2.imread(str(sorted((fer2013_dir / "test" / "happy").iterdir())[0]),
                      cv2.IMREAD_GRAYSCALE)
    photo = np.tile(np.linspace(70, 150, 640).astype(np.uint8), (480, 1))
    photo[150:270, 250:370] = cv2.resize(face, (120, 120), interpolation=cv2.INTER_CUBIC)
    dlib_det = FaceDetector("dlib")
    (box, score), = dlib_det.detect(photo)
    plain = dlib_det._dlib(photo, dlib_det.upsampling(1.0))
    assert [box] == [(r.left(), r.top(), r.width(), r.height()) for r in plain] and score > 0
    haar = FaceDetector("haar")
    found = haar.detect(photo)
    assert [b for b, _ in found] == [tuple(int(v) for v in b) for b in haar._haar.detectMultiScale(
        photo, scaleFactor=1.1, minNeighbors=5, minSize=(36, 36))]
    assert found and all(n >= 5 for _, n in found)  # at least minNeighbors windows merged
    p = Predictor(folder_of("ozer/csv-ozer_cnn_lstm"), detector="dlib")
    (f,) = p.predict(photo)
    assert f.detection == score and f.as_dict()["detection"] == score
    (m,) = Predictor(p.path).predict(photo)  # the default detector, MTCNN: its probability
    ((_, probability),) = FaceDetector("mtcnn").detect(photo)
    assert m.detection == probability and 0.5 < probability <= 1
    blank = np.full((480, 640), 128, np.uint8)
    assert p.predict(blank) == []
    (whole,) = Predictor(p.path, no_face="whole").predict(blank)
    assert whole.box == (0, 0, 640, 480) and whole.detection is None
    with pytest.raises(PredictError, match="no face found; expected an image with a face"):
        Predictor(p.path, no_face="error").predict(blank)
