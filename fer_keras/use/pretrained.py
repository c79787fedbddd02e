"""Published models by name, like timm's pretrained configs and keras-hub's presets.

A published model (what `fer-keras publish` writes: model.keras, inference.json with its
SHA-256 and measured accuracy, card.md) is named `<experiment>/<cell>`, e.g.
`ozer/csv-ozer_cnn_lstm`. Its files live in one place per installation:
- a checkout: `reports/<experiment>/models/<cell>/`, beside the paper's report;
- an installed wheel: `fer_keras/published/<experiment>/models/<cell>/`, the same files
  shipped as package data (pyproject maps `reports/*/models/` there), so
  `fer-keras predict ozer/csv-ozer_cnn_lstm face.jpg` needs no checkout.
The SHA-256 is verified whenever a model is loaded (fer_keras.use.predict.resolve_model).

Light on purpose (no TensorFlow): `fer-keras models` lists them at once.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from ..core.cellfiles import CONFIG_FILE, INFERENCE_FILE
from ..core.errors import FerKerasError
from ..core.published import Published, published_in  # noqa: F401  (part of this API)

# The model used when none is named (`fer-keras predict photo.jpg`, `top_emotion`,
# `Predictor.from_pretrained()`): the interim rule of the first-hour issue (#65), until the
# common-protocol benchmark (#63) publishes its own. Of the published models that never trained
# on test/ images, the one with the best validation accuracy (default_choice, pinned against the
# committed runs by tests/test_first_hour.py). ASSUMPTION: "never trained on test/" also rules
# out a model that chose its epoch on test/ images (the official split's PublicTest), so that
# its score on test/ is a clean one; xu/csv-xu_cnn is out for that reason.
# Once the benchmark publishes (its REPRODUCE ends with `publish --chosen`: the cell its
# leaderboard chooses on PublicTest), its model is the default instead: chosen on PublicTest,
# scored once on PrivateTest, so that score is a clean one. default_rule_choice pins both.
DEFAULT_MODEL = "wasey/directory-wasey_cnn_lstm"
DEFAULT_RULE = ("of the published models that neither trained on test/ images nor chose their "
                "epoch with them, the best by validation accuracy; interim, until the "
                "common-protocol benchmark publishes its default")
DEFAULT_FROM = "benchmark"  # the experiment whose published model, once there, is the default

PACKAGE = Path(__file__).resolve().parents[1]  # fer_keras/
ROOTS = (PACKAGE / "published", PACKAGE.parent / "reports")  # installed wheel, checkout
NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class PretrainedError(FerKerasError, ValueError):
    pass


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


def uses_test_images(config: dict) -> bool:
    """Whether a cell (its resolved config.json) trained on, or chose its epoch with, images of
    the export's test/ folder (the challenge's PublicTest and PrivateTest rows): a stratified
    split over every image draws its training part from test/ too; the official split chooses
    the epoch on PublicTest; the folders split trains and validates inside train/ unless it
    validates on the test part itself."""
    split, validation = config["split"], config["validation"]
    if split == "folders":
        return validation == "test"
    if split == "official":
        return True
    fmt = config["cell"]["format"]
    subset = config["directory_subset"] if fmt == "directory" else config["csv_subset"]
    return subset not in ("train", "Training") or validation == "test"


def default_choice(reports: Path) -> list[tuple[str, float]]:
    """The published models under `reports` (a checkout's reports/) that never used test/
    images, with the validation accuracy of their published seed, best first: the first is
    DEFAULT_MODEL's rule. Reads the committed run each model was published from."""
    from ..core.rundata import read_seed_run  # pandas: not for listing the models
    clean = []
    for p in published_in(reports):
        source = json.loads((p.folder / INFERENCE_FILE).read_text()).get("source")
        if source is None:  # an average of several cells (publish_average): a benchmark's,
            continue        # which default_rule_choice takes before this rule
        experiment, rest = source.split("/", 1)
        cell = Path(reports) / experiment / "runs" / rest
        if not uses_test_images(json.loads((cell / CONFIG_FILE).read_text())):
            clean.append((p.name, read_seed_run(cell).validation_accuracy))
    return sorted(clean, key=lambda c: -c[1])


def default_rule_choice(reports: Path) -> str | None:
    """The model DEFAULT_MODEL must name under `reports` (a checkout's reports/): the one
    DEFAULT_FROM published (exactly one: `publish --chosen`), else the interim rule's first
    (default_choice); None when neither gives one."""
    chosen = [p.name for p in published_in(reports) if p.name.split("/")[0] == DEFAULT_FROM]
    if len(chosen) > 1:
        raise PretrainedError(f"{Path(reports) / DEFAULT_FROM / 'models'}: "
                              f"{', '.join(chosen)}; expected one published model, the "
                              "default (fer-keras publish --chosen)")
    if chosen:
        return chosen[0]
    ranked = default_choice(reports)
    return ranked[0][0] if ranked else None


def print_models(found: list[Published], as_json: bool = False) -> None:
    """What `fer-keras models` prints: each published model with its measured accuracy, the
    default marked, a warning for a model no better than the majority class; or JSON."""
    if as_json:
        print(json.dumps([{"name": m.name, "model": m.model, "seed": m.seed, "paper": m.paper,
                           "folder": str(m.folder), "default": m.name == DEFAULT_MODEL,
                           "flip": m.flip,
                           **m.measured} for m in found], indent=2))
        return
    if not found:
        print("no published models in this installation")
        return
    print(f"{'name':<38} {'seed':>4} {'test acc %':>10} {'all seeds %':>14} {'claimed %':>9}"
          "  data")
    for m in found:
        d = m.measured
        acc = f"{d['test_accuracy']:.2f}" if "test_accuracy" in d else "?"
        spread = (f"{d['test_accuracy_mean']:.2f}" + (
            f" +/- {d['test_accuracy_sd']:.2f}" if d.get("test_accuracy_sd") is not None
            else "")) if "test_accuracy_mean" in d else "?"
        claim = d.get("claimed_accuracy")
        name = m.name + (" *" if m.name == DEFAULT_MODEL else "")
        print(f"{name:<38} {m.seed:>4} {acc:>10} {spread:>14} "
              f"{'-' if claim is None else claim:>9}  {d.get('data', '?')}, "
              f"{d.get('test_images', '?')} test images per seed")
        if d.get("no_better_than_majority"):
            u = d["no_better_than_majority"]
            print(f"  warning: {m.name} is no better than always answering {u['class']} "
                  f"({u['share']:.2f} % of its test images): it has learned nothing usable")
    if any(m.name == DEFAULT_MODEL for m in found):
        print(f"* the default, used when no model is named: {DEFAULT_RULE}")
    print("use: fer-keras predict [NAME] photo.jpg; Predictor.from_pretrained([NAME]); each "
          "model's card.md is in its folder (--json gives the folders)")
