"""The one base class of every user-facing error, and nothing else.

Every layer's errors subclass `FerKerasError`; the CLI catches it and prints one line
`error: <what>: <where>: <what was expected>` with exit status 2, never a traceback. This
module imports nothing (not TensorFlow, not the config or data layers), so any layer may
import it without learning about the others.
"""

from __future__ import annotations


class FerKerasError(Exception):
    """A mistake in what the user gave us (file, key, value, path), told in one line."""


class UnknownModelError(FerKerasError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class OutputPathError(FerKerasError):
    """An output path that is a file where a folder is needed, or cannot be created."""
