import numpy as np
import pytest

from fer_keras.data import DataError
from fer_keras.data.splits import split_indices

LABELS = np.repeat(np.arange(7), [400, 50, 400, 700, 480, 320, 500])  # 2,850, FER-like


@pytest.mark.parametrize("scheme,sizes", [
    ("80/10/10", (2280, 285, 285)), ("80/20", (2280, 0, 570)), ("70/15/15", (1995, 427, 428)),
])
def test_sizes(scheme, sizes):
    s = split_indices(LABELS, scheme, seed=0)
    assert (s.train.size, s.val.size, s.test.size) == sizes


@pytest.mark.parametrize("scheme", ["80/10/10", "80/20", "70/15/15"])
def test_disjoint_complete_and_stratified(scheme):
    s = split_indices(LABELS, scheme, seed=3)
    everything = np.concatenate([s.train, s.val, s.test])
    assert np.array_equal(np.sort(everything), np.arange(LABELS.size))
    share = np.bincount(LABELS[s.train], minlength=7) / s.train.size
    np.testing.assert_allclose(share, np.bincount(LABELS) / LABELS.size, atol=0.002)


def test_same_seed_same_split_other_seed_other_split():
    a, b = split_indices(LABELS, "80/10/10", 1), split_indices(LABELS, "80/10/10", 1)
    c = split_indices(LABELS, "80/10/10", 2)
    assert all(np.array_equal(x, y) for x, y in zip(a.as_arrays().values(),
                                                     b.as_arrays().values()))
    assert not np.array_equal(a.test, c.test)


def test_80_20_and_80_10_10_share_the_training_part():
    assert np.array_equal(split_indices(LABELS, "80/20", 5).train,
                          split_indices(LABELS, "80/10/10", 5).train)


def test_official_split_follows_usage():
    usage = np.array(["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"] * 3)
    s = split_indices(np.zeros(10, int), "official", usage=usage)
    assert s.train.tolist() == [0, 1, 2, 3, 4] and s.val.tolist() == [5, 6]
    assert s.test.tolist() == [7, 8, 9]


def test_official_split_needs_usage_and_unknown_scheme_is_an_error():
    with pytest.raises(DataError, match="needs every row's challenge split"):
        split_indices(np.zeros(4, int), "official", usage=np.array(["", "", "", ""]))
    with pytest.raises(DataError, match="unknown split '50/50'"):
        split_indices(LABELS, "50/50")


def test_validation_policies():
    from fer_keras.data.splits import with_validation

    base = split_indices(LABELS, "80/20", seed=3)
    assert with_validation(base, LABELS, "split", 0.1) is base
    carved = with_validation(base, LABELS, "carve", 0.1)
    assert carved.validation == "carve"
    np.testing.assert_array_equal(carved.test, base.test)  # the test part is untouched
    np.testing.assert_array_equal(np.sort(np.concatenate([carved.train, carved.val])),
                                  base.train)
    np.testing.assert_array_equal(carved.training_part, base.train)
    assert carved.val.size == int(np.ceil(0.1 * base.train.size))
    # stratified: each class's share of the carved validation is within one image of 10 %
    for c in range(7):
        n_c = int((LABELS[base.train] == c).sum())
        assert abs((LABELS[carved.val] == c).sum() - 0.1 * n_c) <= 1
    assert set(carved.as_arrays()) == {"train", "val", "test", "pool"}
    leak = with_validation(base, LABELS, "test", 0.1)
    assert leak.validation == "test"
    np.testing.assert_array_equal(leak.val, base.test)


def test_a_class_with_one_image_is_named():
    labels = np.array([0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6] * 3 + [1])
    labels[labels == 1] = 0
    labels[-1] = 1
    with pytest.raises(DataError, match=r"single image: disgust \(1\)"):
        split_indices(labels, "80/10/10")
