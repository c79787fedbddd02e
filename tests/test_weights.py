import numpy as np
import pytest

from fer_keras.data import load
from fer_keras.data.splits import split_indices
from fer_keras.data.weights import class_weights

# Ashok, Table 2
TABLE_2 = {0: 1.0352, 1: 9.3637, 2: 1.0010, 3: 0.5703, 4: 0.8437, 5: 1.2809, 6: 0.8272}


def test_hand_checked_balanced_weights():
    labels = np.array([0] * 6 + [1] * 2 + [2] * 4)  # n=12, k=3 present of 7
    w = class_weights(labels, num_classes=3)
    assert w == pytest.approx({0: 12 / 18, 1: 12 / 6, 2: 12 / 12})


def test_absent_class_gets_zero_weight():
    w = class_weights(np.array([0, 0, 1]))
    assert w[6] == 0.0 and w[0] == pytest.approx(3 / 4)


@pytest.mark.real_data
def test_ashok_table_2_from_an_80_20_split_of_all_35887_images(fer2013_dir):
    """Table 2 is the training part (28,709) of a stratified 80/20 split of all 35,887
    FER-2013 images; the official Training set alone gives 1.0266 for angry instead."""
    data = load(fer2013_dir)
    assert len(data) == 35_887
    split = split_indices(data.labels, "80/20", seed=0)
    assert split.train.size == 28_709
    w = class_weights(data.labels[split.train])
    for c, expected in TABLE_2.items():
        assert w[c] == pytest.approx(expected, abs=0.001), c
    official = class_weights(data.labels[data.usage == "Training"])
    assert official[0] == pytest.approx(1.0266, abs=0.0001)


@pytest.mark.real_data
def test_carved_validation_keeps_table_2_weights(fer2013_dir):
    """validation=carve takes validation images out of the 28,709, but the class weights are
    still those of the whole training part, i.e. Table 2."""
    from fer_keras.data.splits import with_validation

    data = load(fer2013_dir)
    split = with_validation(split_indices(data.labels, "80/20", seed=1), data.labels, "carve",
                            0.1)
    assert split.sizes() == {"train": 25_838, "val": 2_871, "test": 7_178}
    w = class_weights(data.labels[split.training_part])
    for c, expected in TABLE_2.items():
        assert w[c] == pytest.approx(expected, abs=0.001), c
