"""Model cards: one small Markdown page per cell of a reference run (paper, model, data,
split, seeds, protocol, measured metrics with the test split named, weights' SHA-256, known
limits), in the spirit of Mitchell et al., "Model Cards for Model Reporting" (2019) and of
MMPretrain's per-model metafiles. Read from run folders only.
"""

from __future__ import annotations

from ..claims.judge import mean_std
from ..claims.ledger import values_of
from ..core.protocol import flatten
from ..core.rundata import SeedRun
from .findings import claim_of, training_of

# Settings a reader needs to know how a model was trained, in this order when present.
PROTOCOL_KEYS = ("split", "validation", "validation_fraction", "optimizer", "learning_rate",
                 "batch_size", "max_epochs", "early_stopping", "early_stopping_patience",
                 "min_epochs", "restore_best_weights", "select", "reduce_lr",
                 "reduce_lr_patience", "reduce_lr_factor", "class_weights", "oversample",
                 "limit")
LIMITS = (
    "Trained and tested on FER-2013 only: 48x48 grey, mostly frontal faces from web images, "
    "with the data set's known label noise and class imbalance (disgust is under 2 % of it). "
    "Expect lower accuracy on other cameras, poses, lighting, ages and populations.",
    "Seven posed-expression categories are not emotions people feel; a prediction says what a "
    "face looks like to this model, not what a person feels. Do not use it for decisions "
    "about people.",
)


def _split_text(run: SeedRun) -> str:
    s = run.manifest["split"]
    how = {"split": "the split's own validation part", "carve": "a stratified part of the "
           "training part", "keras": "Keras' validation_split rule (first file names per "
           "class)", "test": "the TEST part itself (test-set leakage)"}.get(
        s.get("validation", "split"), s.get("validation", "split"))
    return (f"{s['scheme']} (seed {s['seed']}): {s['train']:,} training, {s['val']:,} "
            f"validation ({how}), {s['test']:,} test images")


def card(cell: str, runs: list[SeedRun], experiment: dict, published: SeedRun | None = None,
         weights: dict | None = None) -> str:
    """Markdown card of one cell (all its seeds); `published`/`weights` describe the model
    file shipped with it (its seed, file name and SHA-256), when one is."""
    first = published or runs[0]
    protocol = flatten(training_of(first))
    metrics = {k: mean_std([r.metrics[k] * 100 for r in runs])
               for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro")}
    claim = claim_of(values_of(experiment), first)
    d = first.manifest["data"]
    lines = [
        f"# Model card: {cell}",
        "",
        f"- **Paper**: {experiment.get('paper', '')}",
        f"- **Model**: `{first.model}`" + (f", variant `{first.variant}`" if first.variant else ""),
        f"- **Data**: FER-2013 ({d['format']} format), {d['n']:,} images, SHA-256 of pixels "
        f"and labels `{d['fingerprint'][:16]}...`" + (" (SYNTHETIC sample, not FER-2013)"
                                                      if d.get("synthetic") else ""),
        f"- **Split**: {_split_text(first)}",
        f"- **Seeds**: {', '.join(str(r.seed) for r in runs)}",
        "- **Protocol**: " + "; ".join(f"{k} {protocol[k]}" for k in PROTOCOL_KEYS
                                       if k in protocol),
    ]
    aug = {k.split(".", 1)[1]: v for k, v in protocol.items()
           if k.startswith("augment.") and v}
    pre = {k.split(".", 1)[1]: v for k, v in protocol.items() if k.startswith("preprocess.")}
    lines.append("- **Augmentation**: " + (", ".join(f"{k} {v}" for k, v in aug.items())
                                          or "none"))
    if pre:
        lines.append("- **Preprocessing** (every image): " + ", ".join(
            f"{k} {v}" for k, v in pre.items()))
    n_test = first.manifest["split"]["test"]
    lines += ["", f"## Measured on the test part ({n_test:,} images per seed, scored once)", "",
              "| metric | measured (mean +/- std over seeds, %) | paper |", "|---|---|---|"]
    for key, m in metrics.items():
        std = f" +/- {m['std']:.2f}" if m["std"] is not None else ""
        lines.append(f"| {key} | {m['mean']:.2f}{std} | {claim.get(key, '-')} |")
    if weights:
        lines += ["", "## Weights", "",
                  f"`{weights['file']}`: seed {published.seed}, chosen as the seed with the "
                  "lowest best validation loss (never by test accuracy); its test accuracy "
                  f"{published.metrics['accuracy'] * 100:.2f} %.",
                  f"SHA-256 `{weights['sha256']}`.",
                  "Input: grey 48x48 faces, levels 0-255, shape (N, 48, 48, 1); output: seven "
                  "probabilities (angry, disgust, fear, happy, sad, surprise, neutral). Use: "
                  "`fer-keras predict <this folder> photo.jpg`."]
    else:
        lines += ["", "## Weights", "", "Not shipped with the repository; the run's manifests "
                  "record the SHA-256 of each seed's checkpoint: " + ", ".join(
                      f"seed {r.seed} `{r.manifest.get('model_sha256', '?')[:16]}...`"
                      for r in runs) + "."]
    lines += ["", "## Known limits", ""] + [f"- {t}" for t in LIMITS]
    if claim.get("accuracy") is not None:
        gap = metrics["accuracy"]["mean"] - claim["accuracy"]
        lines.append(f"- The paper claims {claim['accuracy']} % accuracy for this model; "
                     f"this reproduction measures {metrics['accuracy']['mean']:.2f} % "
                     f"({gap:+.2f} points). See the report for why.")
    return "\n".join(lines) + "\n"


def average_card(name: str, average: dict, members: list[SeedRun], experiment: dict,
                 found: dict, weights: dict) -> str:
    """Markdown card of an average of a protocol's top cells published as one model
    (`publish --chosen`): what it averages, why it was chosen (validation, beside its first
    cell alone), what it measures on test and what it costs. `average`: one of
    leaderboard.ensembles; `members`: its cells' runs of the published seed; `found`: the
    measurements publish recorded."""
    first = members[0]
    protocol = flatten(training_of(first))
    d = first.manifest["data"]

    def pm(v: dict) -> str:
        return f"{v['mean']:.2f}" + (f" +/- {v['std']:.2f}" if v["std"] is not None else "")

    seeds = ", ".join(map(str, average["seeds"]))
    lines = [
        f"# Model card: {name}",
        "",
        f"- **Protocol**: {experiment.get('paper', '')}",
        f"- **Model**: the mean of the probabilities of {len(members)} models, each trained "
        "alone: " + "; ".join(f"`{r.model}` (cell {r.cell}, seed {r.seed})" for r in members),
        f"- **Data**: FER-2013 ({d['format']} format), {d['n']:,} images, SHA-256 of pixels "
        f"and labels `{d['fingerprint'][:16]}...`" + (" (SYNTHETIC sample, not FER-2013)"
                                                      if d.get("synthetic") else ""),
        f"- **Split**: {_split_text(first)}",
        "- **Training** (each member): " + "; ".join(f"{k} {protocol[k]}" for k in PROTOCOL_KEYS
                                                    if k in protocol),
        "",
        "## Why this model",
        "",
        f"The {len(members)} cells with the best mean validation accuracy, averaged: on "
        f"validation (seeds {seeds}) {pm(average['validation'])} % against "
        f"{pm(average['alone']['validation'])} % for {average['cells'][0]} alone on the same "
        "seeds and images: " + ("better, so it is the protocol's choice (made there, never on "
                                "test)." if average["beats_alone"] else
                                "no better, so it is NOT the protocol's choice; published on "
                                "request."),
        "",
        f"## Measured on the test part ({found['test_images']:,} images per seed, scored once)",
        "",
        f"- accuracy, mean over seeds {seeds}: {pm(average['test'])} % "
        f"({average['cells'][0]} alone: {pm(average['alone']['test'])} %)",
        f"- flip-averaged (each face with its mirror image): {pm(average['test_flip'])} % "
        f"(validation {pm(average['validation_flip'])} %)",
        f"- one face through the averaged model: {found['one_face_ms']:.2f} ms (batch 1, "
        "measured when published; its members' own sum to "
        + (f"{average['one_face_ms']:.2f} ms" if average.get("one_face_ms") is not None
           else "an unmeasured amount") + ")",
        "",
        "## Weights",
        "",
        f"`{weights['file']}`: seed {members[0].seed} of every member, chosen as the seed whose "
        "average has the lowest validation loss (never by test accuracy); its test accuracy "
        f"{found['test_accuracy']:.2f} %.",
        f"SHA-256 `{weights['sha256']}`.",
        "Input: grey 48x48 faces, levels 0-255, shape (N, 48, 48, 1); output: seven "
        "probabilities (angry, disgust, fear, happy, sad, surprise, neutral). Use: "
        "`fer-keras predict <this folder> photo.jpg`.",
        "",
        "## Known limits",
        "",
    ] + [f"- {t}" for t in LIMITS]
    return "\n".join(lines) + "\n"
