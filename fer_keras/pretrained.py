"""Published models by name, like timm's pretrained configs and keras-hub's presets.

A published model (what `fer-keras publish` writes: model.keras, inference.json with its
SHA-256 and measured accuracy, card.md) is named `<experiment>/<cell>`, e.g.
`ozer/csv-ozer_cnn_lstm`. Its files live in one place per installation:
- a checkout: `reports/<experiment>/models/<cell>/`, beside the paper's report;
- an installed wheel: `fer_keras/published/<experiment>/models/<cell>/`, the same files
  shipped as package data (pyproject maps `reports/*/models/` there), so
  `fer-keras predict ozer/csv-ozer_cnn_lstm face.jpg` needs no checkout.
The SHA-256 is verified whenever a model is loaded (fer_keras.predict.resolve_model).

Light on purpose (no TensorFlow): `fer-keras models` lists them at once.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .cellfiles import MODEL_FILE, PUBLISHED_GLOB
from .errors import FerKerasError

PACKAGE = Path(__file__).resolve().parent
ROOTS = (PACKAGE / "published", PACKAGE.parent / "reports")  # installed wheel, checkout
NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class PretrainedError(FerKerasError, ValueError):
    pass


@dataclass(frozen=True)
class Published:
    name: str  # <experiment>/<cell>
    folder: Path
    model: str
    seed: int
    paper: str
    measured: dict = field(default_factory=dict)  # accuracy of the seed and of all seeds, claim


def published_in(root: Path) -> list[Published]:
    """The published models under one root (`<root>/<experiment>/models/<cell>/`), by name; a
    folder without its model file or with an unreadable description is left out (loading it
    by path says why)."""
    found = []
    for meta in sorted(Path(root).glob(PUBLISHED_GLOB)):
        if not (meta.parent / MODEL_FILE).is_file():
            continue
        try:
            info = json.loads(meta.read_text())
        except ValueError:
            continue
        found.append(Published(f"{meta.parents[2].name}/{meta.parent.name}", meta.parent,
                               info.get("model", "?"), int(info.get("seed", -1)),
                               info.get("paper", ""), info.get("measured") or {}))
    return sorted(found, key=lambda p: p.name)


def available() -> list[Published]:
    """Every published model of this installation, by name (the wheel's first)."""
    found: dict[str, Published] = {}
    for root in ROOTS:
        for p in published_in(root):
            found.setdefault(p.name, p)
    return sorted(found.values(), key=lambda p: p.name)


def looks_like_name(source: str | Path) -> bool:
    """A string of the form `<experiment>/<cell>` that is not a path on disk."""
    text = str(source)
    return bool(NAME.match(text)) and not Path(text).exists()


def folder_of(name: str) -> Path:
    """The folder of the published model `name`; an unknown name lists the known ones."""
    for p in available():
        if p.name == name:
            return p.folder
    names = [p.name for p in available()]
    close = difflib.get_close_matches(name, names, n=1)
    raise PretrainedError(f"{name}: no published model of that name and no such file or "
                          "folder" + (f"; did you mean {close[0]}?" if close else "")
                          + f" Expected one of: {', '.join(names) or 'none in this installation'}"
                          " (fer-keras models lists them), or a path to a .keras file or model "
                          "folder")
