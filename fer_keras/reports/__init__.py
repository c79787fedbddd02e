"""Report generator: HTML + PNG from a run folder alone (never imports training code).

`build_report(runs/<exp>, reports/<exp>)` writes index.html, one PNG per figure, results.csv,
summary.json and a copy of each run's small files (configs, manifests, histories, predictions,
metrics; no models) under `reports/<exp>/runs/`, so the report can be rebuilt from the report
folder itself: `fer-keras report reports/<exp>/runs --out reports/<exp>`.
`build_index(reports/)` writes reports/index.html listing every report's headline numbers.
"""

from __future__ import annotations

from pathlib import Path

from ..core.outputs import OutputError, staged
from .build import build_index, build_run_report
from .reachability import build_reachability, is_study

__all__ = ["build_index", "build_report"]


def build_report(runs_dir: Path, out: Path, reference: Path | None = None,
                 overwrite: bool = False) -> Path:
    """The report of a run folder; of a reachability study's folder (study.json), the study's
    report, beside the `reference` run folder of the paper's printed protocol.

    Made in a staging folder and moved into `out` only once whole and checked: it replaces
    only files a report wrote there (outputs.place; `overwrite`: any plain file in the way),
    and removes only its own earlier files it did not make again. A source inside `out`,
    other than the report's own runs/ copy (a rebuild), is refused."""
    runs_dir, out = Path(runs_dir), Path(out)
    own_copy = (out / "runs").resolve() == runs_dir.resolve()
    if not own_copy and runs_dir.resolve().is_relative_to(out.resolve()):
        raise OutputError(f"{runs_dir}: lies inside the report's folder {out}; expected --out "
                          "apart from the run folder, or the report's own folder to rebuild it "
                          "from its runs/ copy (nothing was changed)")
    build = build_reachability if is_study(runs_dir) else build_run_report
    with staged(out, "report", overwrite, keep=("runs/",) if own_copy else ()) as stage:
        if build is build_reachability:
            build_reachability(runs_dir, stage, reference, home=out)
        else:
            build_run_report(runs_dir, stage, home=out)
    return out / "index.html"
