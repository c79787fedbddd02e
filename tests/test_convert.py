import filecmp

import numpy as np
import pytest

from fer_keras.cli import main
from fer_keras.data import DataError, load
from tests.helpers import write_image_tree


def test_round_trip_dir_csv_dir_csv_is_byte_identical(tmp_path, sample, capsys):
    images, _ = sample
    a, b, back = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "back"
    assert main(["data", "to-csv", str(images), str(a)]) == 0
    assert main(["data", "to-dir", str(a), str(back)]) == 0
    assert main(["data", "to-csv", str(back), str(b)]) == 0
    assert filecmp.cmp(a, b, shallow=False)
    assert a.read_text().splitlines()[0] == "emotion,pixels,Usage"


def test_csv_rows_are_ordered_training_public_private(tmp_path, sample):
    images, _ = sample
    out = tmp_path / "o.csv"
    main(["data", "to-csv", str(images), str(out)])
    usage = [ln.rsplit(",", 1)[1] for ln in out.read_text().splitlines()[1:]]
    first = {u: usage.index(u) for u in ("Training", "PublicTest", "PrivateTest")}
    last = {u: len(usage) - 1 - usage[::-1].index(u) for u in first}
    assert last["Training"] < first["PublicTest"] and last["PublicTest"] < first["PrivateTest"]


def test_both_formats_hold_the_same_labelled_images(tmp_path, sample):
    images, csv_path = sample
    d, c = load(images), load(csv_path)
    key = lambda data: sorted(zip((im.tobytes() for im in data.images), data.labels.tolist()))  # noqa: E731
    assert key(d) == key(c)


def test_to_dir_writes_kaggle_layout(tmp_path, sample):
    _, csv_path = sample
    out = tmp_path / "dir"
    main(["data", "to-dir", str(csv_path), str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["test", "train"]
    d = load(out)
    np.testing.assert_array_equal(np.bincount(d.labels, minlength=7),
                                  np.bincount(load(csv_path).labels, minlength=7))


def test_to_csv_without_any_split_in_file_names_writes_no_usage(tmp_path):
    from fer_keras.data.convert import dir_to_csv

    root = write_image_tree(tmp_path / "d", per_class=2, prefix="img_")
    assert dir_to_csv(root, tmp_path / "o.csv") == 14
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == "emotion,pixels"
    back = load(tmp_path / "o.csv")
    assert sorted(back.labels.tolist()) == sorted(load(root).labels.tolist())
    assert set(back.usage) == {""}


def test_to_csv_refuses_a_mix_of_known_and_unknown_splits(tmp_path):
    from fer_keras.data.convert import dir_to_csv

    root = write_image_tree(tmp_path / "d", per_class=1, prefix="img_")
    write_image_tree(root, per_class=1, prefix="Training_")
    with pytest.raises(DataError, match="cannot tell the challenge split"):
        dir_to_csv(root, tmp_path / "o.csv")


def test_to_dir_refuses_a_non_empty_folder(tmp_path, sample, capsys):
    _, csv_path = sample
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert main(["data", "to-dir", str(csv_path), str(tmp_path / "full")]) == 2
    assert "output folder is not empty" in capsys.readouterr().err
