"""The report of a claim-reachability study (`fer-keras study`): read from the study folder
only (study.json, studies/*/trials.csv, best.json, importance.json, each best setting's run
folder best/<study>-trial-<n>/ with each cell's test_curve.csv, and a control run folder
control/ when present),
never from Optuna's storage or any training code.

Verdict per claimed cell, from the printed protocol's seeds or the best setting's (the claims
ledger's two-sided rule for a number, docs/claims.md): "agrees" when the claim lies in the 95 %
interval of one run (seed spread and test-set sampling); "measured above the claim" (the
method gives more than the paper says: a disagreement too, but not one a search can mend);
"measured below the claim" (searched, or "not reached within the searched space"). The oracle
ceiling (the best test accuracy of any epoch, which no honest rule
can select) is shown beside it, labelled so.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..claims.judge import mean_std
from ..claims.ledger import values_of
from ..claims.printed import runs_or_none, verdict, verdict_text
from ..core.cellfiles import (
    CONFIG_FILE,
    DONE_FILE,
    EXPERIMENT_FILE,
    HISTORY_FILE,
    KEPT_FILES,
    MANIFEST_FILE,
    METRICS_FILE,
    SEED_GLOB,
    TEST_CURVE_FILE,
    copy_cell,
)
from ..core.damaged import damage_of
from ..core.rundata import cells_of
from . import figures
from .render import html_env

AUDIT = "audit_test_accuracy"
TRIAL_FILES = (CONFIG_FILE, MANIFEST_FILE, HISTORY_FILE, METRICS_FILE, DONE_FILE)


def is_study(folder: Path) -> bool:
    return (Path(folder) / "study.json").is_file()


def provisional(text: str, done: int, planned: int) -> str:
    """A verdict on part of the planned seeds says so: a later seed can change it."""
    return text if done >= planned else f"so far ({done} of {planned} seeds): {text}"


def _oracle(folder: Path) -> dict | None:
    path = folder / TEST_CURVE_FILE
    if not path.exists():
        return None
    curve = pd.read_csv(path)
    i = int(curve["test_accuracy"].to_numpy().argmax())
    return {"max": float(curve["test_accuracy"].iloc[i]) * 100,
            "epoch": int(curve["epoch"].iloc[i]), "curve": curve}


def study_views(root: Path, claimed: dict, out: Path) -> list[dict]:
    views = []
    for d in sorted((root / "studies").glob("*/trials.csv")):
        d = d.parent
        trials = pd.read_csv(d / "trials.csv")
        best = json.loads((d / "best.json").read_text())
        imp = json.loads((d / "importance.json").read_text())
        complete = trials[trials["state"] == "COMPLETE"]
        claim = claimed.get(d.name.replace("-", "/", 1), {}).get("accuracy")
        val = (complete["val_accuracy"] * 100).tolist()
        test = (complete[AUDIT] * 100).tolist()
        views.append({
            "name": d.name, "best": best, "claim": claim,
            "counts": trials["state"].value_counts().to_dict(), "n": len(trials),
            "val": mean_std(val) if val else None, "test": mean_std(test) if test else None,
            "max_val": max(val) if val else None, "max_test": max(test) if test else None,
            "above_claim": sum(t >= claim for t in test) if claim is not None else None,
            "best_test": (float(complete.loc[complete["number"] == best["trial"], AUDIT].iloc[0])
                          * 100 if best else None),
            "importance": imp,
            "png": figures.trial_distribution(
                val, test, (trials.loc[trials["state"] == "PRUNED", "val_accuracy"] * 100
                            ).dropna().tolist(), claim, d.name,
                out / f"trials-{d.name}.png").name if val else None,
            "importance_png": (figures.importance(imp["importance"], d.name,
                                                  out / f"importance-{d.name}.png").name
                               if imp.get("importance") else None),
        })
    return views


def cell_rows(root: Path, studies: list[dict], claimed: dict, reference: Path | None,
              out: Path, seeds: int, printed: list[dict] = ()) -> tuple[list[dict], str | None]:
    """Per claimed cell: Table 1, the printed protocol's reproduction (reference), the best
    setting over seeds, the oracle ceiling and the verdict; and the oracle figure. A cell
    with fewer finished seeds than the study plans (`seeds`) gets a provisional verdict."""
    _, ref_runs = runs_or_none(reference) if reference else (None, [])
    if {damage_of(r.manifest) for r in ref_runs} - {damaged_study(root)}:
        ref_runs = []  # trained on other data than the study's: not comparable
    ref_cells = cells_of(ref_runs)
    rows, curves = [], []
    for s in studies:
        if not s["best"]:
            continue
        # the run of this study's current best trial (study.best_folder's layout)
        _, best_runs = runs_or_none(root / "best" / f"{s['name']}-trial-{s['best']['trial']}")
        best_cells = cells_of(best_runs)
        model, cell_model = s["best"]["model"], s["best"]["cell_model"]
        for key, claim in claimed.items():
            fmt, claimed_model = key.split("/", 1)
            if claimed_model != model:
                continue
            runs = best_cells.get(f"{fmt}/{cell_model}", [])
            accs = [r.metrics["accuracy"] * 100 for r in runs]
            read = [(r, _oracle(r.folder)) for r in runs]  # each test_curve.csv read once
            oracles = [o for _, o in read if o]
            curves += [(f"{fmt}/{cell_model} seed {r.seed}", o["curve"], claim["accuracy"])
                       for r, o in read if o]
            ref = [r.metrics["accuracy"] * 100 for r in ref_cells.get(key, [])]
            ceiling = max((o["max"] for o in oracles), default=None)
            side, gap = verdict(runs, claim["accuracy"]) if runs else ("", 0.0)
            rows.append({
                "cell": key, "cell_model": cell_model, "claim": claim["accuracy"],
                "reference": mean_std(ref) if ref else None,
                "best": mean_std(accs) if accs else None, "seeds": [r.seed for r in runs],
                "oracle": mean_std([o["max"] for o in oracles]) if oracles else None,
                "ceiling": ceiling,
                "verdict": provisional(
                    "not reached within the searched space" + f" ({gap:+.1f} points)"
                    if side == "below" else verdict_text(side, gap, "by the best setting"),
                    len(accs), seeds) if runs else "not run yet",
                "ceiling_below": ceiling is not None and ceiling < claim["accuracy"]})
    for p in printed:  # not searched: the printed protocol's runs are the evidence
        if not p["search"] and p["cell"] not in {r["cell"] for r in rows}:
            ref = ref_cells.get(p["cell"])
            # judged again at every report, two-sided, from the reference runs (a study
            # written before the claims ledger stored the one-sided "reached")
            said = verdict_text(*verdict(ref, p["claim"]), "by the printed protocol") \
                if ref else p["verdict"]
            rows.append({"cell": p["cell"], "cell_model": p["model"], "claim": p["claim"],
                         "reference": p["printed"], "best": None, "seeds": p["seeds"],
                         "oracle": None, "ceiling": None, "verdict": said,
                         "ceiling_below": False})
    png = figures.oracle_curves(curves, out / "oracle.png").name if curves else None
    return rows, png


def damaged_study(root: Path) -> str | None:
    """What is wrong with the data the study's runs were trained on (damaged.py), if known."""
    for path in sorted(Path(root).rglob(MANIFEST_FILE)):
        found = damage_of(json.loads(path.read_text()))
        if found:
            return found
    return None


def build_reachability(root: Path, out: Path, reference: Path | None = None,
                       home: Path | None = None) -> Path:
    """The study's report, written into `out`: a staging folder whose files go to `home`, the
    report's folder (default: `out` itself; build_run_report)."""
    root, out = Path(root), Path(out)
    home = out if home is None else Path(home)
    study = json.loads((root / "study.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    claimed = study.get("claimed_metrics", {})
    studies = study_views(root, claimed, out)
    rows, oracle_png = cell_rows(root, studies, claimed, reference, out,
                                 len(study.get("seeds", [])), study.get("printed_protocol") or [])
    # the printed protocol's verdicts as judged now (two-sided; cell_rows), not as stored
    judged = {r["cell"]: r["verdict"] for r in rows if r["best"] is None}
    study = {**study, "printed_protocol": [{**p, "verdict": judged.get(p["cell"], p["verdict"])}
                                           for p in study.get("printed_protocol") or []]}
    control_exp, control_runs = runs_or_none(root / "control")
    control = []
    for cell, runs in cells_of(control_runs).items():
        accs = [r.metrics["accuracy"] * 100 for r in runs]
        public = values_of(control_exp or {}).get(cell, {}).get("accuracy")
        # every public figure the control's config quotes (its `literature`)
        literature = (control_exp or {}).get("literature", {})
        acc = mean_std(accs)
        control.append({"cell": cell, "acc": acc, "seeds": [r.seed for r in runs],
                        "public": public, "epochs": [int(r.manifest["epochs"]) for r in runs],
                        "notes": (control_exp or {}).get("claimed_notes", ""),
                        "literature": literature,
                        "gaps": public_gaps(acc["mean"], literature, public),
                        "test_images": runs[0].metrics["n"]})
    html = html_env().get_template("reachability.html.j2").render(
        study=study, studies=studies, rows=rows, oracle_png=oracle_png, control=control,
        gaps=control_gaps(control, rows), damaged=damaged_study(root),
        reference=str(reference) if reference else None,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    (out / "index.html").write_text(html)
    if (home / "runs").resolve() != root.resolve():  # not when rebuilding from its own copy
        copy_study(root, out / "runs")
    summary = {"name": study["experiment"], "paper": study.get("paper", ""), "study": True,
               "synthetic": bool(study.get("synthetic")), "damaged": damaged_study(root),
               "rows": rows_summary(rows),
               "control": [{k: c[k] for k in ("cell", "acc", "seeds", "public", "literature",
                                               "gaps", "test_images")} for c in control]}
    (out / "study-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return home / "index.html"


def public_gaps(mean: float, literature: dict[str, float], public: float | None) -> list[dict]:
    """The control's mean, in points, from each public figure its config quotes (its
    `literature`; else its claimed accuracy): what the README and the scoreboard show."""
    figures = literature or ({"public figure": public} if public is not None else {})
    return [{"label": label, "figure": acc, "points": mean - acc}
            for label, acc in figures.items()]


def control_gaps(control: list[dict], rows: list[dict]) -> dict | None:
    """Points from the public figure (control) and from the claims (studied cells' best
    settings and oracle ceilings), as (lowest, highest), None where nothing was searched; None
    without a scored control."""
    scored = [c for c in control if c["public"] is not None]
    studied = [r for r in rows if r.get("claim") is not None and r.get("best")]
    if not scored:
        return None

    def span(values):  # None when no cell has the value (no ceiling recorded yet)
        return (round(min(values), 2), round(max(values), 2)) if values else None

    return {"control": span([c["acc"]["mean"] - c["public"] for c in scored]),
            "best": span([r["best"]["mean"] - r["claim"] for r in studied]),  # None: no search
            "ceiling": span([r["ceiling"] - r["claim"] for r in studied
                             if r.get("ceiling") is not None])}


def rows_summary(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in ("cell", "cell_model", "claim", "reference", "best", "seeds",
                               "ceiling", "verdict")}
            for r in rows]


def copy_study(root: Path, dest: Path) -> None:
    """The study's small files, enough to audit it and to resume it elsewhere (`cp -rn` back
    into a run folder): the storage, the exports, each finished trial's record and the best
    settings' and control's cells (no model files)."""
    dest.mkdir(parents=True, exist_ok=True)
    if (root / "study.json").exists():
        shutil.copyfile(root / "study.json", dest / "study.json")
    if (root / "study.db").exists():  # SQLite's online backup: consistent while a worker writes
        with sqlite3.connect(root / "study.db") as src, sqlite3.connect(dest / "study.db") as dst:
            src.backup(dst)
    if (root / "studies").is_dir():  # none when the printed protocol reached every claim
        shutil.copytree(root / "studies", dest / "studies")
    for done in sorted(root.glob(f"*/**/{SEED_GLOB}/{DONE_FILE}")):
        folder = done.parent
        part = folder.relative_to(root).parts[0]
        if part not in ("trials", "best", "control"):
            continue
        copy_cell(folder, dest / folder.relative_to(root),
                   TRIAL_FILES if part == "trials" else KEPT_FILES)
    for experiment in [*root.glob(f"best/*/{EXPERIMENT_FILE}"), root / "control" / EXPERIMENT_FILE]:
        if experiment.exists() and (dest / experiment.parent.relative_to(root)).is_dir():
            shutil.copyfile(experiment, dest / experiment.relative_to(root))
