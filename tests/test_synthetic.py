import numpy as np

from fer_keras.data.synthetic import FER2013_COUNTS, make_sample


def test_deterministic_in_seed():
    a, b, c = make_sample(300, 1), make_sample(300, 1), make_sample(300, 2)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_shape_classes_proportions_and_splits():
    d = make_sample(1400, 0)
    assert d.images.shape[1:] == (48, 48, 1) and d.images.dtype == np.uint8
    counts = np.bincount(d.labels, minlength=7)
    assert counts.argmax() == 3 and counts.argmin() == 1  # happy most, disgust least, as FER
    np.testing.assert_allclose(counts / counts.sum(),
                               np.array(FER2013_COUNTS) / sum(FER2013_COUNTS), atol=0.01)
    share = {u: np.mean(d.usage == u) for u in ("Training", "PublicTest", "PrivateTest")}
    assert abs(share["Training"] - 0.8) < 0.01 and abs(share["PublicTest"] - 0.1) < 0.01
