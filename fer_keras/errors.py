"""Errors the CLI turns into one `error: ...` line and exit status 2. Importing this module
must stay cheap (no TensorFlow), so data commands start fast."""

from __future__ import annotations

from .config import ConfigError  # noqa: F401
from .data.errors import DataError  # noqa: F401


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
