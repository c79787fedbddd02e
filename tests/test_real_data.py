"""Real FER-2013 (FER2013_DIR; set by .ci/run). Skipped cleanly where it is unset."""

import numpy as np
import pytest

from fer_keras.core.labels import CLASS_NAMES
from fer_keras.data import load
from fer_keras.data.convert import csv_order, dir_to_csv
from fer_keras.data.splits import OFFICIAL_COUNTS, split_indices

pytestmark = pytest.mark.real_data

# ../shared/data/fer2013/README.md
TRAIN = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965,
         "sad": 4830, "surprise": 3171}
TEST = {"angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "neutral": 1233,
        "sad": 1247, "surprise": 831}


@pytest.fixture(scope="module")
def real(fer2013_dir, tmp_path_factory):
    everything = load(fer2013_dir)
    csv_path = tmp_path_factory.mktemp("real") / "fer2013.csv"
    dir_to_csv(fer2013_dir, csv_path)
    return everything, load(csv_path)


def _counts(labels):
    return {c: int(n) for c, n in zip(CLASS_NAMES, np.bincount(labels, minlength=7))}


def test_directory_counts_match_the_dataset_readme(fer2013_dir):
    assert _counts(load(fer2013_dir, subset="train").labels) == TRAIN
    assert _counts(load(fer2013_dir, subset="test").labels) == TEST


def test_both_formats_give_identical_labels_for_identical_images(real):
    directory, csv = real
    assert len(directory) == len(csv) == 35_887
    order = csv_order(directory)
    assert np.array_equal(directory.images[order], csv.images)
    assert np.array_equal(directory.labels[order], csv.labels)
    assert np.array_equal(directory.usage[order], csv.usage)


def test_official_split_sizes(real):
    _, csv = real
    split = split_indices(csv.labels, "official", usage=csv.usage)
    assert split.sizes() == OFFICIAL_COUNTS


def test_ozer_80_10_10_sizes_for_both_formats(fer2013_dir, real):
    directory_train = load(fer2013_dir, subset="train")
    assert split_indices(directory_train.labels, "80/10/10", 0).sizes() == {
        "train": 22_967, "val": 2_871, "test": 2_871}
    assert split_indices(real[1].labels, "80/10/10", 0).sizes() == {
        "train": 28_709, "val": 3_589, "test": 3_589}
