"""Errors and warnings of the data layer.

A DataError's message is one readable line naming the file (and row/line where there is one)
and what was expected; the CLI prints it and exits with status 2, without a traceback.
"""

from __future__ import annotations

import sys

from ..core.errors import FerKerasError


class DataError(FerKerasError, ValueError):
    """Input data that cannot be used as it is."""


def warn(message: str) -> None:
    """A problem that does not stop loading (skipped files, empty class folders, resizes)."""
    print(f"warning: {message}", file=sys.stderr)
