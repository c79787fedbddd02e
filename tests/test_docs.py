"""Every number in the README and in docs/papers/ is generated from the committed runs: the
blocks are regenerated here and must equal what is committed, so nothing can drift."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from fer_keras.reports.markdown import (
    DocsError,
    generated,
    paper_view,
    papers,
    replace_block,
    results_markdown,
    update_docs,
)
from tests.fake_runs import reseal, write_fake_runs

ROOT = Path(__file__).parents[1]


def test_every_generated_block_equals_what_the_committed_runs_give():
    for path, text in generated(ROOT, ROOT / "reports").items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} differs from what the committed runs give: run "
            "`fer-keras index reports` and commit the result")


def test_every_paper_has_a_page_and_a_line_in_the_readme():
    assert papers(ROOT) == ["ashok", "emotionnet", "ozer", "wasey", "xu"]
    readme = (ROOT / "README.md").read_text()
    for paper in papers(ROOT):
        assert f"[{paper}](docs/papers/{paper}.md)" in readme
    assert len(readme.splitlines()) < 200


def test_results_markdown_holds_the_runs_numbers(tmp_path):
    runs = write_fake_runs(tmp_path / "runs")
    text = results_markdown(paper_view(runs))
    cell = sorted(runs.glob("csv-ozer_cnn/seed-*"))
    accs = []
    for folder in cell:
        z = np.load(folder / "predictions.npz")
        accs.append(accuracy_score(z["labels"], z["probs"].argmax(1)) * 100)
    mean, sd = np.mean(accs), np.std(accs, ddof=1)
    row = next(line for line in text.splitlines() if line.startswith("| csv/ozer_cnn |"))
    assert row.startswith(f"| csv/ozer_cnn | 0, 1 | {mean:.2f} ± {sd:.2f} | 55.000 | "
                          f"{mean - 55.0:+.2f} |")
    assert "#### Per-class AUC of csv/ozer_cnn" in text and "Superseded" not in text
    assert "#### Two-way ANOVA" in text and "#### McNemar tests" in text


def test_results_markdown_says_what_the_preprocessing_did(tmp_path):
    runs = write_fake_runs(tmp_path / "runs")
    done = {"abs_angle_max": 42.55, "abs_angle_median": 4.5, "abs_angle_p90": 14.61,
            "align": True, "clahe": True, "images": 35887, "left_unrotated_over_cap": 0,
            "max_angle_deg": 45.0, "rotated": 35887}
    for path in runs.glob("csv-ozer_cnn/seed-*/manifest.json"):
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "preprocess": done}))
    lines = results_markdown(paper_view(reseal(runs))).splitlines()
    assert "| csv/ozer_cnn | 35887 | 35887 | 0 (cap 45.0) | 4.5 | 14.61 | 42.55 | yes |" in lines
    assert not any(line.startswith("| csv/ozer_cnn_lstm | 150 |") for line in lines)


def test_the_data_line_names_each_fingerprint_and_what_preprocessing_made_it_from(tmp_path):
    runs = write_fake_runs(tmp_path / "runs")  # 2 formats x 2 models x 2 seeds, all "f" * 64
    raw, prepared = "a" * 64, "b" * 64
    for i, path in enumerate(sorted(runs.glob("csv-ozer_cnn/seed-*/manifest.json"))):
        manifest = json.loads(path.read_text())
        # seed 0 as recorded before 2026-12-02 (no source), seed 1 with it
        data = {**manifest["data"], "fingerprint": prepared,
                **({"source_fingerprint": raw} if i else {})}
        path.write_text(json.dumps({**manifest, "data": data}))
    lines = results_markdown(paper_view(reseal(runs))).splitlines()
    assert f"Data: directory 1,000 images (fingerprint `{'f' * 12}`); csv 1,000 images " \
           f"(fingerprint `{'b' * 12}`, made by the preprocessing stage from `{'a' * 12}`: " \
           f"2 run(s); `{'f' * 12}`: 2 run(s))." in lines
    plain = results_markdown(paper_view(write_fake_runs(tmp_path / "plain"))).splitlines()
    assert f"Data: directory 1,000 images (fingerprint `{'f' * 12}`); csv 1,000 images " \
           f"(fingerprint `{'f' * 12}`)." in plain


def test_each_run_no_better_than_the_largest_class_has_a_line_of_its_own(tmp_path):
    view = paper_view(write_fake_runs(tmp_path / "runs"))
    stuck = {"cell": "csv/ozer_cnn", "accuracy": 12.5, "majority": "happy",
             "majority_share": 25.05, "predicted": "sad", "predicted_share": 90.0}
    view["not_learned"] = [dict(stuck, seed=0, dead=[{"layer": "dense"}]),
                           dict(stuck, seed=1, dead=[])]
    lines = results_markdown(view).splitlines()
    assert ("- csv/ozer_cnn seed 0: 12.50 % (the largest class, happy, is 25.05 %; it answers "
            "sad for 90 % of the images); layers at least half dead: dense") in lines
    assert ("- csv/ozer_cnn seed 1: 12.50 % (the largest class, happy, is 25.05 %; it answers "
            "sad for 90 % of the images)") in lines


def test_the_readme_row_names_the_seeds_of_its_headline_cell_not_the_papers(tmp_path):
    """A cell still training has fewer seeds than the paper: its row must say which it has."""
    from fer_keras.reports.markdown import papers_markdown

    runs = write_fake_runs(tmp_path / "fake" / "runs", seeds=(0, 1, 2))
    cell = paper_view(runs)["headline"]["cell"]
    shutil.rmtree(runs / cell.replace("/", "-") / "seed-2")
    accs = []
    for seed in (0, 1):
        z = np.load(runs / cell.replace("/", "-") / f"seed-{seed}" / "predictions.npz")
        accs.append(accuracy_score(z["labels"], z["probs"].argmax(1)) * 100)
    row = papers_markdown(tmp_path, ["fake"]).splitlines()[2]
    assert f"| {np.mean(accs):.2f} ± {np.std(accs, ddof=1):.2f} (2 seed(s): 0,1) |" in row


def test_the_studies_block_sets_each_verdict_and_the_control_beside_its_public_figures(
        tmp_path):
    from fer_keras.reports.markdown import studies_markdown

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "reach.md").write_text("# a study\n")
    printed = {"mean": 55.11, "std": 1.65, "n": 3}
    summary = {"paper": "Özer & Subaşı, a title", "synthetic": False, "damaged": None,
               "rows": [{"cell": "csv/ozer_cnn", "claim": 55.001, "reference": printed,
                         "best": None, "verdict": "reached by the printed protocol"},
                        {"cell": "csv/ozer_cnn_lstm", "claim": 57.84, "reference": None,
                         "best": {"mean": 50.0, "std": None, "n": 1},
                         "verdict": "not reached"}],
               "control": [{"cell": "csv/mini_xception", "acc": {"mean": 64.5, "std": 0.75},
                            "seeds": [0, 1], "public": 66.0, "test_images": 3589,
                            "literature": {"its README": 66.0, "its weights on test/": 65.55},
                            "gaps": [{"label": "its README", "figure": 66.0, "points": -1.5},
                                     {"label": "its weights on test/", "figure": 65.55,
                                      "points": -1.05}]}]}
    for name, s in (("reach", summary), ("other", {**summary, "rows": summary["rows"][:1],
                                                   "control": []}),
                    ("sample", {**summary, "synthetic": True})):
        (tmp_path / "reports" / name).mkdir(parents=True)
        (tmp_path / "reports" / name / "study-summary.json").write_text(json.dumps(s))
    assert studies_markdown(tmp_path / "reports", tmp_path).splitlines() == [
        "| study | cell | claim, or the control's public figures (%) | measured here "
        "(mean ± sd) | verdict |",
        "|---|---|---|---|---|",
        "| [other](reports/other/index.html) (Özer & Subaşı) | csv/ozer_cnn | 55.00 | printed "
        "protocol 55.11 ± 1.65 (3 seed(s)) | reached by the printed protocol |",
        "|  | control | – | not run on this data yet | – |",
        "| [reach](docs/reach.md) (Özer & Subaşı) | csv/ozer_cnn | 55.00 | printed protocol "
        "55.11 ± 1.65 (3 seed(s)) | reached by the printed protocol |",
        "|  | csv/ozer_cnn_lstm | 57.84 | best setting 50.00 (1 seed(s)) | not reached |",
        "|  | control csv/mini_xception | 66.00 (its README); 65.55 (its weights on test/) | "
        "64.50 ± 0.75 (seed(s) 0, 1; 3,589 test images) | -1.50 points from 66.00; -1.05 "
        "points from 65.55 |"]
    assert studies_markdown(tmp_path / "none", tmp_path) == \
        "No reachability study is committed yet.\n"


def test_the_leaderboard_block_ranks_the_cells_and_sets_each_claim_beside_the_papers_own(
        tmp_path):
    """A report with a leaderboard (a common protocol) gives the README its rows, ★ on the
    cell chosen by validation, and each re-judged claim beside the paper's own verdict; a
    report without one, and the synthetic sample's, give none."""
    from fer_keras.reports.build import result_summaries
    from fer_keras.reports.markdown import common_protocol, leaderboard_markdown

    ms = {"mean": 60.0, "std": 1.0, "n": 2}
    one = {"mean": 50.0, "std": None, "n": 1}
    rows = [{"rank": 1, "cell": "csv/a", "seeds": [0, 1], "chosen": False,
             "accuracy": {**ms, "low": 57.5, "high": 62.5}, "clean": ms,
             "validation": {"mean": 58.0, "std": 0.5, "n": 2}, "f1_macro": ms,
             "params": 1234567, "forward_flops": 13_199_104, "seconds_per_epoch": 45,
             "one_face_ms": 1.234},
            {"rank": 2, "cell": "csv/b", "seeds": [0], "chosen": True,
             "accuracy": {**one, "low": 48.0, "high": 52.0}, "clean": None,
             "validation": {"mean": 59.0, "std": None, "n": 1}, "f1_macro": one,
             "params": None, "forward_flops": None, "seconds_per_epoch": None,
             "one_face_ms": None}]
    claim = {"short": "csv/a > csv/b", "where": "P, §4", "verdict": "holds",
             "reproduced": True, "readings": []}
    bench = {"paper": "common", "hardware": ["CPU X"], "leaderboard": rows,
             "literature": {"their weights": 65.87},
             "coverage": {"cells": [{"cell": "csv/b", "seeds": [1]}], "finished": 3, "runs": 4},
             "ledger": [{**claim, "origin": "p: directory/a > directory/b"}]}
    paper = {"paper": "P", "ledger": [{**claim, "short": "directory/a > directory/b",
                                       "verdict": "not significant", "reproduced": False}]}
    for name, s in (("bench", bench), ("p", paper), ("sample", {**bench, "synthetic": True})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(s))
    assert leaderboard_markdown(tmp_path).splitlines() == [
        "[bench](reports/bench/index.html): partial (3 of 4 planned runs); CPU X, 1 thread a "
        "cell; ★ the model to take: the best by validation accuracy (a cell, or an average of "
        "the top cells where one beats that cell there).", "",
        "| rank | cell | seeds | test accuracy % (mean ± sd) | 95 % interval of one run | "
        "without near-copies | validation % | macro F1 % | parameters | MFLOPs | s / epoch | "
        "ms / face |", "|---|---|---|---|---|---|---|---|---|---|---|---|",
        "| 1 | csv/a | 0, 1 | 60.00 ± 1.00 | 57.50 – 62.50 | 60.00 ± 1.00 | 58.00 ± 0.50 | "
        "60.00 ± 1.00 | 1,234,567 | 13.2 | 45 | 1.23 |",
        "| 2 | csv/b ★ | 0 | 50.00 | 48.00 – 52.00 | – | 59.00 | 50.00 | – | – | – | – |",
        "| – | public figure: their weights | – | 65.87 | – | – | – | – | – | – | – | – |", "",
        "The papers' claims judged again on these cells: 1 of 1 judged so far, 1 hold (the "
        "papers table above sets each beside its verdict under the paper's own protocol)."]
    assert common_protocol("p", result_summaries(tmp_path, "summary.json")) == (
        "**1 of 1 judged hold** (1 claim): csv/a > csv/b: not significant (as directory/a > "
        "directory/b) → holds")
    assert common_protocol("q", result_summaries(tmp_path, "summary.json")) == "–"
    # beyond the top rows, the rest are named; the chosen cell is shown wherever it ranks
    more = [{**rows[0], "rank": k, "cell": f"csv/m{k}", "chosen": False} for k in range(3, 9)]
    board = rows[:1] + more + [{**rows[1], "rank": 9}]
    (tmp_path / "bench" / "summary.json").write_text(json.dumps(
        {**bench, "leaderboard": board, "ledger": []}))
    lines = leaderboard_markdown(tmp_path).splitlines()
    assert [line.split(" | ")[1] for line in lines[4:-3]] == [
        "csv/a", "csv/m3", "csv/m4", "csv/m5", "csv/m6", "csv/b ★"]
    assert lines[-1] == ("Then csv/m7, csv/m8: every row, per-class recall and the McNemar "
                         "matrix in the report.")
    # an average of the top cells that beats the ★ cell on validation: a row of its own
    average = {"cells": ["csv/b", "csv/a"], "seeds": [0], "test": one, "validation": ms,
               "one_face_ms": 2.5, "chosen": True}
    (tmp_path / "bench" / "summary.json").write_text(json.dumps(
        {**bench, "ensembles": [{**average, "chosen": False}, average]}))
    assert leaderboard_markdown(tmp_path).splitlines()[6] == (
        "| – | average of csv/b + csv/a ★ | 0 | 50.00 | – | – | 60.00 ± 1.00 | – | – | – | – "
        "| 2.50 |")
    assert leaderboard_markdown(tmp_path / "none") == "No leaderboard is committed yet.\n"


@pytest.mark.parametrize("key", ["fingerprint", "source_fingerprint"])
def test_runs_on_the_damaged_copy_are_marked_superseded(tmp_path, key):
    """By the data trained on, or by what a preprocessing stage made it from (settings never
    run on the damaged copy give a fingerprint damaged.py cannot list)."""
    from fer_keras.core.damaged import DAMAGED_DATA

    runs = write_fake_runs(tmp_path / "runs")
    blurred = next(iter(DAMAGED_DATA))
    for path in runs.glob("*/seed-*/manifest.json"):
        manifest = json.loads(path.read_text())
        manifest["data"][key] = blurred
        path.write_text(json.dumps(manifest))
    text = results_markdown(paper_view(reseal(runs)))
    assert text.startswith("**Superseded: trained on a damaged copy of the data.**")
    assert "blurred" in text.splitlines()[0]


def test_a_file_without_its_markers_is_refused_in_one_line(tmp_path):
    with pytest.raises(DocsError, match=r"README.md: no generated block 'papers'"):
        replace_block("# a README\n", "papers", "x\n", Path("README.md"))


def test_index_rewrites_the_blocks_and_leaves_the_prose(tmp_path):
    root = tmp_path / "project"
    (root / "docs" / "papers").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", root / "README.md")
    page = root / "docs" / "papers" / "fake.md"
    page.write_text("# Fake\n\nProse before.\n\n<!-- generated:results -->\nstale 99.99\n"
                    "<!-- /generated:results -->\n\nProse after.\n")
    write_fake_runs(root / "reports" / "fake" / "runs")
    assert set(update_docs(root, root / "reports")) == {root / "README.md", page}
    text = page.read_text()
    assert "stale 99.99" not in text and "| csv/ozer_cnn | 0, 1 |" in text
    assert text.startswith("# Fake\n\nProse before.\n\n") and text.endswith("\n\nProse after.\n")
    assert "[fake](docs/papers/fake.md)" in (root / "README.md").read_text()
    assert update_docs(root, root / "reports") == []  # a second run changes nothing


@pytest.mark.parametrize("paper", ["ozer", "wasey", "xu", "ashok", "emotionnet"])
def test_the_rerun_papers_commit_no_cell_trained_on_the_blurred_copy(paper):
    from fer_keras.core.damaged import damage_of

    for path in sorted((ROOT / "reports" / paper / "runs").glob("*/seed-*/manifest.json")):
        manifest = json.loads(path.read_text())
        assert damage_of(manifest) is None, path
        assert manifest["threads"] == {"intra_op": 1, "inter_op": 1}, path


def test_the_committed_scoreboard_equals_what_the_committed_reports_give(tmp_path):
    """reports/index.html and reports/results.csv, rebuilt from the committed reports' summaries
    alone (a local, git-ignored report such as `make demo`'s is no part of the scoreboard)."""
    import subprocess

    from fer_keras.reports import build_index

    tracked = subprocess.run(
        ["git", "ls-files", "reports/*/summary.json", "reports/*/study-summary.json",
         "reports/*/audit.json"], cwd=ROOT, capture_output=True, text=True, check=True)
    if not tracked.stdout.strip():
        pytest.skip("not a git checkout")
    for rel in tracked.stdout.split():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    build_index(tmp_path / "reports")
    for name in ("index.html", "results.csv"):
        assert (tmp_path / "reports" / name).read_text() == (ROOT / "reports" / name).read_text()
