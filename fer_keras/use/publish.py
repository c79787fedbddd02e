"""`fer-keras publish`: the model of each cell of a finished run, ready to use without
training: `<out>/<cell>/model.keras` (behind the one input contract, no optimizer state),
`inference.json` (what `predict` reads, with the file's SHA-256) and `card.md`.

The published seed of a cell is the one with the lowest best validation loss: chosen on
validation data, never on test accuracy. An average of a protocol's top cells (`--chosen`,
where it beats the best cell alone on validation) is published as one contract model the same
way: `<out>/<format>-top<k>_average/`, its seed the one of lowest validation loss.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import keras
import numpy as np

from ..claims.judge import mean_std
from ..claims.ledger import values_of
from ..core.cellfiles import CARD_FILE, INFERENCE_FILE, MODEL_FILE
from ..core.errors import FerKerasError
from ..core.labels import CLASS_NAMES
from ..core.outputs import OutputError, in_the_way, recorded, remember
from ..core.provenance import atomic_path, sha256_file, write_json
from ..core.rundata import cells_of, read_runs
from ..models.inference import CONTRACT, averaged, inference_model, model_file, one_face_ms
from ..reports.cards import average_card, card
from ..reports.findings import claim_of
from ..reports.leaderboard import cell_rows, chosen_average, chosen_cell, ensembles, flip_gain


def same_model(path: Path, model: keras.Model) -> bool:
    """Whether `path` already holds `model`: the same architecture and the same weights (a
    saved .keras also records when it was saved, so its bytes differ each time)."""
    if not path.is_file():
        return False
    try:
        old = keras.models.load_model(path, compile=False)
    except Exception:  # damaged or foreign: replaced
        return False
    old_w, new_w = old.get_weights(), model.get_weights()
    return old.to_json() == model.to_json() and len(old_w) == len(new_w) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(old_w, new_w))


def measured(chosen, runs: list, experiment: dict) -> dict:
    """What `fer-keras models` lists beside a name: the published seed's test accuracy, the
    mean and sd over the cell's seeds, the paper's claim, and on what data (%)."""
    accuracy = mean_std([r.metrics["accuracy"] * 100 for r in runs])
    return {"test_accuracy": round(chosen.metrics["accuracy"] * 100, 2),
            "test_accuracy_mean": round(accuracy["mean"], 2),
            "test_accuracy_sd": None if accuracy["std"] is None else round(accuracy["std"], 2),
            "seeds": [r.seed for r in runs], "test_images": chosen.manifest["split"]["test"],
            "claimed_accuracy": claim_of(values_of(experiment), chosen)
            .get("accuracy"),
            "data": data_text(chosen)}


def data_text(run) -> str:
    """On what data a published model was measured, as `fer-keras models` prints it."""
    d = run.manifest["data"]
    return f"{'SYNTHETIC sample' if d.get('synthetic') else 'FER-2013'} ({d['format']} format)"


def flip_choice(runs: list) -> dict:
    """Whether `predict` averages each face with its mirror image by default for this cell's
    model: on where it adds accuracy on validation (mean over the cell's seeds that recorded
    the views: the architecture's gain, steadier than one seed's), with the gain on validation
    and test (points) and those seeds beside; {} for cells none of whose seeds recorded the
    views (predict: off)."""
    gain = flip_gain(runs)
    if gain is None:
        return {}
    return {"flip": gain["validation"]["mean"] > 0,
            "flip_gain": {part: round(gain[part]["mean"], 3) for part in ("validation", "test")},
            "flip_seeds": gain["seeds"]}


def no_better_than_majority(run) -> dict | None:
    """{class, share (%)} when the run scores no better than always answering its test set's
    largest class, else None."""
    largest, share = run.largest_class
    if run.metrics["accuracy"] > share:
        return None
    return {"class": CLASS_NAMES[largest], "share": round(share * 100, 2)}


def publish(runs_dir: Path, out: Path, models: tuple[str, ...] = (),
            skipped: list[str] | None = None, overwrite: bool = False,
            chosen: bool = False) -> list[Path]:
    """Publish each cell's chosen seed; with `models`, only those models' cells of the main
    factorial (no variant), e.g. a paper's own models without its ImageNet backbones; with
    `chosen`, only the cell the leaderboard chooses among them (the best mean validation
    accuracy, leaderboard.chosen_cell), e.g. a benchmark's default model, or the average of
    the top cells that beats it there (leaderboard.chosen_average; publish_average).

    A cell whose chosen seed is no better than always answering its test set's largest class
    has learned nothing usable: on FER-2013 it is never published (a line in `skipped` says
    so); on the synthetic sample it is, with `no_better_than_majority` in its measurements.
    A cell none of whose seeds has a model file (a report's runs/ copy) is passed over quietly.
    One whose chosen seed lacks its model while another seed has one (the chosen seed's model
    was lost, e.g. trained on a machine since replaced) is not published either, since
    publishing another seed would break the choice by validation loss; a line saying so is
    appended to `skipped`, as it is for the `chosen` cell when no seed of it has one.

    What it writes (`<out>/<cell>/` model.keras, inference.json, card.md) it records
    (outputs.remember); a file there it did not write is never replaced: the first in the way
    stops it before anything is written (outputs.in_the_way; `overwrite`: any plain file), a
    model.keras holding the very same model excepted."""
    experiment, runs = read_runs(runs_dir)
    unknown = sorted(set(models) - {r.model for r in runs})
    if unknown:
        raise FerKerasError(f"--models {', '.join(unknown)}: no finished cell of this model in "
                            f"{runs_dir}; expected some of: "
                            f"{', '.join(sorted({r.model for r in runs}))}")
    cells: dict[str, list] = {}
    for r in runs:
        if models and (r.model not in models or r.variant):
            continue
        cells.setdefault(r.cell, []).append(r)
    if chosen:
        among = [r for cruns in cells.values() for r in cruns]
        average = chosen_average(ensembles(cell_rows(among), among))
        if average is not None:  # it beats the ★ cell alone on validation: it is the choice
            return publish_average(runs_dir, out, experiment, among, average, skipped,
                                   overwrite)
        pick = chosen_cell(among)
        if pick is None:
            raise FerKerasError(f"{runs_dir}: --chosen: no cell records a validation accuracy "
                                "in every seed; expected a run whose split has a validation "
                                "part (the choice is made there, never on test)")
        cells = {pick: cells[pick]}
    chosen_cells = []
    for cell, cruns in cells.items():
        chosen = min(cruns, key=lambda r: float(r.history["val_loss"].min()))
        unlearned = no_better_than_majority(chosen)
        # it has learned nothing usable: never offered on FER-2013; on the synthetic sample (a
        # pipeline check, SYNTHETIC on every card) published under a warning that `fer-keras
        # models` repeats
        if unlearned and not chosen.manifest["data"].get("synthetic"):
            if skipped is not None:
                skipped.append(f"{cell}: not published: seed {chosen.seed} (the lowest "
                               f"validation loss) scores {chosen.metrics['accuracy'] * 100:.2f} "
                               f"%, no better than always answering {unlearned['class']} "
                               f"({unlearned['share']:.2f} % of its test images)")
            continue
        source = model_file(chosen.folder)
        if source is None:
            others = [r.seed for r in cruns if model_file(r.folder) is not None]
            if (others or chosen) and skipped is not None:
                have = (f"{'seed' if len(others) == 1 else 'seeds'} "
                        f"{', '.join(map(str, others))} "
                        f"{'has' if len(others) == 1 else 'have'} one") if others else \
                    "no other seed has one"
                skipped.append(f"{cell}: not published: seed {chosen.seed} has the lowest "
                               f"validation loss but no model file in {chosen.folder}; "
                               f"{have} (train seed {chosen.seed} again to publish this "
                               "cell)")
            continue  # a copy without model files (e.g. a report's runs/)
        chosen_cells.append((cell, cruns, chosen, unlearned,
                             inference_model(keras.models.load_model(source, compile=False))))
    record = recorded(out)
    for cell, _, _, _, model in chosen_cells:  # everything in the way, before writing any
        _refuse_in_the_way(out, cell.replace("/", "-"), model, record, overwrite)
    written = []
    for cell, cruns, chosen, unlearned, model in chosen_cells:
        meta_path = chosen.folder / INFERENCE_FILE
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
            "contract": CONTRACT, "model": chosen.model, "cell": cell, "seed": chosen.seed,
            "experiment": experiment.get("name"), "paper": experiment.get("paper"),
            "preprocess": None}
        written.append(_write(
            out, cell.replace("/", "-"), model,
            {**meta, **flip_choice(cruns), "seed": chosen.seed, "sha256": None,  # _write's
             "source": f"{runs_dir.name}/{chosen.folder.relative_to(runs_dir)}",
             "measured": {**measured(chosen, cruns, experiment),
                          **({"no_better_than_majority": unlearned} if unlearned else {})}},
            partial(card, cell, cruns, experiment, published=chosen)))
    return written


def _refuse_in_the_way(out: Path, slug: str, model: keras.Model, record: dict,
                       overwrite: bool) -> None:
    """Raise OutputError for the first file of `<out>/<slug>/` that publishing would replace
    and fer-keras did not write (outputs.in_the_way), a model.keras holding the very same
    model excepted."""
    for name in (MODEL_FILE, INFERENCE_FILE, CARD_FILE):
        why = in_the_way(out, f"{slug}/{name}", record, overwrite)
        if why and not (name == MODEL_FILE and same_model(out / slug / name, model)):
            raise OutputError(why)


def _write(out: Path, slug: str, model: keras.Model, meta: dict, card_of) -> Path:
    """`<out>/<slug>/`: model.keras (unchanged when it holds the same model), inference.json
    (`meta` with the file's SHA-256) and card.md (`card_of(weights={file, sha256})`), recorded
    as fer-keras' (outputs.remember)."""
    folder = out / slug
    folder.mkdir(parents=True, exist_ok=True)
    if not same_model(folder / MODEL_FILE, model):  # re-publishing changes no file
        with atomic_path(folder / MODEL_FILE) as tmp:
            model.save(tmp)
    digest = sha256_file(folder / MODEL_FILE)
    write_json(folder / INFERENCE_FILE, {**meta, "sha256": digest})  # in its place if there
    with atomic_path(folder / CARD_FILE) as tmp:
        tmp.write_text(card_of(weights={"file": MODEL_FILE, "sha256": digest}))
    remember(out, "publish", [f"{slug}/{n}" for n in (MODEL_FILE, INFERENCE_FILE, CARD_FILE)])
    return folder


def average_name(average: dict) -> str:
    """The published cell name of an average of the top cells: `<format>/top<k>_average`
    (e.g. csv/top3_average), a plain name beside the cells'."""
    formats = sorted({c.split("/", 1)[0] for c in average["cells"]})
    return f"{'+'.join(formats)}/top{len(average['cells'])}_average"


def publish_average(runs_dir: Path, out: Path, experiment: dict, runs: list, average: dict,
                    skipped: list[str] | None = None, overwrite: bool = False) -> list[Path]:
    """Publish `average` (one of leaderboard.ensembles over `runs`) as one contract model
    (inference.averaged): each of its cells' models of one seed, the seed whose average has
    the lowest validation loss (as a cell's seed is chosen; never by test accuracy). Its
    measured accuracies are the average's own, from the recorded views; its speed is measured
    here (ms of one face through the one model, this machine, the threads it runs on).
    Nothing is published when a member's model file of that seed is gone (a line in
    `skipped` names them), or when its cells need different preprocessing (FerKerasError)."""
    name = average_name(average)
    seed = average["seeds"][int(np.argmin(average["validation_loss"]))]
    by_cell = cells_of(runs)
    members = [next(r for r in by_cell[c] if r.seed == seed) for c in average["cells"]]
    lost = [r for r in members if model_file(r.folder) is None]
    if lost:
        if skipped is not None:
            skipped.append(f"{name}: not published: seed {seed} has the average's lowest "
                           "validation loss but no model file in "
                           f"{', '.join(str(r.folder) for r in lost)} (train seed {seed} of "
                           f"{', '.join(r.cell for r in lost)} again to publish it)")
        return []
    metas = [json.loads(p.read_text()) if (p := r.folder / INFERENCE_FILE).exists() else {}
             for r in members]
    preprocess = {json.dumps(m.get("preprocess"), sort_keys=True) for m in metas}
    if len(preprocess) > 1:
        raise FerKerasError(f"{runs_dir}: {name}: its cells {', '.join(average['cells'])} "
                            "preprocess their images differently; expected one preprocessing "
                            "for every member of an average")
    model = averaged([inference_model(keras.models.load_model(model_file(r.folder),
                                                              compile=False))
                      for r in members], name=name.split("/", 1)[1])
    slug = name.replace("/", "-")
    _refuse_in_the_way(out, slug, model, recorded(out), overwrite)
    at = average["seeds"].index(seed)
    found = {
        "test_accuracy": round(average["by_seed"]["test"][at], 2),
        "test_accuracy_mean": round(average["test"]["mean"], 2),
        "test_accuracy_sd": None if average["test"]["std"] is None
        else round(average["test"]["std"], 2),
        "seeds": average["seeds"], "test_images": members[0].manifest["split"]["test"],
        "claimed_accuracy": None,
        "data": data_text(members[0]),
        "validation_accuracy_mean": round(average["validation"]["mean"], 2),
        "alone": {part: round(average["alone"][part]["mean"], 2)
                  for part in ("validation", "test")},
        "one_face_ms": one_face_ms(model)}
    flip = {part: average[f"{part}_flip"]["mean"] - average[part]["mean"]
            for part in ("validation", "test")}
    meta = {"contract": CONTRACT, "model": "average", "cell": name, "seed": seed,
            "experiment": experiment.get("name"), "paper": experiment.get("paper"),
            "preprocess": json.loads(preprocess.pop()),
            "members": [{"cell": r.cell, "model": r.model, "seed": r.seed,
                         "source": f"{runs_dir.name}/{r.folder.relative_to(runs_dir)}"}
                        for r in members],
            "flip": flip["validation"] > 0,
            "flip_gain": {part: round(v, 3) for part, v in flip.items()},
            "flip_seeds": average["seeds"], "sha256": None}  # _write fills it in
    return [_write(out, slug, model, {**meta, "measured": found},
                   partial(average_card, name, average, members, experiment, found))]
