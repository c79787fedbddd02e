"""Loader for the two CSV layouts of FER-2013, detected automatically.

* challenge layout: `emotion,pixels,Usage` (Goodfellow et al. 2013; the Kaggle `fer2013.csv`),
  pixels as one space-separated string of 2,304 values; `Usage` optional. Header variants seen
  in the wild are accepted: any case and surrounding spaces, `label`/`emotion`/`class` for the
  label column, `usage`/`split` for the split column, any column order, or no header at all.
* wide layout (Özer & Subaşı §2.1): the label, then 2,304 pixel columns; header optional.

The canonical file (one-digit labels, `emotion,pixels[,Usage]` in that order, `\n` line ends)
goes through `csv_fast`, a block-wise multi-threaded scanner; anything it does not recognise
falls back to the general reader here, which is the authority on what is valid. Parsing is
vectorised in both: never a Python loop over pixels. Every error names the file, the line and
what was expected.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.labels import NUM_CLASSES, SPLIT_NAMES
from . import cache, csv_fast
from .dataset import FerData
from .errors import DataError

PIXELS = csv_fast.PIXELS  # 48 x 48, one definition for both readers
LABEL_NAMES = ("emotion", "label", "labels", "emotions", "class", "target")
PIXEL_NAMES = ("pixels", "pixel", "image", "img")
USAGE_NAMES = ("usage", "split", "set")

_DIGIT_LO, _DIGIT_HI, _SPACE, _TAB, _NL = ord("0"), ord("9"), ord(" "), ord("\t"), ord("\n")


def _is_int(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _find(columns: list[str], names: tuple[str, ...]) -> int | None:
    for i, c in enumerate(columns):
        if c.strip().lower() in names:
            return i
    return None


def _detect(path: Path, first_line: str) -> tuple[str, bool, dict]:
    """(layout, has_header, column positions) from the first line."""
    fields = next(iter(pd.read_csv(io.StringIO(first_line), header=None, dtype=str,
                                   keep_default_na=False).itertuples(index=False)), ())
    fields = [str(f) for f in fields]
    has_header = not _is_int(fields[0]) if fields else False
    if len(fields) == PIXELS + 1:
        return "wide", has_header, {}
    if has_header:
        label, pixels, usage = (_find(fields, n) for n in (LABEL_NAMES, PIXEL_NAMES, USAGE_NAMES))
        missing = [n for n, i in (("emotion", label), ("pixels", pixels)) if i is None]
        if missing:
            raise DataError(
                f"{path}: line 1: missing column(s) {', '.join(missing)}; expected the "
                f"challenge header 'emotion,pixels,Usage' or a label column followed by "
                f"{PIXELS} pixel columns (found {len(fields)} column(s): "
                f"{', '.join(f[:20] for f in fields[:5])}{' ...' if len(fields) > 5 else ''})"
            )
        return "challenge", True, {"label": label, "pixels": pixels, "usage": usage}
    if len(fields) in (2, 3) and " " in fields[1].strip():
        usage = 2 if len(fields) == 3 else None
        return "challenge", False, {"label": 0, "pixels": 1, "usage": usage}
    raise DataError(
        f"{path}: line 1: cannot tell the CSV layout ({len(fields)} columns); expected "
        f"'emotion,pixels,Usage' or a label column followed by {PIXELS} pixel columns"
    )


def _line(row: int, has_header: bool) -> int:
    return row + (2 if has_header else 1)


def _labels(path: Path, values, has_header: bool) -> np.ndarray:
    text = pd.Series(values, dtype=str).str.strip()
    num = pd.to_numeric(text, errors="coerce")
    bad = num.isna() | (num % 1 != 0) | (num < 0) | (num >= NUM_CLASSES)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}: line {_line(row, has_header)}: label {text.iloc[row]!r} is not a class "
            f"index 0..{NUM_CLASSES - 1}"
        )
    return num.to_numpy().astype(np.int64)


def _token_at(buf: np.ndarray, pos: int) -> str:
    lo, hi = pos, pos
    while lo > 0 and buf[lo - 1] not in (_SPACE, _TAB, _NL):
        lo -= 1
    while hi < buf.size and buf[hi] not in (_SPACE, _TAB, _NL):
        hi += 1
    return bytes(buf[lo:hi]).decode("ascii", "replace")


def _pixel_problem(token: str) -> str:
    if token.strip() in ("", "nan", "None"):
        return f"missing pixel value (expected {PIXELS} pixel columns after the label)"
    try:
        value = float(token)
    except ValueError:
        return f"non-numeric pixel {token!r} (expected integers 0..255)"
    if value != int(value):
        return f"pixel {token!r} is not an integer 0..255"
    return f"pixel value {token} outside 0..255"


def _parse_pixel_strings(path: Path, strings: list[str], has_header: bool) -> np.ndarray:
    """Validate and parse space-separated pixel strings into (n, 2304) uint8, vectorised."""
    joined = "\n".join(strings)
    buf = np.frombuffer(joined.encode("ascii", errors="replace"), dtype=np.uint8)
    digit = (buf >= _DIGIT_LO) & (buf <= _DIGIT_HI)
    invalid = ~digit & (buf != _SPACE) & (buf != _TAB) & (buf != _NL)
    if invalid.any():
        pos = int(np.argmax(invalid))
        row = int(np.count_nonzero(buf[:pos] == _NL))
        raise DataError(f"{path}: line {_line(row, has_header)}: "
                        f"{_pixel_problem(_token_at(buf, pos))}")
    # A token starts where a digit follows a non-digit; count the starts between newlines.
    starts = digit.copy()
    starts[1:] &= ~digit[:-1]
    start_pos = np.flatnonzero(starts)
    row_ends = np.concatenate((np.flatnonzero(buf == _NL), [buf.size]))
    counts = np.diff(np.searchsorted(start_pos, row_ends), prepend=0)
    wrong = np.flatnonzero(counts != PIXELS)
    if wrong.size:
        row = int(wrong[0])
        raise DataError(f"{path}: line {_line(row, has_header)}: {int(counts[row])} pixel values, "
                        f"expected {PIXELS} (48x48)")
    # Every byte is now a digit or whitespace and every row has 2,304 tokens.
    values = np.fromstring(joined, dtype=np.int64, sep=" ")  # noqa: NPY201 (text mode is kept)
    if values.size != len(strings) * PIXELS:  # cannot happen after the checks above
        raise DataError(f"{path}: pixel data could not be parsed completely")
    over = np.flatnonzero(values > 255)
    if over.size:
        row = int(over[0] // PIXELS)
        raise DataError(f"{path}: line {_line(row, has_header)}: pixel {int(over[0] % PIXELS) + 1} "
                        f"has value {int(values[over[0]])}, outside 0..255")
    return values.astype(np.uint8).reshape(-1, PIXELS)


def _usage(path: Path, values, has_header: bool) -> np.ndarray:
    usage = pd.Series(values, dtype=str).str.strip().to_numpy()
    bad = ~np.isin(usage, SPLIT_NAMES)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {_line(row, has_header)}: Usage {usage[row]!r} is not one "
                        f"of {', '.join(SPLIT_NAMES)}")
    return usage.astype(str)


def _read_challenge(path: Path, has_header: bool, cols: dict) -> tuple:
    if cols["label"] == 0 and cols["pixels"] == 1 and cols["usage"] in (2, None):
        try:  # the canonical file: a fast scanner that gives up on anything unusual
            return _read_canonical(path, has_header, cols["usage"] is not None)
        except csv_fast.NotCanonical:
            pass  # the general reader accepts the variant or names the bad line
    return _read_challenge_general(path, has_header, cols)


# what a file that is not a CSV of text starts with: refused in words, not as garbage columns
MAGIC = {b"\x1f\x8b": "a gzip-compressed file; expected the plain CSV: gunzip it first",
         b"PK\x03\x04": "a ZIP archive; expected the plain CSV: unzip it first",
         b"\xff\xfe": "UTF-16 text; expected UTF-8 or ASCII: save it again as UTF-8",
         b"\xfe\xff": "UTF-16 text; expected UTF-8 or ASCII: save it again as UTF-8"}


def _first_non_utf8_line(path: Path) -> int | None:
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _not_text(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(4096)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise DataError(f"{path}: {what}")
    if b"\0" in head:
        raise DataError(f"{path}: a binary file (it holds NUL bytes); expected a CSV text file "
                        "with the header 'emotion,pixels,Usage'")


def _read_frame(path: Path, has_header: bool, **kwargs) -> pd.DataFrame:
    """pandas.read_csv with blank lines kept (so line numbers stay true), a row with too many
    fields named by its line, and trailing blank lines (an editor's last newline) dropped."""
    try:
        frame = pd.read_csv(path, header=0 if has_header else None, skip_blank_lines=False,
                            encoding="utf-8-sig", **kwargs)
    except UnicodeDecodeError:  # a byte that is not UTF-8: name its line
        raise DataError(f"{path}: line {_first_non_utf8_line(path)}: a byte that is not UTF-8 "
                        "text; expected a CSV of ASCII digits, commas and the Usage names"
                        ) from None
    except pd.errors.ParserError as e:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if found:
            expected, line, saw = found.groups()
            raise DataError(f"{path}: line {line}: {saw} fields, expected {expected} (as in "
                            "line 1)") from None
        raise DataError(f"{path}: not a readable CSV ({e})") from None
    blank = (frame.isna() | (frame == "")).all(axis=1)
    end = len(frame)
    while end and blank.iat[end - 1]:
        end -= 1
    frame = frame.iloc[:end]
    if blank.iloc[:end].any():
        row = int(np.flatnonzero(blank.iloc[:end].to_numpy())[0])
        raise DataError(f"{path}: line {_line(row, has_header)}: empty line (expected a data "
                        "row; only trailing empty lines are ignored)")
    return frame


def _read_challenge_general(path: Path, has_header: bool, cols: dict) -> tuple:
    frame = _read_frame(path, has_header, dtype=str, keep_default_na=False)
    labels = _labels(path, frame.iloc[:, cols["label"]], has_header)
    pixels = _parse_pixel_strings(path, frame.iloc[:, cols["pixels"]].tolist(), has_header)
    if cols["usage"] is not None:
        usage = _usage(path, frame.iloc[:, cols["usage"]], has_header)
    else:
        usage = np.full(len(labels), "", dtype="<U11")
    return labels, pixels, usage


def _read_canonical(path: Path, has_header: bool, has_usage: bool) -> tuple:
    with open(path, "rb") as f:
        head = f.readline()
    start = len(head) if has_header else (3 if head.startswith(b"\xef\xbb\xbf") else 0)
    labels, pixels, usage = csv_fast.read_canonical(path, start, has_usage)
    if usage is None:
        usage = np.full(len(labels), "", dtype="<U11")
    return labels, pixels, usage


def _read_wide(path: Path, has_header: bool) -> tuple:
    frame = _read_frame(path, has_header)
    if frame.shape[1] != PIXELS + 1:
        raise DataError(f"{path}: {frame.shape[1]} columns, expected a label and {PIXELS} pixels")
    labels = _labels(path, frame.iloc[:, 0].astype(str), has_header)
    values = frame.iloc[:, 1:]
    numeric = values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numeric) | (numeric < 0) | (numeric > 255) | (numeric % 1 != 0)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(f"{path}: line {_line(row, has_header)}: column {col + 2}: "
                        f"{_pixel_problem(str(values.iat[row, col]))}")
    usage = np.full(len(labels), "", dtype="<U11")
    return labels, numeric.astype(np.uint8), usage


def load_csv(path: str | os.PathLike, use_cache: bool = True) -> FerData:
    """Load a FER-2013 CSV in either layout; grey (n, 48, 48, 1) uint8 images."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        raise DataError(f"{path}: expected a CSV file, found a folder")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (expected a header 'emotion,pixels,Usage' and rows)")
    key = cache.file_key(path)
    options = {"path": str(path.resolve())}
    if use_cache and (hit := cache.load("csv", key, options)) is not None:
        return hit

    _not_text(path)
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        first = f.readline()
        second = f.readline()
    if not first.strip():
        raise DataError(f"{path}: line 1 is empty (expected a header or a data row)")
    layout, has_header, cols = _detect(path, first)
    if has_header and not second.strip():
        raise DataError(f"{path}: no data rows after the header")
    if layout == "wide":
        labels, pixels, usage = _read_wide(path, has_header)
    else:
        labels, pixels, usage = _read_challenge(path, has_header, cols)
    data = FerData(
        images=pixels.reshape(-1, 48, 48, 1),
        labels=labels,
        sources=np.array([f"{path}:{_line(i, has_header)}" for i in range(len(labels))]),
        usage=usage,
        notes=(f"CSV layout: {layout}",),
    )
    if use_cache:
        cache.store("csv", key, options, data)
    return data
