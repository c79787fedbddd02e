"""Report generator: HTML + PNG from a run folder alone (never imports training code).

`build_report(runs/<exp>, reports/<exp>)` writes index.html, one PNG per figure, results.csv,
summary.json and a copy of each run's small files (configs, manifests, histories, predictions,
metrics; no models) under `reports/<exp>/runs/`, so the report can be rebuilt from the report
folder itself: `fer-keras report reports/<exp>/runs --out reports/<exp>`.
`build_index(reports/)` writes reports/index.html listing every report's headline numbers.
"""

from __future__ import annotations

from .build import build_index, build_report

__all__ = ["build_index", "build_report"]
