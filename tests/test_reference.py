"""The committed reference reproductions: each paper's report rebuilds from its committed runs
to the same numbers (summary.json, results.csv) and the same model cards."""

from pathlib import Path

import pytest

from fer_keras.reports import build_report

ROOT = Path(__file__).parents[1]
PAPERS = sorted(p.parent.parent.name for p in ROOT.glob("reports/*/runs/experiment.json"))


@pytest.mark.parametrize("paper", PAPERS)
def test_the_committed_report_rebuilds_from_the_committed_runs(paper, tmp_path):
    committed = ROOT / "reports" / paper
    index = build_report(committed / "runs", tmp_path / paper)
    for name in ("summary.json", "results.csv"):
        assert (index.parent / name).read_text() == (committed / name).read_text(), name
    for card in sorted((committed / "cards").glob("*.md")):
        assert (index.parent / "cards" / card.name).read_text() == card.read_text(), card.name
