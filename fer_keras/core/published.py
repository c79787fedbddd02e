"""The published models under a folder, read as the run-folder contract lays them out
(`<root>/<experiment>/models/<cell>/`: model.keras, inference.json, card.md).

`fer_keras.use.pretrained` finds them by name for predict; the README's generated blocks
(reports/markdown.py) list them. Both read this one function, so neither wing imports the
other. Light (no TensorFlow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .cellfiles import MODEL_FILE, PUBLISHED_GLOB


@dataclass(frozen=True)
class Published:
    name: str  # <experiment>/<cell>
    folder: Path
    model: str
    seed: int
    paper: str
    measured: dict = field(default_factory=dict)  # accuracy of the seed and of all seeds, claim
    flip: bool = False  # predict averages each face with its mirror image by default


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
                               info.get("paper", ""), info.get("measured") or {},
                               bool(info.get("flip", False))))
    return sorted(found, key=lambda p: p.name)
