"""The fast scanner for the canonical challenge CSV must give exactly what the general reader
gives, and must give up (so the general reader decides) on anything it does not recognise."""

import numpy as np
import pytest

import fer_keras.data.csv as csvmod
from fer_keras.data import DataError, csv_fast, load_csv
from tests.helpers import pixels_text, write_csv

P = pixels_text()
COLS = {"label": 0, "pixels": 1, "usage": 2}


def general(path, has_header=True, cols=COLS):
    return csvmod._read_challenge_general(path, has_header, cols)


def fast(path, has_header=True, has_usage=True, workers=None):
    if workers is None:
        return csvmod._read_canonical(path, has_header, has_usage)
    start = len(path.read_bytes().split(b"\n")[0]) + 1
    return csv_fast.read_canonical(path, start, has_usage, workers)


def assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("block", [20_000, 100_000, csv_fast.BLOCK])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_same_arrays_as_general_reader_across_blocks_and_threads(sample, monkeypatch, block,
                                                                 workers):
    # 20 kB blocks hold two lines of about 8.5 kB: every block carries a partial line over.
    monkeypatch.setattr(csv_fast, "BLOCK", block)
    csv_path = sample[1]
    labels, pixels, usage = fast(csv_path, workers=workers)
    expected = general(csv_path)
    assert pixels.shape == (len(expected[0]), 2304) and pixels.dtype == np.uint8
    assert_same((labels, pixels, usage), expected)


def test_canonical_file_takes_the_fast_path(sample, monkeypatch):
    def fail(*a, **k):
        raise AssertionError("fell back to the general reader")

    monkeypatch.setattr(csvmod, "_read_challenge_general", fail)
    d = load_csv(sample[1], use_cache=False)
    assert len(d) == 696 and set(d.usage) == {"Training", "PublicTest", "PrivateTest"}


@pytest.mark.parametrize("rows,header", [
    ([f"3,{P}", f"0,{pixels_text(2)}"], "emotion,pixels"),  # no Usage column
    ([f"3,{P},Training", f"0,{pixels_text(2)},PrivateTest"], None),  # no header
    ([f"3,{P.replace(' ', '  ', 5)},Training"], "emotion,pixels,Usage"),  # double spaces
])
def test_accepted_variants_match_general_reader(tmp_path, rows, header):
    f = write_csv(tmp_path / "v.csv", rows, header)
    has_header, has_usage = header is not None, rows[0].count(",") == 2
    cols = {**COLS, "usage": 2 if has_usage else None}
    assert_same(fast(f, has_header, has_usage), general(f, has_header, cols))


def test_last_line_without_newline(tmp_path):
    f = tmp_path / "n.csv"
    f.write_text(f"emotion,pixels,Usage\n3,{P},Training\n5,{pixels_text(3)},PublicTest")
    labels, pixels, usage = fast(f)
    assert labels.tolist() == [3, 5] and usage.tolist() == ["Training", "PublicTest"]
    assert pixels[1].tolist() == [int(v) for v in pixels_text(3).split()]


VARIANTS = {
    "crlf": ("3,{P},Training\r\n", None),
    "quoted": ('3,"{P}",Training\n', None),
    "tab": ("3,{T},Training\n", None),
    "four digits": ("3,0012 {R},Training\n", None),
    "value 256": ("3,256 {R},Training\n", "line 2: pixel 1 has value 256"),
    "label 7": ("7,{P},Training\n", "line 2: label '7' is not a class index"),
    "label 10": ("10,{P},Training\n", "line 2: label '10' is not a class index"),
    "counts 2303 + 2305": ("3,{R},Training\n3,{P} 9,Training\n", "line 2: 2303 pixel values"),
    "trailing blank line": ("3,{P},Training\n\n", None),
    "blank line inside": ("3,{P},Training\n\n3,{P},Training\n", "line 3: empty line"),
    "usage with space": ("3,{P},Training \n", None),
    "bad usage": ("3,{P},Validation\n", "line 2: Usage 'Validation' is not one of"),
    "letter in pixels": ("3,{X},Training\n", "line 2: non-numeric pixel 'x"),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_unusual_files_fall_back_to_the_general_reader(tmp_path, name):
    rest = " ".join(P.split()[1:])
    body, error = VARIANTS[name]
    body = body.format(P=P, R=rest, T=P.replace(" ", "\t", 3), X=P.replace(" ", " x", 1))
    f = tmp_path / "u.csv"
    f.write_bytes(("emotion,pixels,Usage\n" + body).encode())
    with pytest.raises(csv_fast.NotCanonical):
        csv_fast.read_canonical(f, len("emotion,pixels,Usage\n"), True)
    if error is None:  # a variant the general reader accepts: same data as it reads
        d = load_csv(f, use_cache=False)
        assert_same((d.labels, d.images.reshape(-1, 2304), d.usage), general(f))
    else:  # invalid: the general reader names the line and the problem
        with pytest.raises(DataError, match=f"{f}: {error}"):
            load_csv(f, use_cache=False)
