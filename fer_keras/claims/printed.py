"""The printed protocol first: each claimed accuracy against our runs of the paper's stated
settings, with the claims ledger's two-sided rule. The reachability study (train/study.py)
decides from it which cells to search; its report (reports/reachability.py) shows it.
"""

from __future__ import annotations

from pathlib import Path

from ..core.damaged import damage_of
from ..core.rundata import RunFolderError, cells_of, read_runs
from .judge import mean_std, value_interval, value_side


def runs_or_none(folder: Path):
    try:
        return read_runs(folder) if folder.is_dir() else (None, [])
    except RunFolderError:
        return None, []


def verdict(runs: list, claim: float) -> tuple[str, float]:
    """The claims ledger's two-sided verdict on a claimed accuracy ("agrees", "below",
    "above"), and the gap in points (measured mean minus claim)."""
    iv = value_interval(runs, "accuracy")
    return value_side(iv, claim), iv["mean"] - claim


def verdict_text(side: str, gap: float, how: str) -> str:
    return {"agrees": f"agrees with the claim {how}",
            "above": f"measured above the claim {how} ({gap:+.1f} points): a disagreement, "
                     "the paper's number is below what its method gives",
            "below": f"measured below the claim {how} ({gap:+.1f} points)"}[side]


def printed_protocol(claimed: dict, reference: Path) -> list[dict]:
    """The printed protocol first: per claimed cell, its claim against our runs of the
    paper's stated settings (`reference`, a run folder) over seeds. A cell whose claim is at or
    below their mean, or within two standard deviations above it (the suite's rule), is
    reached by the printed protocol and needs no search; the others are searched."""
    _, runs = runs_or_none(Path(reference))
    cells = cells_of(runs)
    rows = []
    for key, claim in claimed.items():
        cell_runs = cells.get(key, [])
        if "accuracy" not in claim or not cell_runs:
            continue
        m = mean_std([r.metrics["accuracy"] * 100 for r in cell_runs])
        side, gap = verdict(cell_runs, claim["accuracy"])
        rows.append({
            "cell": key, "model": key.split("/", 1)[1], "claim": claim["accuracy"],
            "printed": m, "seeds": [r.seed for r in cell_runs],
            "fingerprints": sorted({r.manifest["data"]["fingerprint"] for r in cell_runs}),
            "damaged": next((d for d in (damage_of(r.manifest) for r in cell_runs) if d), None),
            # only a claim above what the printed protocol gives can a search try to reach
            "search": side == "below",
            "verdict": verdict_text(side, gap, "by the printed protocol")
            + (": searched" if side == "below" else "")})
    return rows
