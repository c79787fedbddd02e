"""`fer-keras publish`: the model of each cell of a finished run, ready to use without
training: `<out>/<cell>/model.keras` (behind the one input contract, no optimizer state),
`inference.json` (what `predict` reads, with the file's SHA-256) and `card.md`.

The published seed of a cell is the one with the lowest best validation loss: chosen on
validation data, never on test accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from .models.inference import CONTRACT, inference_model, model_file
from .provenance import sha256_file, write_json
from .reports.cards import card
from .reports.rundata import read_runs


def publish(runs_dir: Path, out: Path) -> list[Path]:
    experiment, runs = read_runs(runs_dir)
    cells: dict[str, list] = {}
    for r in runs:
        cells.setdefault(r.cell, []).append(r)
    written = []
    for cell, cruns in cells.items():
        chosen = min(cruns, key=lambda r: float(r.history["val_loss"].min()))
        source = model_file(chosen.folder)
        if source is None:
            continue  # a copy without model files (e.g. a report's runs/)
        folder = out / cell.replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        model = inference_model(keras.models.load_model(source, compile=False))
        model.save(folder / "model.keras")
        digest = sha256_file(folder / "model.keras")
        meta_path = chosen.folder / "inference.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
            "contract": CONTRACT, "model": chosen.model, "cell": cell, "seed": chosen.seed,
            "experiment": experiment.get("name"), "paper": experiment.get("paper"),
            "preprocess": None}
        write_json(folder / "inference.json", {**meta, "seed": chosen.seed, "sha256": digest,
                                               "source": f"{runs_dir.name}/"
                                               f"{chosen.folder.relative_to(runs_dir)}"})
        (folder / "card.md").write_text(card(cell, cruns, experiment, published=chosen,
                                             weights={"file": "model.keras",
                                                      "sha256": digest}))
        written.append(folder)
    return written
