"""Fast path of the CSV loader for the canonical challenge file (`emotion,pixels,Usage`).

The general loader (`csv.py`) reads the file with pandas, then validates and parses the pixel
strings as one big byte array. On this project's machines that costs about 7 s for the full
35,887-row file: most of it is not arithmetic but the first touch of several freshly allocated
300 MB arrays (page faults in the VM), plus pandas building 35,887 Python strings.

This scanner reads the file in blocks of about 8 MB into one reused buffer per thread and does
every step with NumPy ufuncs writing into preallocated scratch arrays (`out=`), so the working
set stays in cache and the only large allocation is the output itself. Each worker thread owns
a byte range of the file cut at a line boundary; NumPy releases the GIL inside ufuncs, so the
ranges are parsed in parallel.

It accepts only the exact shape of the canonical file: one-digit labels 0..6, pixel fields of
digits and spaces, an optional Usage column holding a split name, `\\n` line ends, no quotes.
Anything else (CRLF, quotes, tabs, 4-digit numbers, a wrong count, a bad label...) makes it
give up with `NotCanonical`; the caller then runs the general loader, which either accepts the
variant or reports the exact file, line and problem. So this module never reports errors and
never decides what is valid: it only recognises the common case quickly.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..core.labels import NUM_CLASSES, SPLIT_NAMES

PIXELS = 48 * 48
BLOCK = 8 << 20  # bytes read per step; big enough to amortise the Python overhead per block
_NL, _COMMA, _SPACE, _ZERO = 10, 44, 32, 48
_SPLITS = {name.encode("ascii"): name for name in SPLIT_NAMES}


class NotCanonical(Exception):  # noqa: N818 (a signal to fall back, not an error for users)
    """The file is not in the exact canonical shape; use the general loader."""


def _line_ranges(path: Path, start: int, parts: int) -> list[tuple[int, int]]:
    """Cut [start, size) into `parts` byte ranges that each begin at a line start."""
    size = path.stat().st_size
    cuts = [start]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(max(start + (size - start) * i // parts, cuts[-1]))
            f.readline()  # move to the next line start
            cuts.append(min(f.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _count_rows(path: Path, lo: int, hi: int) -> int:
    """Lines in [lo, hi); a final line without a newline counts too."""
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    rows, last = 0, _NL
    with open(path, "rb") as f:
        f.seek(lo)
        left = hi - lo
        while left:
            n = f.readinto(view[: min(BLOCK, left)])
            if not n:
                break
            rows += buf.count(b"\n", 0, n)
            last = buf[n - 1]
            left -= n
    return rows + (last != _NL)


class _Scratch:
    """Arrays reused for every block a worker parses (sized for the largest block)."""

    def __init__(self, size: int):
        self.d = np.empty(size, np.uint8)  # byte - '0' (wraps for non-digits)
        self.dig = np.empty(size, bool)  # is a digit
        self.nd = np.empty(size, bool)  # is not a digit
        self.dz = np.empty(size, np.uint8)  # digit value, 0 elsewhere
        self.m = np.empty(size, bool)
        self.end = np.empty(size, bool)  # last digit of a pixel value
        self.h = np.empty(size, np.uint8)  # hundreds of the number ending here, then its value
        self.t = np.empty(size, np.uint8)  # tens and units of the number ending here


def _parse_block(b: np.ndarray, s: _Scratch, has_usage: bool):
    """Parse complete lines `b` (ending in a newline) -> (labels, pixels (rows, 2304), usage)."""
    n = b.size
    d, dig, nd, dz, h, t, m, end = (
        a[:n] for a in (s.d, s.dig, s.nd, s.dz, s.h, s.t, s.m, s.end)
    )
    np.subtract(b, np.uint8(_ZERO), out=d)
    np.less(d, np.uint8(10), out=dig)
    np.logical_not(dig, out=nd)
    # Bytes that are neither digits nor spaces: commas, newlines, Usage letters (few per line).
    np.not_equal(b, np.uint8(_SPACE), out=m)
    np.logical_and(m, nd, out=m)
    special = np.flatnonzero(m)
    char = b[special]
    newlines = special[char == _NL]
    commas = special[char == _COMMA]
    rows = newlines.size
    per_line = 2 if has_usage else 1
    if commas.size != rows * per_line:
        raise NotCanonical
    commas = commas.reshape(rows, per_line)
    starts = np.concatenate(([0], newlines[:-1] + 1))
    # Label: exactly one digit 0..6 followed by the first comma (the caller strips the header).
    if not np.array_equal(commas[:, 0], starts + 1):
        raise NotCanonical
    labels = d[starts].astype(np.int64)
    if labels.max(initial=0) >= NUM_CLASSES:
        raise NotCanonical
    # Pixel field: between the first comma and the second comma (or the newline); nothing but
    # digits and spaces in it.
    field_end = commas[:, 1] if has_usage else newlines
    first_inside = np.searchsorted(special, commas[:, 0], side="right")
    if not np.array_equal(special[first_inside], field_end):
        raise NotCanonical
    # The last digit of every number, the labels' excluded (they sit at the line starts).
    np.logical_and(dig[:-1], nd[1:], out=end[:-1])
    end[-1] = False
    end[starts] = False
    counts = np.add.reduceat(end.view(np.uint8), starts, dtype=np.int32)
    if np.any(counts != PIXELS):
        raise NotCanonical
    # No number longer than three digits (the general loader reports those).
    np.logical_and(dig[3:], dig[2:-1], out=m[3:])
    np.logical_and(m[3:], dig[1:-2], out=m[3:])
    np.logical_and(m[3:], dig[:-3], out=m[3:])
    if m[3:].any():
        raise NotCanonical
    # Value of a number of at most three digits ending at i: 100 h + t with h = dz[i-2] when
    # i-1 is a digit (else i-2 belongs to the previous number) and t = 10 dz[i-1] + dz[i].
    # All in uint8 (bool masks viewed as 0/1 bytes) so every ufunc runs its native loop;
    # values over 255 (h > 2, or h = 2 and t > 55) are caught before the wrapping sum.
    # Positions 0 and 1 of a block are a label and a comma, never a pixel's last digit.
    h, t, m, end, dz_ = h[2:], t[2:], m[2:], end[2:], dz[2:]
    np.multiply(d, dig.view(np.uint8), out=dz)
    np.multiply(dz[:-2], dig[1:-1].view(np.uint8), out=h)
    np.multiply(dz[1:-1], np.uint8(10), out=t)
    np.add(t, dz_, out=t)
    over, two = dig[2:], nd[2:]  # scratch: dig and nd are not needed any more
    np.greater(t, np.uint8(55), out=over)
    np.equal(h, np.uint8(2), out=two)
    np.logical_and(over, two, out=over)
    np.greater(h, np.uint8(2), out=two)
    np.logical_or(over, two, out=over)
    np.logical_and(over, end, out=over)
    if over.any():
        raise NotCanonical
    np.multiply(h, np.uint8(100), out=h)
    np.add(h, t, out=h)
    pixels = np.compress(end, h)
    usage = None
    if has_usage:
        raw = b.tobytes()
        names = [_SPLITS.get(raw[a + 1 : z]) for a, z in zip(commas[:, 1], newlines, strict=True)]
        if None in names:
            raise NotCanonical
        usage = np.array(names, dtype="<U11")
    return labels, pixels.reshape(rows, PIXELS), usage


def _parse_range(path: Path, lo: int, hi: int, has_usage: bool, out: np.ndarray):
    """Parse [lo, hi) block by block into `out` (the rows of this range)."""
    buf = bytearray(BLOCK + 2 * PIXELS * 4 + 64)  # a block plus room for one carried-over line
    arr = np.frombuffer(buf, np.uint8)
    scratch = _Scratch(len(buf))
    labels, usage, row, kept = [], [], 0, 0
    with open(path, "rb") as f:
        f.seek(lo)
        left = hi - lo
        while left or kept:
            n = f.readinto(memoryview(buf)[kept : kept + min(BLOCK, left)]) if left else 0
            left -= n
            size = kept + n
            if not left and size and buf[size - 1] != _NL:  # last line without a newline
                buf[size] = _NL
                size += 1
            cut = buf.rfind(b"\n", 0, size) + 1
            if cut == 0:
                if len(buf) - size < BLOCK // 2:  # a line longer than any canonical line
                    raise NotCanonical
                kept = size
                continue
            lab, pix, use = _parse_block(arr[:cut], scratch, has_usage)
            if row + len(lab) > len(out):
                raise NotCanonical
            out[row : row + len(lab)] = pix
            row += len(lab)
            labels.append(lab)
            usage.append(use)
            kept = size - cut
            buf[:kept] = buf[cut:size]
            if not left and not kept:
                break
    if row != len(out):
        raise NotCanonical
    return labels, usage


def read_canonical(path: Path, start: int, has_usage: bool, workers: int | None = None):
    """(labels int64, pixels (n, 2304) uint8, usage or None) of the data lines from byte
    offset `start` (just after the header); raises NotCanonical when the file is not in the
    exact canonical shape."""
    workers = workers or min(os.cpu_count() or 1, 8)
    ranges = _line_ranges(path, start, workers)
    if not ranges:
        raise NotCanonical
    with ThreadPoolExecutor(len(ranges)) as pool:
        rows = list(pool.map(lambda r: _count_rows(path, *r), ranges))
        pixels = np.empty((sum(rows), PIXELS), np.uint8)
        offsets = np.concatenate(([0], np.cumsum(rows)))
        parts = list(pool.map(
            lambda i: _parse_range(path, *ranges[i], has_usage,
                                   pixels[offsets[i] : offsets[i + 1]]),
            range(len(ranges)),
        ))
    labels = np.concatenate([lab for part in parts for lab in part[0]])
    usage = np.concatenate([u for part in parts for u in part[1]]) if has_usage else None
    return labels, pixels, usage
