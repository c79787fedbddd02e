import numpy as np

from fer_keras.data.preprocess import HaarEyeDetector, align_eyes, align_faces, clahe, scale01


def test_clahe_spreads_a_low_contrast_image():
    rng = np.random.default_rng(0)
    img = rng.integers(100, 120, (3, 48, 48, 1), dtype=np.uint8)
    out = clahe(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.ptp(out[0]) > np.ptp(img[0])


def test_scale01():
    out = scale01(np.array([[0, 255]], np.uint8))
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 1.0]]


def _tilted_face():
    img = np.full((48, 48), 128, np.uint8)
    img[20, 14] = img[26, 34] = 0  # "eyes", the right one 6 px lower
    return img


def test_align_levels_the_eyes():
    img = _tilted_face()
    out = align_eyes(img, ((14, 20), (34, 26)))
    ys = [np.argmin(out[:, x - 1:x + 2].min(axis=1)) for x in (14, 34)]
    assert abs(ys[0] - ys[1]) <= 1  # level after rotation


def test_faces_without_eyes_stay_unaligned_and_are_counted():
    imgs = np.stack([_tilted_face(), _tilted_face(), _tilted_face()])[..., None]
    calls = iter([((14, 20), (34, 26)), None, None])
    result = align_faces(imgs, detector=lambda img: next(calls))
    assert (result.aligned, result.total) == (1, 3)
    assert (result.images[1] == imgs[1]).all() and not (result.images[0] == imgs[0]).all()


def test_bundled_haar_detector_loads_and_answers():
    detector = HaarEyeDetector()
    assert detector(np.full((48, 48), 128, np.uint8)) is None  # no eyes in a flat image
