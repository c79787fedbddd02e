"""The preprocessing stage (fer_keras/data/preprocess.py): dlib 68-point eye alignment, CLAHE,
noise for the robustness check, and the runner's cached stage."""

import dataclasses

import cv2
import numpy as np
import pytest

from fer_keras.data import load_directory
from fer_keras.data.preprocess import (
    LandmarkEyes,
    PreprocessConfig,
    align_eyes,
    clahe,
    eye_angle,
    noise_gain,
    preprocess,
    rotate,
    scale01,
    with_blur,
    with_noise,
)
from fer_keras.train.config import ConfigError, load_config


def _tilted_face():
    img = np.full((48, 48), 128, np.uint8)
    img[20, 14] = img[26, 34] = 0  # "eyes", the right one 6 px lower
    return img


def test_eye_angle_sign_and_size():
    assert eye_angle(((10, 20), (30, 20))) == 0.0
    assert eye_angle(((10, 20), (30, 40))) == pytest.approx(45.0)  # right eye lower: positive
    assert eye_angle(((10, 20), (30, 0))) == pytest.approx(-45.0)


def test_align_levels_two_marked_eyes():
    out = align_eyes(_tilted_face(), ((14, 20), (34, 26)))
    ys = [np.argmin(out[:, x - 1:x + 2].min(axis=1)) for x in (14, 34)]
    assert abs(ys[0] - ys[1]) <= 1  # level after rotation


def test_tilts_over_the_cap_stay_unrotated_and_are_counted():
    imgs = np.stack([_tilted_face()] * 3)[..., None]
    eyes = iter([((14, 20), (34, 26)),  # 16.7 degrees: rotated
                 ((14, 10), (20, 40)),  # 78.7 degrees: over the 45-degree cap
                 ((14, 20), (34, 20))])  # level already: rotated by 0
    result = preprocess(imgs, PreprocessConfig(align=True), eyes_of=lambda g: next(eyes))
    assert result.rotated.tolist() == [True, False, True]
    assert (result.images[1] == imgs[1]).all() and not (result.images[0] == imgs[0]).all()
    s = result.summary()
    assert (s["rotated"], s["left_unrotated_over_cap"], s["images"]) == (2, 1, 3)
    assert s["abs_angle_max"] == pytest.approx(78.69, abs=0.01)
    assert s["abs_angle_median"] == pytest.approx(16.70, abs=0.01)


def test_clahe_spreads_a_low_contrast_image():
    rng = np.random.default_rng(0)
    img = rng.integers(100, 120, (3, 48, 48, 1), dtype=np.uint8)
    out = clahe(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.ptp(out[0]) > np.ptp(img[0])


def test_clahe_only_leaves_the_geometry_alone():
    imgs = np.stack([_tilted_face()] * 2)[..., None]
    result = preprocess(imgs, PreprocessConfig(clahe=True), eyes_of=lambda g: 1 / 0)
    assert np.isnan(result.angles).all() and not result.rotated.any()
    assert "rotated" not in result.summary()


def test_scale01():
    out = scale01(np.array([[0, 255]], np.uint8))
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 1.0]]


def test_noise_is_seeded_clipped_and_zero_means_none():
    imgs = np.full((4, 48, 48, 1), 250, np.uint8)
    a, b = with_noise(imgs, 10, seed=3), with_noise(imgs, 10, seed=3)
    assert a.dtype == np.uint8 and (a == b).all() and a.max() == 255
    assert not (a == with_noise(imgs, 10, seed=4)).all()
    assert abs(float(with_noise(np.full_like(imgs, 128), 10, 0).std()) - 10) < 0.5
    assert (with_noise(imgs, 0, seed=3) == imgs).all()


def test_noise_gain_is_one_without_preprocessing_and_measured_per_stage():
    flat = np.full((100, 48, 48, 1), 128, np.uint8)  # mid-grey: no noise is clipped
    (row,) = noise_gain(flat, PreprocessConfig(), [5.0])
    # rounding to whole grey levels adds variance 1/12: sqrt(25 + 1/12) = 5.008
    assert row["stage"] == "as configured" and row["rms_added"] == pytest.approx(5.008, abs=0.03)
    assert row["rms_after"] == row["rms_added"] and row["gain"] == 1.0
    (row,) = noise_gain(flat, PreprocessConfig(), [0.01])  # rounds away: no noise, no ratio
    assert row["rms_added"] == 0 and row["gain"] is None
    level = lambda grey: ((14.0, 20.0), (34.0, 20.0))  # noqa: E731  (a level pair: no rotation)
    rows = noise_gain(flat, PreprocessConfig(align=True, clahe=True), [5.0, 10.0],
                      eyes_of=level)
    assert [(r["stage"], r["sigma"]) for r in rows] == [
        (stage, sigma) for sigma in (5.0, 10.0)
        for stage in ("as configured", "alignment only", "CLAHE only")]
    by = {(r["stage"], r["sigma"]): r for r in rows}
    assert by["alignment only", 5.0]["gain"] == 1.0  # a 0-degree rotation changes nothing
    # CLAHE stretches the flat image's narrow noisy histogram: the noise comes out larger
    assert by["CLAHE only", 5.0]["gain"] > 1.5
    assert by["as configured", 5.0]["rms_after"] == by["CLAHE only", 5.0]["rms_after"]


def test_settings_are_checked_by_the_config(tmp_path):
    path = tmp_path / "e.py"
    path.write_text("from fer_keras.train.config import ExperimentConfig\n"
                    "CONFIG = ExperimentConfig(name='e', paper='p')\n")
    for override, message in (("preprocess.max_angle_deg=0", "preprocess.max_angle_deg=0.0"),
                              ("preprocess.clahe_tile=0", "preprocess.clahe_tile=0"),
                              ("noise_eval=5,300", "noise_eval=5.0,300.0")):
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            load_config(path, [override])
    cfg = load_config(path, ["preprocess.align=true"])
    assert cfg.preprocess.align and "preprocess" in cfg.training_config()
    assert "preprocess" not in load_config(path).training_config()  # added later: omitted
    assert PreprocessConfig().key() != PreprocessConfig(clahe=True).key()
    assert dataclasses.replace(PreprocessConfig(), clahe=True).key() == \
        PreprocessConfig(clahe=True).key()


# ------------------------------------------------------------------------ real faces (dlib)


@pytest.fixture(scope="module")
def real_faces(fer2013_dir):
    """The first 200 images of test/, a fixed selection."""
    data = load_directory(fer2013_dir, subset="test")
    return data.images[:200]


def test_landmarks_find_level_eyes_tilted_and_alignment_levels_them(real_faces):
    """Faces whose eyes dlib finds level are rotated by a known angle; the landmarks see most
    of the tilt (dlib under-reads it on 48x48 crops) and alignment takes most of it away."""
    eyes = LandmarkEyes()
    level = [img[..., 0] for img in real_faces if abs(eye_angle(eyes(img[..., 0]))) < 2][:40]
    assert len(level) >= 20
    for known in (12.0, -12.0):
        tilted = np.stack([rotate(g, known, (24, 24)) for g in level])[..., None]
        before = np.array([eye_angle(eyes(g[..., 0])) for g in tilted])
        assert np.median(before) == pytest.approx(-known, abs=5)  # content turned by `known`
        aligned = preprocess(tilted, PreprocessConfig(align=True)).images
        after = np.array([eye_angle(eyes(g[..., 0])) for g in aligned])
        assert np.median(np.abs(after)) < 3 < np.median(np.abs(before)) - 5


def test_real_faces_have_plausible_tilts(real_faces):
    s = preprocess(real_faces, PreprocessConfig(align=True)).summary()
    assert s["images"] == 200 and s["rotated"] + s["left_unrotated_over_cap"] == 200
    assert s["abs_angle_median"] < 10 and s["abs_angle_max"] < 60


def test_clahe_raises_local_contrast_of_real_faces(real_faces):
    def local_std(imgs):  # mean standard deviation of 6x6 tiles
        t = imgs[..., 0].astype(float).reshape(len(imgs), 8, 6, 8, 6)
        return t.std(axis=(2, 4)).mean()
    out = preprocess(real_faces, PreprocessConfig(clahe=True)).images
    assert local_std(out) > 1.2 * local_std(real_faces)
    assert cv2.Laplacian(out[0, ..., 0], cv2.CV_64F).var() > \
        cv2.Laplacian(real_faces[0, ..., 0], cv2.CV_64F).var()


def test_clahe_enlarges_small_noise_on_real_faces(real_faces):
    """The README's explanation of the robustness result: CLAHE (clip 2.0, 8x8 tiles) turns
    Gaussian noise of 5 grey levels on real faces into a change several times as large, more
    than alignment does (noise moves the landmarks, and with them the rotation)."""
    by = {r["stage"]: r for r in noise_gain(real_faces, PreprocessConfig(align=True, clahe=True),
                                           [5.0])}
    assert by["CLAHE only"]["gain"] > 3 and by["as configured"]["gain"] > 3
    assert by["CLAHE only"]["gain"] > 1.5 * by["alignment only"]["gain"]


def test_blur_of_an_impulse_matches_the_gaussian_and_zero_means_none():
    imgs = np.zeros((1, 48, 48, 1), np.uint8)
    imgs[0, 24, 24, 0] = 255
    out = with_blur(imgs, 1.0)
    assert out.shape == imgs.shape and out.dtype == np.uint8
    # OpenCV's kernel for sigma 1 has 7 taps; its centre weight is 1 / sum(exp(-x^2 / 2) for
    # x in -3..3) = 0.39905, so the centre of the blurred impulse is 255 x 0.39905^2 = 40.6
    assert abs(int(out[0, 24, 24, 0]) - 40.6) <= 1
    assert int(out[0, 24, 25, 0]) < int(out[0, 24, 24, 0])
    assert (with_blur(imgs, 0) == imgs).all()
