import numpy as np
import pytest

from fer_keras.data import DataError, load_directory
from tests.helpers import write_image_tree


def test_labels_by_folder_name_sources_and_splits(tmp_path):
    root = write_image_tree(tmp_path / "d", per_class=2)
    d = load_directory(root, use_cache=False)
    assert len(d) == 14 and d.images.shape == (14, 48, 48, 1)
    for src, label in zip(d.sources, d.labels):
        folder = src.split("/")[-2]
        assert label == ("angry", "disgust", "fear", "happy", "sad", "surprise",
                         "neutral").index(folder)
    assert set(d.usage) == {"Training"}


def test_synonym_and_case_insensitive_folders(tmp_path):
    root = write_image_tree(tmp_path / "d", per_class=1)
    (root / "happy").rename(root / "Happiness")
    (root / "angry").rename(root / "ANGER")
    d = load_directory(root, use_cache=False)
    assert sorted(d.labels.tolist()) == [0, 1, 2, 3, 4, 5, 6]


def test_train_test_root_and_subset(tmp_path):
    write_image_tree(tmp_path / "r" / "train", per_class=2, prefix="Training_")
    write_image_tree(tmp_path / "r" / "test", per_class=1, prefix="PublicTest_")
    assert len(load_directory(tmp_path / "r", use_cache=False)) == 21
    train = load_directory(tmp_path / "r", subset="train", use_cache=False)
    assert len(train) == 14 and set(train.usage) == {"Training"}
    test = load_directory(tmp_path / "r", subset="test", use_cache=False)
    assert len(test) == 7 and set(test.usage) == {"PublicTest"}


def test_rgb_mode_repeats_the_grey_channel(tmp_path):
    root = write_image_tree(tmp_path / "d", per_class=1)
    rgb = load_directory(root, color_mode="rgb", use_cache=False)
    grey = load_directory(root, use_cache=False)
    assert rgb.images.shape == (7, 48, 48, 3)
    assert (rgb.images == grey.images).all()


def test_other_sizes_are_resized_and_counted(tmp_path, capsys):
    root = write_image_tree(tmp_path / "d", per_class=1, size=64)
    d = load_directory(root, use_cache=False)
    assert d.images.shape == (7, 48, 48, 1)
    assert d.notes == ("7 image(s) were not 48x48 and were resized",)
    assert "7 image(s) were not 48x48" in capsys.readouterr().err


def test_non_images_and_empty_folders_are_warnings(tmp_path, capsys):
    root = write_image_tree(tmp_path / "d", per_class=1)
    (root / "fear" / "notes.txt").write_text("x")
    (root / "fear" / "Thumbs.db").write_text("x")
    for f in (root / "disgust").iterdir():
        f.unlink()
    d = load_directory(root, use_cache=False)
    err = capsys.readouterr().err
    assert len(d) == 6
    assert "fear: skipped 2 non-image file(s): Thumbs.db, notes.txt" in err
    assert "disgust: empty class folder" in err


def test_unknown_class_folder_is_an_error(tmp_path):
    root = write_image_tree(tmp_path / "d", per_class=1)
    (root / "contempt").mkdir()
    with pytest.raises(DataError, match=r"contempt: unknown class folder 'contempt'; expected one"):
        load_directory(root, use_cache=False)


def test_corrupt_image_is_an_error_naming_the_file(tmp_path):
    root = write_image_tree(tmp_path / "d", per_class=1)
    bad = root / "sad" / "Training_broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError) as e:
        load_directory(root, use_cache=False)
    assert str(e.value) == (f"{bad}: truncated or corrupt JPEG (no end-of-image marker); "
                            "expected a complete file: re-copy or remove it")


def test_truncated_jpeg_is_an_error_not_grey_padding(tmp_path):
    """libjpeg decodes half a JPEG without failing (grey fill, a warning naming no file)."""
    root = write_image_tree(tmp_path / "d", per_class=1, ext=".jpg")
    whole = root / "happy" / "Training_happy0.jpg"
    data = whole.read_bytes()
    whole.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=f"{whole}: truncated or corrupt JPEG"):
        load_directory(root, use_cache=False)
    whole.write_bytes(data + b"\0" * 16)  # padding after the end marker is harmless
    assert len(load_directory(root, use_cache=False)) == 7


def test_truncated_png_is_an_error_naming_the_file(tmp_path):
    root = write_image_tree(tmp_path / "d", per_class=1)
    png = root / "fear" / "Training_fear0.png"
    png.write_bytes(png.read_bytes()[:200])
    with pytest.raises(DataError, match=f"{png}: unreadable or corrupt image"):
        load_directory(root, use_cache=False)


@pytest.mark.parametrize("case", ["missing", "file", "empty"])
def test_path_problems(tmp_path, case):
    path = tmp_path / "x"
    if case == "file":
        path.write_text("")
    elif case == "empty":
        path.mkdir()
    message = {"missing": "no such file or folder", "file": "found a file",
               "empty": "no class folders found"}[case]
    with pytest.raises(DataError, match=message):
        load_directory(path)


def test_class_folders_without_images_is_an_error(tmp_path):
    (tmp_path / "d" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no images found"):
        load_directory(tmp_path / "d")


def test_warm_load_uses_the_cache(tmp_path, monkeypatch):
    import fer_keras.data.directory as dirmod

    root = write_image_tree(tmp_path / "d", per_class=1)
    first = load_directory(root)
    monkeypatch.setattr(dirmod, "_decode", lambda p: (_ for _ in ()).throw(AssertionError(p)))
    assert load_directory(root).fingerprint == first.fingerprint
    np.testing.assert_array_equal(load_directory(root).labels, first.labels)


def test_threaded_decode_keeps_every_image_with_its_file(tmp_path, monkeypatch):
    # 350 files: several threads each decode a share into one array; order must survive.
    import os

    import cv2

    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    root = write_image_tree(tmp_path / "t", per_class=50)
    d = load_directory(root, use_cache=False)
    assert len(d) == 350
    for i in (0, 116, 117, 233, 234, 349):  # both sides of every share boundary
        expected = cv2.imread(str(d.sources[i]), cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(d.images[i, ..., 0], expected)


def test_two_folders_for_one_class_are_an_error_not_a_merge(tmp_path):
    write_image_tree(tmp_path / "d", per_class=1)
    write_image_tree(tmp_path / "extra", per_class=1)
    (tmp_path / "extra" / "happy").rename(tmp_path / "d" / "Happy")
    with pytest.raises(DataError, match=r"d/happy: a second folder for class 'happy' \(beside "
                                        r"Happy/\); expected one folder per emotion"):
        load_directory(tmp_path / "d", use_cache=False)


def test_valid_jpegs_are_accepted_whatever_follows_or_precedes_their_image_data(tmp_path):
    """Trailing metadata after the end-of-image marker, progressive encoding, and an EXIF-like
    segment holding its own end-of-image marker before the image data: all complete files."""
    import cv2

    root = write_image_tree(tmp_path / "d", per_class=1, ext=".jpg")
    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    plain = cv2.imencode(".jpg", face)[1].tobytes()
    progressive = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    app1 = b"\xff\xe1" + (2 + 6).to_bytes(2, "big") + b"\xff\xd9" + b"EXIF"
    (root / "happy" / "trailer.jpg").write_bytes(plain + b"\0" * 300 + b"maker notes" * 20)
    (root / "happy" / "progressive.jpg").write_bytes(progressive)
    (root / "happy" / "app1.jpg").write_bytes(plain[:2] + app1 + plain[2:])
    data = load_directory(root, use_cache=False)
    assert len(data) == 7 + 3
    # and a file cut short still is not
    (root / "sad" / "cut.jpg").write_bytes((plain[:2] + app1 + plain[2:])[:200])
    with pytest.raises(DataError, match="cut.jpg: truncated or corrupt JPEG"):
        load_directory(root, use_cache=False)


def test_a_file_name_that_is_not_utf8_loads_without_crashing(tmp_path):
    """OpenCV's imread ends the process with a segmentation fault on such a name."""
    import os
    import subprocess
    import sys

    root = write_image_tree(tmp_path / "d", per_class=1)
    odd = os.fsencode(root / "happy") + b"/caf\xe9.png"
    with open(odd, "wb") as f:
        f.write((root / "happy" / "Training_happy0.png").read_bytes())
    code = ("import sys; from fer_keras.data import load_directory; "
            "print(len(load_directory(sys.argv[1], use_cache=False)))")
    res = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert res.returncode == 0 and res.stdout.strip() == "8", res.stderr


def _odd(root, case):
    """One odd file in happy/ (or beside the class folders): what a user's copy may hold."""
    import os

    import cv2
    from PIL import Image

    face = (np.arange(48 * 48) % 200).astype(np.uint8).reshape(48, 48)
    happy = root / "happy"
    if case == "png named .jpg":
        cv2.imwrite(str(happy / "z.png"), face)
        os.rename(happy / "z.png", happy / "z.jpg")
    elif case == "jpeg named .png":
        cv2.imwrite(str(happy / "z.jpg"), face)
        os.rename(happy / "z.jpg", happy / "z.png")
    elif case in ("webp", "tif", "gif", "bmp"):
        Image.fromarray(face).save(happy / f"z.{case}", lossless=True)  # webp: lossless
    elif case == "16-bit png":
        cv2.imwrite(str(happy / "z.png"), face.astype(np.uint16) * 257)
    elif case == "png with alpha":
        cv2.imwrite(str(happy / "z.png"), cv2.cvtColor(face, cv2.COLOR_GRAY2BGRA))
    elif case == "cmyk jpeg":
        Image.fromarray(face).convert("CMYK").save(happy / "z.jpg", quality=95)
    elif case == "upper-case .JPG":
        cv2.imwrite(str(happy / "Z.JPG"), face)
    elif case == "empty .jpg":
        (happy / "z.jpg").write_bytes(b"")
    elif case == "text named .png":
        (happy / "z.png").write_text("hello")
    elif case == "folder named .jpg":
        (happy / "z.jpg").mkdir()
    elif case == "broken link":
        os.symlink(root / "nowhere.jpg", happy / "z.jpg")
    elif case == "hidden files":
        (happy / ".DS_Store").write_bytes(b"\0")
        (happy / "._z.jpg").write_bytes(b"\0\5")  # macOS resource fork: not an image
    elif case == "file beside the class folders":
        (root / "notes.txt").write_text("x")


@pytest.mark.parametrize("case,outcome", [
    ("png named .jpg", 8), ("jpeg named .png", 8), ("webp", 8), ("tif", 8), ("gif", 8),
    ("bmp", 8), ("16-bit png", 8), ("png with alpha", 8), ("cmyk jpeg", 8),
    ("upper-case .JPG", 8),
    ("empty .jpg", "z.jpg: empty file (0 bytes)"),
    ("text named .png", "z.png: unreadable or corrupt image"),
    ("folder named .jpg", "happy: skipped 1 non-image file(s): z.jpg"),
    ("broken link", "happy: skipped 1 broken link(s): z.jpg"),
    ("hidden files", 7),
    ("file beside the class folders", "skipped 1 file(s) beside the class folders: notes.txt"),
])
def test_odd_files_are_read_when_valid_and_named_when_not(tmp_path, capsys, case, outcome):
    """Valid images of any format OpenCV reads are loaded, whatever their name says; a file
    that is not one is an error naming it (or a warning naming it when it is no image file
    at all); hidden files are no one's images."""
    root = write_image_tree(tmp_path / "d", per_class=1)
    _odd(root, case)
    if isinstance(outcome, int):
        d = load_directory(root, use_cache=False)
        assert len(d) == outcome
        if outcome == 8:  # the odd file is read as the face it holds
            z = next(i for i, s in enumerate(d.sources) if s.lower().split("/")[-1]
                     .startswith("z."))
            face = (np.arange(48 * 48) % 200).astype(np.uint8).reshape(48, 48)
            assert np.abs(d.images[z, ..., 0].astype(int) - face).mean() < 2  # JPEG: lossy
        assert capsys.readouterr().err == ""
    elif "skipped" in outcome:
        assert len(load_directory(root, use_cache=False)) == 7
        assert outcome in capsys.readouterr().err
    else:
        with pytest.raises(DataError, match=outcome.replace("(", r"\(").replace(")", r"\)")):
            load_directory(root, use_cache=False)
