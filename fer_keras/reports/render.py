"""What every report page shares: the template environments (HTML with autoescaping, Markdown
without) and copying a cell's small files into a report. Imported by the run report, the
study report and the Markdown blocks alike, so none of them imports another."""

from __future__ import annotations

import shutil
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape


def html_env() -> Environment:
    return Environment(loader=PackageLoader("fer_keras.reports", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                       lstrip_blocks=True)


def markdown_env() -> Environment:
    return Environment(loader=PackageLoader("fer_keras.reports", "templates"),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def copy_files(folder: Path, target: Path, names: tuple[str, ...]) -> None:
    """A cell folder's files of these names (those it has) into a new folder."""
    target.mkdir(parents=True)
    for name in names:
        if (folder / name).exists():
            shutil.copyfile(folder / name, target / name)
