import numpy as np
import pytest

from fer_keras.cli import main
from fer_keras.data import DataError, load_csv
from tests.helpers import pixels_text, write_csv

P = pixels_text()


def test_challenge_layout(tmp_path):
    f = write_csv(tmp_path / "a.csv", [f"3,{P},Training", f"6,{pixels_text(1)},PrivateTest"])
    d = load_csv(f, use_cache=False)
    assert d.images.shape == (2, 48, 48, 1) and d.images.dtype == np.uint8
    assert d.labels.tolist() == [3, 6]
    assert d.usage.tolist() == ["Training", "PrivateTest"]
    assert d.images[0].ravel().tolist() == [int(v) for v in P.split()]
    assert d.sources.tolist() == [f"{f}:2", f"{f}:3"]


@pytest.mark.parametrize("header,row", [
    ("Emotion, Pixels, Usage", f"1,{P},PublicTest"),
    ("emotion,Usage,pixels", f"1,PublicTest,{P}"),
    ("label,pixels", f"1,{P}"),
    ("\ufeffemotion,pixels,Usage", f"1,{P},PublicTest"),
    (None, f"1,{P},PublicTest"),
    (None, f"1,{P}"),
])
def test_header_variants(tmp_path, header, row):
    d = load_csv(write_csv(tmp_path / "v.csv", [row], header), use_cache=False)
    assert d.labels.tolist() == [1]
    assert d.images[0].ravel().tolist() == [int(v) for v in P.split()]


def test_quoted_pixels_and_extra_spaces(tmp_path):
    d = load_csv(write_csv(tmp_path / "q.csv", [f'2,"  {P}  ",Training']), use_cache=False)
    assert d.images[0].ravel().tolist() == [int(v) for v in P.split()]


@pytest.mark.parametrize("header", [True, False])
def test_wide_layout_of_ozer(tmp_path, header):
    values = P.split()
    head = ",".join(["emotion"] + [f"pixel_{i}" for i in range(2304)]) if header else None
    f = write_csv(tmp_path / "w.csv", ["5," + ",".join(values), "0," + ",".join(values)], head)
    d = load_csv(f, use_cache=False)
    assert d.labels.tolist() == [5, 0]
    assert d.images[1].ravel().tolist() == [int(v) for v in values]
    assert d.usage.tolist() == ["", ""]


BAD = [
    # (rows, header, expected message part)
    ([f"3,{' '.join(P.split()[:2303])},Training"], "emotion,pixels,Usage",
     "line 2: 2303 pixel values, expected 2304"),
    ([f"3,{P},Training", f"3,{P} 7,Training"], "emotion,pixels,Usage",
     "line 3: 2305 pixel values, expected 2304"),
    ([f"3,{P.replace(' ', ' abc ', 1)},Training"], "emotion,pixels,Usage",
     "line 2: non-numeric pixel 'abc'"),
    ([f"3,{P},Training", f"3,{'256 ' + ' '.join(P.split()[1:])},Training"],
     "emotion,pixels,Usage", "line 3: pixel 1 has value 256, outside 0..255"),
    ([f"3,{'-1 ' + ' '.join(P.split()[1:])},Training"], "emotion,pixels,Usage",
     "line 2: pixel value -1 outside 0..255"),
    ([f"3,{'1.5 ' + ' '.join(P.split()[1:])},Training"], "emotion,pixels,Usage",
     "line 2: pixel '1.5' is not an integer"),
    ([f"3,{P},Training", f"7,{P},Training"], "emotion,pixels,Usage",
     "line 3: label '7' is not a class index 0..6"),
    ([f"x,{P},Training"], "emotion,pixels,Usage", "line 2: label 'x' is not a class index"),
    ([f"3,{P},Validation"], "emotion,pixels,Usage", "line 2: Usage 'Validation' is not one of"),
    (["3,Training"], "emotion,Usage", "line 1: missing column(s) pixels"),
    ([f"{P},Training"], "pixels,Usage", "line 1: missing column(s) emotion"),
    ([], "emotion,pixels,Usage", "no data rows after the header"),
]


@pytest.mark.parametrize("rows,header,message", BAD)
def test_bad_input_names_file_line_and_expectation(tmp_path, rows, header, message):
    f = write_csv(tmp_path / "bad.csv", rows, header)
    with pytest.raises(DataError) as e:
        load_csv(f, use_cache=False)
    assert str(e.value).startswith(str(f)), str(e.value)
    assert message in str(e.value), str(e.value)


def test_wide_layout_bad_pixel_names_line_and_column(tmp_path):
    values = P.split()
    values[9] = "oops"
    f = write_csv(tmp_path / "w.csv", ["5," + ",".join(values)], None)
    with pytest.raises(DataError, match=r"line 1: column 11: non-numeric pixel 'oops'"):
        load_csv(f, use_cache=False)


def test_empty_file_and_missing_path(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty file"):
        load_csv(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="no such file or folder"):
        load_csv(tmp_path / "nope.csv")


def test_cli_reports_one_line_and_exit_2(tmp_path, capsys):
    f = write_csv(tmp_path / "bad.csv", [f"9,{P},Training"])
    assert main(["data", "audit", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {f}: line 2: label '9' is not a class index 0..6"]
    assert main(["data", "audit", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    import fer_keras.data.csv as csvmod

    f = write_csv(tmp_path / "c.csv", [f"3,{P},Training"])
    first = load_csv(f)

    def fail(*a, **k):
        raise AssertionError("parsed again instead of using the cache")

    monkeypatch.setattr(csvmod, "_read_challenge", fail)
    again = load_csv(f)
    assert again.fingerprint == first.fingerprint
    # a change to the file changes the key: parsed again (and here, fails loudly)
    write_csv(f, [f"4,{P},Training"])
    with pytest.raises(AssertionError, match="parsed again"):
        load_csv(f)


@pytest.mark.parametrize("name,message", [
    ("gzip", "a gzip-compressed file; expected the plain CSV: gunzip it first"),
    ("zip", "a ZIP archive; expected the plain CSV: unzip it first"),
    ("utf-16", "UTF-16 text; expected UTF-8 or ASCII"),
    ("binary", "a binary file (it holds NUL bytes)"),
    ("latin-1 on line 3", "line 3: a byte that is not UTF-8 text"),
])
def test_a_file_that_is_no_csv_text_is_named_in_words(tmp_path, name, message):
    import gzip
    import io
    import zipfile

    p = " ".join(["128"] * 2304)
    text = f"emotion,pixels,Usage\n3,{p},Training\n"
    if name == "gzip":
        data = gzip.compress(text.encode())
    elif name == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("fer2013.csv", text)
        data = buf.getvalue()
    elif name == "utf-16":
        data = text.encode("utf-16")
    elif name == "binary":
        data = bytes(range(256)) * 4
    else:
        data = (text + f"3,{p},Tr\xe4ining\n").encode("latin-1")
    f = tmp_path / "x.csv"
    f.write_bytes(data)
    with pytest.raises(DataError) as e:
        load_csv(f, use_cache=False)
    assert str(e.value).startswith(f"{f}: ") and message in str(e.value)
    assert "\n" not in str(e.value)
