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


@pytest.mark.parametrize("paper", ["ozer", "xu"])
def test_the_committed_cells_keep_their_identity(paper, fer2013_dir, tmp_path):
    """The runner's plan, with the code as it is now, finds every committed cell finished with
    the same identity (config, data, model): a change to the runner that altered what a cell
    computes would retrain them, and a reference run going on beside it would be lost."""
    import shutil

    from fer_keras.core.cellfiles import FINISHED_GLOB
    from fer_keras.train.config import load_config
    from fer_keras.train.runner import RunOptions, plan

    runs = tmp_path / paper
    shutil.copytree(ROOT / "reports" / paper / "runs", runs)
    cfg = load_config(ROOT / "experiments" / f"{paper}.py")
    committed = {(f.parent.parent.name, int(f.parent.name.split("-")[1]))
                 for f in runs.glob(FINISHED_GLOB)}
    p = plan(cfg, RunOptions(data=fer2013_dir, out=runs))
    status = {(cp.cell.name, cp.cell.seed): cp.state.status for cp in p.cells}
    assert committed and {k: status[k] for k in committed} == dict.fromkeys(committed, "done")
