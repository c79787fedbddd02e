"""Report generator: HTML + PNG from a run folder alone (never imports training code).

`build_report(runs/<exp>, reports/<exp>)` writes index.html, one PNG per figure, results.csv,
summary.json and a copy of each run's small files (configs, manifests, histories, predictions,
metrics; no models) under `reports/<exp>/runs/`, so the report can be rebuilt from the report
folder itself: `fer-keras report reports/<exp>/runs --out reports/<exp>`.
`build_index(reports/)` writes reports/index.html listing every report's headline numbers.
"""

from __future__ import annotations

from pathlib import Path

from .build import build_index, build_run_report
from .reachability import build_reachability, is_study

__all__ = ["build_index", "build_report"]


def build_report(runs_dir: Path, out: Path, reference: Path | None = None) -> Path:
    """The report of a run folder; of a reachability study's folder (study.json), the study's
    report, beside the `reference` run folder of the paper's printed protocol."""
    if is_study(Path(runs_dir)):
        return build_reachability(Path(runs_dir), Path(out), reference)
    return build_run_report(runs_dir, out)
