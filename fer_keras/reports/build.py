"""Assembling a report: tables from recomputed metrics, figures, statistics, provenance."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from statistics import median

from ..claims import judge, stats
from ..claims.judge import mean_std
from ..claims.ledger import AUC_PREFIX, values_of
from ..core.cellfiles import (
    CARD_FILE,
    EXPERIMENT_FILE,
    FRESH_FILE,
    KEPT_FILES,
    NEAR_COPIES_FILE,
    NOISE_GAIN_FILE,
    RESULTS_FILE,
    copy_cell,
)
from ..core.damaged import damage_of
from ..core.labels import CLASS_NAMES
from ..core.metrics import RESULT_COLUMNS, RESULT_METRICS
from ..core.outputs import staged
from ..core.provenance import write_csv
from ..core.rundata import (
    SeedRun,
    cells_of,
    main_runs,
    not_finished,
    read_fresh,
    read_near_copies,
    read_noise_gain,
    read_runs,
)
from . import cards, figures, findings
from .findings import claim_of
from .leaderboard import leaderboard, marked_ensembles, rejudged
from .render import html_env

METRICS = (("accuracy", "Accuracy"), ("precision_macro", "Precision (macro)"),
           ("recall_macro", "Recall (macro)"), ("f1_macro", "F1 (macro)"))


def table1(cells: dict[str, list[SeedRun]], claimed: dict) -> list[dict]:
    """Per cell: mean +/- std over seeds of each metric (percent), beside the paper's value."""
    rows = []
    for cell, runs in cells.items():
        row = {"cell": cell, "format": runs[0].format, "model": runs[0].arm,
               "seeds": [r.seed for r in runs], "metrics": {}}
        for key, _ in METRICS:
            m = mean_std([r.metrics[key] * 100 for r in runs])
            paper = claim_of(claimed, runs[0]).get(key)
            m["paper"] = paper
            m["diff"] = None if paper is None else m["mean"] - paper
            row["metrics"][key] = m
        rows.append(row)
    return rows


def auc_table(runs: list[SeedRun], claimed: dict | None) -> list[dict]:
    rows = []
    for name in CLASS_NAMES:
        vals = [r.metrics["roc_auc"][name] for r in runs if r.metrics["roc_auc"][name] is not None]
        m = mean_std(vals) if vals else {"mean": None, "std": None, "n": 0}
        paper = (claimed or {}).get(name)
        m.update(cls=name, paper=paper,
                 diff=None if paper is None or m["mean"] is None else m["mean"] - paper)
        rows.append(m)
    return rows


def train_seconds(manifest: dict) -> tuple[float, bool]:
    """A run's training seconds and whether they are its whole training time: the sum of its
    timed epochs over every session it was trained in (manifest `train_seconds`, recorded
    since 2026-12-01), else the seconds of its last session, whole only if never resumed."""
    if manifest.get("train_seconds") is not None:
        return manifest["train_seconds"], True
    return manifest["train_seconds_this_session"], not manifest.get("resumed", False)


def training_time(cells: dict[str, list[SeedRun]]) -> list[dict]:
    """Per cell: each run's epochs and training minutes (whole or its last session only), and
    the median seconds an epoch (training and validation) over the runs timed whole."""
    rows = []
    for cell, cruns in cells.items():
        timed = [(r.manifest["epochs"], *train_seconds(r.manifest)) for r in cruns]
        per_epoch = [s / n for n, s, whole in timed if whole and n]
        threads = {(r.manifest.get("threads") or {}).get("intra_op") for r in cruns}
        rows.append({"cell": cell, "seeds": [r.seed for r in cruns],
                     "epochs": [n for n, _, _ in timed],
                     "minutes": [round(s / 60, 1) for _, s, _ in timed],
                     "whole": [whole for _, _, whole in timed],
                     "threads": sorted(t for t in threads if t is not None),
                     "seconds_per_epoch": round(median(per_epoch)) if per_epoch else None})
    return rows


def provenance(runs: list[SeedRun]) -> dict:
    mans = [r.manifest for r in runs]
    timed = [train_seconds(m) for m in mans]
    data: dict[str, dict] = {}
    for r in runs:
        d = r.manifest["data"]
        entry = data.setdefault(r.format, {
            "path": d["csv"] if r.format == "csv" and d.get("csv") else d["path"],
            "n": d["n"], "notes": d.get("notes", []), "fingerprints": {}})
        # a preprocessing stage makes data of its own fingerprint: each one the runs trained
        # on, with how many and what it was made from (manifests before 2026-12-02 do not
        # record that; another run with the same fingerprint may)
        fp = entry["fingerprints"].setdefault(d["fingerprint"], {"runs": 0, "sources": set()})
        fp["runs"] += 1
        if d.get("source_fingerprint"):
            fp["sources"].add(d["source_fingerprint"])
    for entry in data.values():
        entry["fingerprints"] = [{"fingerprint": f, "runs": v["runs"],
                                  "sources": sorted(v["sources"])}
                                 for f, v in sorted(entry["fingerprints"].items())]
    quality: dict[str, dict] = {}  # per format: the first recorded seed's parts
    for r in runs:
        if r.quality and r.format not in quality:
            quality[r.format] = r.quality["parts"]
    splits = sorted({(m["split"]["scheme"], m["split"]["train"], m["split"]["val"],
                      m["split"]["test"], r.format) for m, r in zip(mans, runs)}, key=str)
    return {
        "data": data,
        "splits": [{"scheme": s[0], "train": s[1], "val": s[2], "test": s[3], "format": s[4]}
                   for s in splits],
        "seeds": sorted({r.seed for r in runs}),
        "cpu": sorted({m["cpu"] for m in mans}),
        "cpu_count": sorted({m["cpu_count"] for m in mans}),
        "gpus": sorted({", ".join(m["gpus"]) or "none" for m in mans}),
        "packages": mans[0]["packages"],
        "python": mans[0]["python"],
        "platform": mans[0]["platform"],
        "git_commits": sorted({m["git_commit"] for m in mans}),
        # short forms keep the "-dirty" mark (a run started with uncommitted changes)
        "code_versions": sorted({c[:12] + ("-dirty" if c.endswith("-dirty") else "")
                                 for c in (m["git_commit"] for m in mans)}),
        # files with uncommitted changes when a "-dirty" run started (recorded since 2026-11-24)
        "git_dirty_files": sorted({f for m in mans for f in m.get("git_dirty_files", [])}),
        "started": min(m["started"] for m in mans),
        "finished": max(m["finished"] for m in mans),
        "train_minutes": round(sum(s for s, _ in timed) / 60, 1),
        # resumed runs whose earlier sessions were not timed: the total is a lower bound
        "train_minutes_partial": sum(not whole for _, whole in timed),
        "strategy": sorted({m["strategy"] for m in mans}),
        "synthetic": any(m["data"].get("synthetic") for m in mans),
        # a quick check (`reproduce --quick`, `limit=`): a subsample of the images, which no
        # verdict of a reproduction can rest on
        "quick": sorted({(int(r.config.get("limit") or 0), int(r.manifest["epochs"]))
                         for r in runs if r.config.get("limit")}),
        "precision": sorted({"mixed float16" if m.get("mixed_precision") else "float32"
                             for m in mans}),
        "quality": quality,
        # each sentence once, with the formats whose splits it was found in
        "quality_shifts": _shifts_by_format(runs),
        "quality_missing": {f: sum(r.quality is None for r in runs if r.format == f)
                            for f in quality},
        # trained on a copy known to be damaged (damaged.py): superseded, whatever it measured
        "damaged": sorted({d for d in map(damage_of, mans) if d}),
        # trained although the guard found its training and test images unlike
        # (--allow-data-shift): each finding once
        "allowed_shifts": list(dict.fromkeys(
            s for m in mans if (m.get("data_shift") or {}).get("allowed")
            for s in m["data_shift"].get("shifts", []))),
    }


def _shifts_by_format(runs: list[SeedRun]) -> list[dict]:
    found: dict[str, list[str]] = {}
    for r in runs:
        for sentence in (r.quality or {}).get("shifts", []):
            formats = found.setdefault(sentence, [])
            if r.format not in formats:
                formats.append(r.format)
    return [{"sentence": s, "formats": f} for s, f in found.items()]


def _name(path: Path | None) -> str | None:
    return path.name if path is not None else None


def _slug(cell: str) -> str:
    return cell.replace("/", "-")


def _copy_runs(runs: list[SeedRun], runs_dir: Path, dest: Path) -> None:
    for r in runs:
        copy_cell(r.folder, dest / r.folder.relative_to(runs_dir), KEPT_FILES)
    for name in (EXPERIMENT_FILE, NOISE_GAIN_FILE, NEAR_COPIES_FILE, FRESH_FILE):
        if (runs_dir / name).exists():
            shutil.copyfile(runs_dir / name, dest / name)


def _write_results(runs: list[SeedRun], path: Path) -> None:
    write_csv(path, [{"format": r.format, "model": r.model, "variant": r.variant,
                      "seed": r.seed, "n_test": r.metrics["n"],
                      **{k: f"{r.metrics[k]:.6f}" for k in RESULT_METRICS},
                      "epochs": r.manifest["epochs"], "best_epoch": r.manifest["best_epoch"]}
                     for r in runs], RESULT_COLUMNS)


def report_view(experiment: dict, runs: list[SeedRun], noise_gain: dict | None = None,
                near: dict | None = None) -> dict:
    """Everything a report says, as plain data (numbers and sentences) computed from the run
    folder alone (its runs, and its noise-gain.json where `fer-keras noise-gain` wrote one), no
    file written: what the HTML page (build_report), the Markdown results of the docs
    (markdown.py) and the scoreboard render."""
    cells = cells_of(runs)
    values = values_of(experiment)
    claimed_metrics = {cell: {k: v for k, v in m.items() if k in dict(METRICS)}
                       for cell, m in values.items()}
    claimed_auc = {cell: {k[len(AUC_PREFIX):]: v for k, v in m.items()
                          if k.startswith(AUC_PREFIX)} for cell, m in values.items()}
    claimed_auc = {cell: aucs for cell, aucs in claimed_auc.items() if aucs}
    cell_views = [{"cell": cell, "slug": _slug(cell), "seeds": [r.seed for r in cruns],
                   "ece": mean_std([r.metrics["ece"] for r in cruns]),
                   "accuracy": mean_std([r.metrics["accuracy"] for r in cruns]),
                   "confidence": mean_std([float(r.probs.max(1).mean()) for r in cruns]),
                   "auc": auc_table(cruns, claimed_auc.get(cell)),
                   "auc_claimed": cell in claimed_auc,
                   "card": f"cards/{_slug(cell)}.md",
                   "epochs": [int(r.manifest["epochs"]) for r in cruns],
                   "best_epochs": [int(r.manifest["best_epoch"]) for r in cruns]}
                  for cell, cruns in cells.items()]
    factorial = main_runs(runs)  # variants stand beside the factorial, not in it
    main_effects = {
        factor: {level: mean_std([r.metrics["accuracy"] * 100 for r in factorial
                                  if getattr(r, factor) == level])
                 for level in dict.fromkeys(getattr(r, factor) for r in factorial)}
        for factor in ("format", "model")}
    t1 = table1(cells, claimed_metrics)
    mcnemar = stats.mcnemar_pairs(runs)
    proposed = experiment.get("proposed_model", "")
    proposed_vs = findings.proposed_against_others(mcnemar, proposed) if proposed else []
    anova = stats.two_way_anova(factorial)
    # the claims ledger: every claim of the config, judged two-sided (docs/claims.md); a
    # run folder from before the ledger has none
    found = judge.ledger_rows(experiment.get("claims") or [], runs, anova)
    near_view = findings.without_near_copies(runs, near)
    times = training_time(cells)
    return {
        "experiment": experiment, "table1": t1, "metrics": METRICS, "cells": cell_views,
        # examples of the cell the paper's per-class claims are about when it ran, else the
        # first cell's
        "example_cell": next((c for c in claimed_auc if c in cells), next(iter(cells))),
        "anova": anova, "main_effects": main_effects,
        "factorial": len(main_effects["format"]) > 1, "mcnemar": mcnemar,
        "prov": provenance(runs), "training_time": times,
        "class_names": CLASS_NAMES, "protocol": findings.protocol(runs),
        "ranking": findings.ranking(t1, runs), "proposed": proposed, "proposed_vs": proposed_vs,
        "class_weights": findings.class_weights_used(
            runs, experiment.get("claimed_class_weights", {})),
        "recall": findings.per_class_recall(runs), "variants": findings.variant_effects(runs),
        "by_usage": findings.accuracy_by_usage(runs),
        "ledger": found, "tally": judge.tally(found),
        "headline": judge.headline(found, experiment.get("claims") or [], proposed),
        # planned runs with no result here: every number covers the finished ones only
        "coverage": not_finished(experiment, runs),
        "not_learned": findings.no_better_than_majority(runs),
        "preprocessing": findings.preprocessing(runs), "robustness": findings.robustness(runs),
        "noise_gain": findings.noise_gain(noise_gain),
        "near_copies": near_view,
        "leaderboard": (board := leaderboard(experiment, runs, near_view, times)),
        "ensembles": marked_ensembles(board, runs) if board else [],
        "literature": (findings.literature(runs, experiment.get("literature", {}))
                       if experiment.get("literature") else []),
    }


def build_run_report(runs_dir: Path, out: Path, home: Path | None = None) -> Path:
    """The report of a run folder (index.html, figures, results.csv, the runs' small files),
    written into `out`: a staging folder (outputs.staged) whose files go to `home`, the
    report's folder (default: `out` itself), where its published models are found."""
    runs_dir, out = Path(runs_dir), Path(out)
    home = out if home is None else Path(home)
    experiment, runs = read_runs(runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    v = report_view(experiment, runs, read_noise_gain(runs_dir), read_near_copies(runs_dir))
    v["fresh"] = read_fresh(runs_dir)
    cells = cells_of(runs)
    for view in v["cells"]:  # the figures of each cell
        cell, slug, cruns = view["cell"], view["slug"], cells[view["cell"]]
        view.update({
            "curves": figures.training_curves(cruns, cell, out / f"curves-{slug}.png").name,
            "confusion": figures.confusion(cruns, cell, out / f"confusion-{slug}.png").name,
            "roc": figures.roc(cruns, cell, out / f"roc-{slug}.png").name,
            "reliability": figures.reliability(cruns, cell,
                                               out / f"reliability-{slug}.png").name,
            "published": (f"models/{slug}/{CARD_FILE}"
                          if (home / "models" / slug / CARD_FILE).exists() else None),
            "gradcam": next((figures.gradcam_grid(r, cell, out / f"gradcam-{slug}.png").name
                             for r in cruns if r.gradcam is not None
                             and r.examples is not None), None)})
    example_cell = v["example_cell"]
    example_run = next((r for r in cells[example_cell] if r.examples is not None), None)
    factorial = main_runs(runs)
    claimed = figures.claim_rows(v["table1"], superseded=bool(v["prov"]["damaged"]))
    html = html_env().get_template("report.html.j2").render(
        **v, generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        claims_png=(figures.claims_vs_measured(claimed, out / "claims.png",
                                               "Claimed vs measured accuracy").name
                    if claimed else None),
        examples_png=(figures.examples_grid(example_run, example_cell,
                                            out / f"examples-{_slug(example_cell)}.png").name
                      if example_run is not None else None),
        # drawn only where its section (the factorial analysis: several formats) shows it
        interaction_png=(figures.interaction(factorial, out / "interaction.png").name
                         if v["factorial"] else None),
        cost_png=(figures.accuracy_vs_cost(v["leaderboard"], out / "accuracy-vs-cost.png").name
                  if v["leaderboard"] else None),
        mcnemar_png=_name(figures.mcnemar_matrix(v["leaderboard"], v["mcnemar"],
                                                 out / "mcnemar-matrix.png")
                          if v["leaderboard"] else None),
        robustness_png=(figures.robustness(v["robustness"], out / "robustness.png").name
                        if v["robustness"] else None),
        literature_png=(figures.literature(v["literature"], experiment.get("literature_band",
                                                                           {}),
                                           out / "literature.png").name
                        if v["literature"] else None))
    (out / "index.html").write_text(html)
    cards_dir = out / "cards"
    cards_dir.mkdir(exist_ok=True)
    for cell, cruns in cells.items():
        (cards_dir / f"{_slug(cell)}.md").write_text(cards.card(cell, cruns, experiment))
    _write_results(runs, out / RESULTS_FILE)
    if (home / "runs").resolve() != runs_dir.resolve():  # not when rebuilding from its copy
        _copy_runs(runs, runs_dir, out / "runs")
    prov = v["prov"]
    summary = {"name": experiment["name"], "paper": experiment.get("paper", ""),
               "table1": v["table1"], "seeds": prov["seeds"], "finished": prov["finished"],
               "hardware": prov["cpu"], "anova": v["anova"], "synthetic": prov["synthetic"],
               "headline": v["headline"], "ledger": v["ledger"], "tally": v["tally"],
               "coverage": v["coverage"],
               "no_better_than_majority": [{k: r[k] for k in ("cell", "seed", "accuracy",
                                                               "dead")}
                                           for r in v["not_learned"]],
               "quality_shifts": [w["sentence"] for w in prov["quality_shifts"]],
               "damaged": prov["damaged"], "allowed_shifts": prov["allowed_shifts"],
               "accuracy_by_usage": v["by_usage"], "ranking": v["ranking"],
               "without_near_copies": v["near_copies"]}
    if v["leaderboard"]:  # a leaderboard's rows (config model_costs), its numbers only
        summary["leaderboard"] = [
            {"rank": r["rank"], "cell": r["cell"], "seeds": r["seeds"],
             "accuracy": {k: r["accuracy"][k] for k in ("mean", "std", "n", "low", "high")},
             "clean": r["clean"], "f1_macro": r["f1"], "params": r["params"],
             "forward_flops": r["forward_flops"], "seconds_per_epoch": r["seconds_per_epoch"],
             "one_face_ms": r["one_face_ms"], "validation": r["validation"],
             "chosen": r["chosen"], "flip": r["flip"]}
            for r in v["leaderboard"]]
        summary["ensembles"] = v["ensembles"]
        # public figures on the same test images, beside the leaderboard (never a choice)
        summary["literature"] = experiment.get("literature") or {}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return home / "index.html"  # writes only inside `out`; the suite's index: build_index


SCOREBOARD_COLUMNS = ("report", "paper", "cell", "seeds", *(
    f"{key}_{part}" for key, _ in METRICS for part in ("mean", "std", "paper")))


def result_summaries(reports_root: Path, file: str) -> list[tuple[str, dict]]:
    """(report folder name, contents) of each report's `file` (summary.json or
    study-summary.json) under reports/, leaving out those of the synthetic sample (`make
    demo`): no result, it has its own report but no place on the scoreboard or in the README."""
    found = ((p.parent.name, json.loads(p.read_text()))
             for p in sorted(Path(reports_root).glob(f"*/{file}")))
    return [(name, s) for name, s in found if not s.get("synthetic")]


def build_index(reports_root: Path, overwrite: bool = False) -> Path:
    """The suite's scoreboard: reports/index.html, one row per report (paper) with its
    headline claim, our measured value, the gap and a verdict, then every cell; and
    reports/results.csv, one row per report and cell (mean, std and claim of each metric).
    Made in a staging folder and placed like a report (outputs.place)."""
    reports_root = Path(reports_root)
    with staged(reports_root, "index", overwrite) as stage:
        _write_index(reports_root, stage)
    return reports_root / "index.html"


def _write_index(reports_root: Path, out: Path) -> None:
    entries, rows = [], []
    for name, summary in result_summaries(reports_root, "summary.json"):
        entries.append({"dir": name, **summary})
        for t in summary["table1"]:
            row = {"report": name, "paper": summary.get("paper", ""),
                   "cell": t["cell"], "seeds": len(t["seeds"])}
            for key, _ in METRICS:
                m = t["metrics"][key]
                row.update({f"{key}_mean": f"{m['mean']:.4f}",
                            f"{key}_std": "" if m["std"] is None else f"{m['std']:.4f}",
                            f"{key}_paper": "" if m["paper"] is None else m["paper"]})
            rows.append(row)
    studies = [{"dir": name, **summary}
               for name, summary in result_summaries(reports_root, "study-summary.json")]
    own = {e["dir"]: e["ledger"] for e in entries}
    for e in entries:  # a common protocol's claims beside each paper's own verdict
        e["rejudged"] = rejudged(e["ledger"], own)
    # `fer-keras data audit --json` outputs kept beside the reports: their warnings head the
    # scoreboard (the data every report below was made from)
    audits = [{"path": a.relative_to(reports_root).as_posix(),
               "warnings": json.loads(a.read_text()).get("quality_shifts", [])}
              for a in sorted(reports_root.glob("*/audit.json"))]
    claimed = [row for e in entries
               for row in figures.claim_rows(e["table1"], f"{e['dir']}: ",
                                             superseded=bool(e.get("damaged")))]
    chart = (figures.claims_vs_measured(claimed, out / "claims.png",
                                        "Every claimed accuracy beside what the method gives here")
             .name if claimed else None)
    html = html_env().get_template("index.html.j2").render(entries=entries, metrics=METRICS,
                                                       studies=studies, audits=audits,
                                                       claims_png=chart)
    (out / "index.html").write_text(html)
    write_csv(out / RESULTS_FILE, rows, SCOREBOARD_COLUMNS)
