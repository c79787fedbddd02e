"""What every report page shares: the template environments (HTML with autoescaping, Markdown
without) and copying a cell's small files into a report. Imported by the run report, the
study report and the Markdown blocks alike, so none of them imports another."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape


def html_env() -> Environment:
    return Environment(loader=PackageLoader("fer_keras.reports", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                       lstrip_blocks=True)


def markdown_env() -> Environment:
    return Environment(loader=PackageLoader("fer_keras.reports", "templates"),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
