import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from fer_keras.core.rundata import SeedRun
from fer_keras.reports import build_report
from fer_keras.reports.findings import variant_effects
from tests.fake_runs import reseal, write_fake_runs


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("rep")
    runs = write_fake_runs(root / "runs" / "fake")
    index = build_report(runs, root / "reports" / "fake")
    return runs, index


def _sk(folder: Path) -> dict:
    z = np.load(folder / "predictions.npz")
    y, pred = z["labels"], z["probs"].argmax(1)
    return {"accuracy": accuracy_score(y, pred) * 100,
            "precision_macro": precision_score(y, pred, average="macro", zero_division=0) * 100,
            "recall_macro": recall_score(y, pred, average="macro", zero_division=0) * 100,
            "f1_macro": f1_score(y, pred, average="macro", zero_division=0) * 100,
            "auc_angry": roc_auc_score(y == 0, z["probs"][:, 0])}


def test_table_values_equal_scikit_learn_on_the_predictions(report):
    runs, index = report
    summary = json.loads((index.parent / "summary.json").read_text())
    for row in summary["table1"]:
        folders = sorted((runs / row["cell"].replace("/", "-")).glob("seed-*"))
        ref = [_sk(f) for f in folders]
        for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro"):
            vals = [r[key] for r in ref]
            assert row["metrics"][key]["mean"] == pytest.approx(np.mean(vals))
            assert row["metrics"][key]["std"] == pytest.approx(np.std(vals, ddof=1))
    csv_row = summary["table1"][2]
    assert csv_row["cell"] == "csv/ozer_cnn"
    assert csv_row["metrics"]["accuracy"]["diff"] == pytest.approx(
        csv_row["metrics"]["accuracy"]["mean"] - 55.0)
    html = index.read_text()
    mean = csv_row["metrics"]["accuracy"]["mean"]
    assert f"{mean:.2f} &plusmn;" in html


def test_per_class_auc_table_matches_scikit_learn(report):
    runs, index = report
    folders = sorted((runs / "csv-ozer_cnn").glob("seed-*"))
    expected = np.mean([_sk(f)["auc_angry"] for f in folders])
    assert f"{expected:.4f}" in index.read_text()


def test_every_figure_exists_and_has_alt_text(report):
    _, index = report
    parser = _Images()
    parser.feed(index.read_text())
    # claimed vs measured + 4 cells x (curves, confusion, roc, reliability) + interaction
    # + examples
    assert len(parser.imgs) == 19 and parser.imgs[0]["src"] == "claims.png"
    for img in parser.imgs:
        assert img.get("alt") and len(img["alt"]) > 20
        assert (index.parent / img["src"]).stat().st_size > 5000


def test_a_report_written_again_leaves_no_stale_figure_and_keeps_other_files(tmp_path):
    runs = write_fake_runs(tmp_path / "runs")
    out = tmp_path / "rep"
    build_report(runs, out)
    assert (out / "interaction.png").exists() and (out / "curves-directory-ozer_cnn.png").exists()
    (out / "mine.png").write_bytes(b"a user's own file")
    (out / "models").mkdir()
    (out / "models" / "keep.txt").write_text("published")
    for cell in runs.glob("directory-*"):  # the run folder now holds one format
        shutil.rmtree(cell)
    html = build_report(runs, out).read_text()
    parser = _Images()
    parser.feed(html)
    shown = {img["src"] for img in parser.imgs}
    # every figure of the report is shown (no interaction plot without the factorial section);
    # the user's file and the published models stay
    assert sorted(p.name for p in out.glob("*.png")) == sorted(shown | {"mine.png"})
    assert not any("directory" in name or name == "interaction.png" for name in shown)
    assert (out / "models" / "keep.txt").read_text() == "published"


def test_html_is_escaped_and_offline(report):
    _, index = report
    html = index.read_text()
    assert "Fake &lt;b&gt;paper&lt;/b&gt; &amp; co" in html
    assert not re.search(r"(src|href)=\"https?://", html)


def test_anova_and_mcnemar_are_reported(report):
    _, index = report
    summary = json.loads((index.parent / "summary.json").read_text())
    effects = [r["effect"] for r in summary["anova"]["rows"]]
    assert effects == ["format", "architecture", "format x architecture", "residual"]
    html = index.read_text()
    assert "McNemar" in html
    # 2 formats x 2 seeds: each pair of architectures shares its test images
    assert html.count("exact binomial") + html.count("chi-square, corrected") == 4


def test_second_build_is_identical_apart_from_the_date(report, tmp_path):
    runs, index = report
    again = build_report(runs, tmp_path / "again")
    strip = lambda p: re.sub(r"Generated by fer-keras at [^<]*", "", p.read_text())  # noqa: E731
    assert strip(index) == strip(again)
    for png in index.parent.glob("*.png"):
        assert png.read_bytes() == (again.parent / png.name).read_bytes(), png.name


def test_rebuild_from_the_reports_own_copy(report, tmp_path):
    _, index = report
    rebuilt = build_report(index.parent / "runs", tmp_path / "rebuilt")
    a = json.loads((index.parent / "summary.json").read_text())["table1"]
    b = json.loads((rebuilt.parent / "summary.json").read_text())["table1"]
    assert a == b
    assert not list((index.parent / "runs").glob("**/*.keras"))


def test_top_level_index_lists_the_report(report):
    from fer_keras.reports import build_index

    _, index = report
    assert not (index.parent.parent / "index.html").exists()  # a report writes only in --out
    top = build_index(index.parent.parent).read_text()
    assert 'href="fake/index.html"' in top
    # the scoreboard's claimed-vs-measured chart, one line per claimed cell
    assert '<img src="claims.png"' in top
    assert (index.parent.parent / "claims.png").stat().st_size > 5000


def test_results_come_before_the_protocol_and_read_in_percent(report):
    """The reader's first question is answered first; every accuracy is a percentage; seeds
    are named by their ids in every table."""
    _, index = report
    html = index.read_text()
    assert html.index('id="table1"') < html.index('id="protocol"') < html.index('id="provenance"')
    assert "Sum of squares (%&sup2;)" in html and "Acc. A (%)" in html
    assert html.count('<td rowspan="4">0, 1</td>') == 4  # table1: seed ids, not a count
    assert 'class="note">(' not in html  # counts inside cells are no warning boxes


def test_report_writes_nothing_outside_its_out_folder(tmp_path):
    runs = write_fake_runs(tmp_path / "runs" / "x")
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "index.html").write_text("mine")
    build_report(runs, tmp_path / "D" / "rep")
    assert (tmp_path / "D" / "index.html").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "D").iterdir()) == ["index.html", "rep"]


def test_the_run_folders_noise_gain_stands_in_the_report_the_docs_and_its_copy(tmp_path):
    from fer_keras.core.damaged import DAMAGED_DATA
    from fer_keras.core.rundata import RunFolderError
    from fer_keras.reports.markdown import paper_view, results_markdown

    runs = write_fake_runs(tmp_path / "runs" / "g")
    rows = [{"stage": "as configured", "sigma": 5.0, "rms_added": 4.96, "rms_after": 19.34,
             "gain": 3.9}, {"stage": "CLAHE only", "sigma": 5.0, "rms_added": 4.96,
                            "rms_after": 19.53, "gain": 3.926},
            {"stage": "as configured", "sigma": 10.0, "rms_added": 0.0, "rms_after": 0.0,
             "gain": None}, {"stage": "CLAHE only", "sigma": 10.0, "rms_added": 0.0,
                             "rms_after": 0.0, "gain": None}]
    found = {"data": "faces/", "data_fingerprint": "ab" * 32, "images": 7, "seed": 3,
             "rows": rows}
    (runs / "noise-gain.json").write_text(json.dumps(found))
    html = build_report(runs, tmp_path / "out").read_text()
    assert "What the preprocessing does to noise" in html
    assert "Gaussian noise added to 7 random images of faces/ (fingerprint abababababab, " \
        "seed 3" in html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html.split('id="noise-gain"')[1].split(
        "</table>")[0])
    assert cells == ["&sigma; = 5.0", "4.96", "3.90", "3.93", "&sigma; = 10.0", "0.00", "–", "–"]
    assert "Superseded: measured on" not in html
    # two formats: McNemar's test is a part of the factorial analysis, not of this section
    assert '<h2 id="factorial">' in html and '<h3 id="mcnemar">' in html
    assert json.loads((tmp_path / "out" / "runs" / "noise-gain.json").read_text()) == found
    md = results_markdown(paper_view(runs))
    assert "| sigma | RMS added | gain: as configured | gain: CLAHE only |" in md
    assert "| 5.0 | 4.96 | 3.90 | 3.93 |" in md and "| 10.0 | 0.00 | – | – |" in md
    # rebuilt from the report's own copy: the same section
    again = build_report(tmp_path / "out" / "runs", tmp_path / "out").read_text()
    assert "Gaussian noise added to 7 random images of faces/" in again
    # measured on a copy known to be damaged: said in the report
    damaged = next(iter(DAMAGED_DATA))
    (runs / "noise-gain.json").write_text(json.dumps({**found, "data_fingerprint": damaged}))
    html = build_report(runs, tmp_path / "out2").read_text()
    assert f"Superseded: measured on {DAMAGED_DATA[damaged]}" in html
    # none: no section
    (runs / "noise-gain.json").unlink()
    assert 'id="noise-gain"' not in build_report(runs, tmp_path / "out3").read_text()
    # a broken file: one line naming it
    (runs / "noise-gain.json").write_text('{"data": "x", "images": 1, "seed": 0}')
    with pytest.raises(RunFolderError, match=r"noise-gain.json: no 'rows'; expected the JSON"):
        build_report(runs, tmp_path / "out4")
    (runs / "noise-gain.json").write_text("{")
    with pytest.raises(RunFolderError, match=r"noise-gain.json: unreadable"):
        build_report(runs, tmp_path / "out4")
    (runs / "noise-gain.json").write_text(json.dumps({**found, "rows": [{"stage": "x"}]}))
    with pytest.raises(RunFolderError, match=r"noise-gain.json: no 'rows with stage, sigma, "
                       r"rms_added, gain'; expected the JSON"):
        build_report(runs, tmp_path / "out4")


def test_the_anova_is_the_same_on_any_cpu():
    """Accuracies that differ in their last bit (what another CPU's BLAS makes of the same
    fit) give the same ANOVA rows, each number kept to ten significant digits."""
    from types import SimpleNamespace

    from fer_keras.claims.stats import two_way_anova

    acc = [0.5357, 0.5412, 0.5501, 0.5288, 0.4957, 0.5057, 0.5784, 0.5573]
    cells = [(f, m) for f in ("csv", "directory") for m in ("a", "b") for _ in range(2)]
    runs = lambda values: [SimpleNamespace(format=f, model=m, metrics={"accuracy": v})  # noqa
                           for (f, m), v in zip(cells, values)]
    rows = two_way_anova(runs(acc))["rows"]
    assert rows == two_way_anova(runs(np.nextafter(acc, 1.0).tolist()))["rows"]
    for row in rows:
        for key in ("sum_sq", "F", "p"):
            if row[key] is not None:
                assert row[key] == float(f"{row[key]:.10g}"), (row["effect"], key)
    assert [r["df"] for r in rows] == [1.0, 1.0, 1.0, 4.0]


def test_single_seed_says_the_anova_needs_two(tmp_path):
    runs = write_fake_runs(tmp_path / "runs" / "one", seeds=(0,))
    html = build_report(runs, tmp_path / "out").read_text()
    assert "No ANOVA: the ANOVA needs at least two seeds in every cell (fewest here: 1)" in html


def test_synthetic_runs_are_labelled(tmp_path):
    runs = write_fake_runs(tmp_path / "runs" / "syn")
    for m in runs.glob("*/seed-*/manifest.json"):
        d = json.loads(m.read_text())
        d["data"]["synthetic"] = True
        m.write_text(json.dumps(d))
    reseal(runs)
    html = build_report(runs, tmp_path / "out").read_text()
    assert "Synthetic data." in html and "Headline number" not in html  # no verdict under it
    assert "<strong>No verdict:</strong> synthetic data." in html
    # the scoreboard lists results only: a sample's report (`make demo`) stays out of it
    from fer_keras.reports import build_index

    real = write_fake_runs(tmp_path / "runs" / "real")
    build_report(runs, tmp_path / "reports" / "demo")
    build_report(real, tmp_path / "reports" / "real")
    top = build_index(tmp_path / "reports").read_text()
    assert 'href="real/index.html"' in top and "demo" not in top
    csv = (tmp_path / "reports" / "results.csv").read_text()
    assert {line.split(",")[0] for line in csv.splitlines()[1:]} == {"real"}


def test_the_report_package_never_imports_training_code():
    code = ("import sys, fer_keras.reports, fer_keras.reports.build; "
            "bad = [m for m in ('fer_keras.train.runner', 'fer_keras.models', "
            "'fer_keras.data.pipeline', 'fer_keras.use', 'tensorflow', 'keras') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.browser
def test_report_in_headless_chromium(report, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        if os.environ.get("FER_KERAS_REQUIRE_BROWSER"):
            pytest.fail("FER_KERAS_REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("Debian's chromium is not installed (make install-browser)")
    _, index = report
    errors = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        # every table-of-contents link points at an element of the page
        targets = page.eval_on_selector_all("nav.toc a", "els => els.map(e => e.hash)")
        missing = page.evaluate("hs => hs.filter(h => !document.getElementById(h.slice(1)))",
                                targets)
        page.click("nav.toc a[href='#calibration']")
        scrolled = page.evaluate("window.scrollY")
        protocol_rows = page.eval_on_selector_all("#protocol + p + table tr",
                                                  "els => els.map(e => e.innerText)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert len(widths) == 19 and all(w > 0 for w in widths), widths
    assert len(targets) >= 10 and missing == [] and scrolled > 1000
    assert any(r.startswith("learning_rate") for r in protocol_rows), protocol_rows
    assert any(r.startswith("numeric precision") for r in protocol_rows)
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_a_quality_shift_between_training_and_test_images_is_flagged(tmp_path):
    runs = write_fake_runs(tmp_path / "runs" / "q")
    blurred = {"n": 800, "sharpness_q10": 4.0, "sharpness_median": 6.2, "sharpness_q90": 9.5,
               "contrast_median": 37.7}
    sharp = {"n": 150, "sharpness_q10": 1000.0, "sharpness_median": 2137.3,
             "sharpness_q90": 3963.2, "contrast_median": 53.9}
    sentence = "train and test differ in sharpness by a factor of 345"
    folders = sorted(runs.glob("*/seed-*"))
    for i, folder in enumerate(folders):
        if i == 0:  # an older cell without quality.json: counted, never invented
            continue
        fmt = folder.parent.name.split("-")[0]
        shifts = [sentence] if fmt == "directory" else []
        parts = {"train": blurred, "val": blurred, "test": sharp if shifts else blurred}
        (folder / "quality.json").write_text(json.dumps({"parts": parts, "shifts": shifts}))
    html = build_report(reseal(runs), tmp_path / "out").read_text()
    assert html.count("The images the models were trained on differ") == 1
    assert f"<li>directory: {sentence}.</li>" in html
    assert "train 6.2 / 37.7 (800 images); val 6.2 / 37.7 (800 images); test 2137.3 / 53.9" in html
    assert "not recorded for 1 run(s)" in html
    # the report keeps the file with its copy of the runs
    assert (tmp_path / "out" / "runs" / folders[1].relative_to(runs) / "quality.json").exists()
    clean = write_fake_runs(tmp_path / "runs" / "clean")
    assert "The images the models were trained on differ" not in build_report(
        clean, tmp_path / "out2").read_text()
    # the scoreboard marks the report, and shows a data audit's warnings kept beside it
    from fer_keras.reports import build_index

    root = tmp_path / "reports"
    build_report(runs, root / "q")
    build_report(clean, root / "clean")
    assert json.loads((root / "q" / "summary.json").read_text())["quality_shifts"] == [sentence]
    mark = "(trained on images unlike its test images: see its report)"
    assert build_index(root).read_text().count(mark) == 1
    (root / "data-audit").mkdir()
    (root / "data-audit" / "audit.json").write_text(json.dumps(
        {"quality_shifts": ["PublicTest and Training differ in sharpness by a factor of 348"]}))
    top = build_index(root).read_text()
    assert 'The data audit (<a href="data-audit/audit.json">' in top
    assert "<li>PublicTest and Training differ in sharpness by a factor of 348.</li>" in top


def test_a_run_no_better_than_the_largest_class_is_named(tmp_path):
    from collections import Counter

    from fer_keras.core.labels import CLASS_NAMES
    from fer_keras.core.metrics import compute_metrics
    from fer_keras.reports import build_index

    root = tmp_path / "reports"
    runs = write_fake_runs(tmp_path / "runs" / "s")
    folder = runs / "csv-ozer_cnn" / "seed-1"
    z = dict(np.load(folder / "predictions.npz"))
    y = z["labels"]
    counts = Counter(y.tolist())
    rarest = min(range(7), key=lambda c: (counts[c], c))
    largest = max(range(7), key=lambda c: (counts[c], -c))
    # a collapsed model: the same output for every image, answering the rarest class
    z["probs"] = np.tile(np.eye(7, dtype=np.float32)[rarest] * 0.5 + 0.5 / 7, (y.size, 1))
    np.savez(folder / "predictions.npz", **z)
    (folder / "metrics.json").write_text(json.dumps(compute_metrics(y, z["probs"])))
    # its dead layer is named; a layer with a few dead units is not
    (folder / "activity.json").write_text(json.dumps({"images": 64, "layers": [
        {"layer": "conv1", "units": 32, "dead": 3}, {"layer": "dense", "units": 128,
                                                     "dead": 128}]}))
    html = build_report(reseal(runs), root / "s").read_text()
    assert ("Layer dense: 128 of 128 ReLU units never fire on the 64 example images (a dead "
            "layer: the output no longer depends on the input).") in html
    assert "Layer conv1" not in html
    assert "1 run(s) did no better than always answering the largest class" in html
    assert (f"csv/ozer_cnn, seed 1: {100 * counts[rarest] / y.size:.2f} % against "
            f"{100 * counts[largest] / y.size:.2f} % for always answering "
            f"{CLASS_NAMES[largest]}; it answers {CLASS_NAMES[rarest]} for 100.0 % of the "
            "images.") in html
    summary = json.loads((root / "s" / "summary.json").read_text())
    assert [(n["cell"], n["seed"]) for n in summary["no_better_than_majority"]] == [
        ("csv/ozer_cnn", 1)]
    assert summary["no_better_than_majority"][0]["dead"] == [
        {"layer": "dense", "units": 128, "dead": 128, "images": 64}]
    assert "(seed 1: no better than always answering the largest class)" in \
        build_index(root).read_text()
    clean = build_report(write_fake_runs(tmp_path / "runs" / "c"), tmp_path / "c").read_text()
    assert "did no better than always answering" not in clean


def test_the_ledger_leads_the_report_and_the_scoreboard_with_the_central_findings(tmp_path):
    from fer_keras.claims.ledger import Bound, Order, Robust, to_json
    from fer_keras.reports import build_index

    runs = write_fake_runs(tmp_path / "runs" / "k")
    experiment = json.loads((runs / "experiment.json").read_text())
    experiment["proposed_model"] = "ozer_cnn_lstm"
    experiment["claims"] += to_json((
        Bound(cell="csv/ozer_cnn", above=1.0, quote="above one", where="§2"),
        Bound(cell="csv/ozer_cnn_lstm", above=99.0, central=True, quote="above 99",
              where="Abstract"),
        Order(better="csv/ozer_cnn_lstm", worse="csv/ozer_cnn", size=(4.0, 6.0), quote="drop",
              where="§3"),
        Robust(cell="csv/ozer_cnn_lstm", than="csv/ozer_cnn", quote="robust", where="§3")))
    (runs / "experiment.json").write_text(json.dumps(experiment))
    for model, at_20 in (("ozer_cnn_lstm", 0.2), ("ozer_cnn", 0.1)):
        for seed in (0, 1):
            folder = runs / f"csv-{model}" / f"seed-{seed}"
            clean = _sk(folder)["accuracy"] / 100
            (folder / "robustness.json").write_text(json.dumps({"levels": [
                {"sigma": 0.0, "accuracy": clean}, {"sigma": 20.0, "accuracy": at_20}]}))
    root = tmp_path / "reports"
    html = build_report(reseal(runs), root / "k").read_text()
    summary = json.loads((root / "k" / "summary.json").read_text())
    ledger = summary["ledger"]
    assert ledger[0]["quote"] == "above 99" and ledger[0]["central"]  # central first
    assert ledger[0]["verdict_text"] == "holds in 0 of 2 seed(s)"
    one = next(r for r in ledger if r["quote"] == "above one")
    assert one["verdict_text"] == "holds in 2 of 2 seed(s)"
    lost = {m: [_sk(runs / f"csv-{m}" / f"seed-{s}")["accuracy"] - 100 * at_20 for s in (0, 1)]
            for m, at_20 in (("ozer_cnn_lstm", 0.2), ("ozer_cnn", 0.1))}
    robust = next(r for r in ledger if r["quote"] == "robust")
    held = sum(a < b for a, b in zip(lost["ozer_cnn_lstm"], lost["ozer_cnn"]))
    assert robust["verdict_text"] == f"holds in {held} of 2 seed(s)"
    assert summary["tally"]["central"] == {"judged": 1, "reproduced": 0}
    assert summary["tally"]["claims"] == len(ledger) == 11 + 4  # fake Table 1 and 2, and 4
    assert html.index('id="ledger"') < html.index('id="table1"')
    assert "Central findings: 0 of 1 reproduced" in html
    assert "&ldquo;above 99&rdquo;" in html
    top = build_index(root).read_text()
    assert "<strong>0 of 1</strong>: csv/ozer_cnn_lstm: accuracy above 99 %: does not hold" in top


def test_the_proposed_model_against_every_other_one_counts_significant_seeds():
    from fer_keras.reports.findings import proposed_against_others

    def test(seed, p, acc_a=0.60):
        return {"seed": seed, "a": "mine", "b": "base", "acc_a": acc_a, "acc_b": 0.58, "p": p}

    pairs = [test(0, 0.03), test(1, 0.004), test(2, 0.002, acc_a=0.55)]
    usual, = proposed_against_others(pairs, "mine")
    assert (usual["proposed_better"], usual["other_better"]) == (2, 1)
    strict, = proposed_against_others(pairs, "mine", alpha=0.01)
    assert (strict["proposed_better"], strict["other_better"]) == (1, 1)  # p = 0.03 no longer


def test_a_variant_stands_beside_a_number_only_where_a_claim_names_it():
    from types import SimpleNamespace

    from fer_keras.claims.ledger import Value, values_of
    from fer_keras.reports.findings import claim_of

    def run(variant):
        arm = "m" + (f"+{variant}" if variant else "")
        return SimpleNamespace(format="csv", model="m", cell=f"csv/{arm}")

    claimed = values_of({"claims": [Value(
        cell="csv/m", metric="accuracy", value=90.5, quote="q", where="T",
        readings={"r": {"csv/m": "csv/m+reading"}})]})
    assert claim_of(claimed, run("")) == {"accuracy": 90.5}
    assert claim_of(claimed, run("reading")) == {"accuracy": 90.5}  # another reading of it
    assert claim_of(claimed, run("ablation")) == {}  # named by no claim: no number
    assert claim_of({}, run("")) == {}


def _ranked(cells: dict[str, tuple]) -> list[dict]:
    """ranking() on hand-made cells: name -> (claimed %, {seed: measured %})."""
    from types import SimpleNamespace

    from fer_keras.reports.findings import ranking

    table1 = [{"cell": f"csv/{m}", "metrics": {"accuracy": {
        "paper": claimed, "mean": float(np.mean(list(acc.values()))) if acc else None,
        "std": None}}} for m, (claimed, acc) in cells.items()]
    runs = [SimpleNamespace(cell=f"csv/{m}", variant="", seed=seed,
                            metrics={"accuracy": value / 100})
            for m, (_, acc) in cells.items() for seed, value in acc.items()]
    return ranking(table1, runs)


def test_ranking_gives_equal_claims_one_rank():
    """Two readings of one model carry the same claim: competition ranks ("1, 2, 2, 4")."""
    rows = _ranked({"a": (72.0, {0: 38.7}), "a_literal": (72.0, {0: 41.0}),
                    "b": (62.0, {0: 40.6}), "c": (56.0, {0: 12.7}),
                    "d": (56.0, {})})  # d: no seed finished, so not ranked
    assert [(r["cell"], r["claimed_rank"], r["measured_rank"]) for r in rows] == [
        ("csv/a_literal", 1, 1), ("csv/a", 1, 3), ("csv/b", 3, 2), ("csv/c", 4, 4)]


def test_ranking_compares_like_with_like_when_cells_ran_different_seeds():
    """Hand-checked: a ran seeds 0 and 1 (40 and 30 %, mean 35), b only seed 0 (38 %). Over
    each cell's own seeds b is first (38 > 35); over the seed both have, a is (40 > 38)."""
    rows = _ranked({"a": (72.0, {0: 40.0, 1: 30.0}), "b": (62.0, {0: 38.0})})
    assert [(r["cell"], r["measured"], r["measured_rank"], r["common"], r["common_rank"],
             r["seeds"], r["common_seeds"]) for r in rows] == [
        ("csv/a", 35.0, 2, 40.0, 1, [0, 1], [0]), ("csv/b", 38.0, 1, 38.0, 2, [0], [0])]
    shared = _ranked({"a": (72.0, {1: 30.0}), "b": (62.0, {0: 38.0})})
    assert [r["common"] for r in shared] == [None, None]  # no seed in common
    assert [r["measured_rank"] for r in shared] == [2, 1]


def test_test_accuracy_is_split_by_the_images_original_fer2013_part(tmp_path):
    """Hand-checked: 6 test images, 2 per part; right on Training 2/2, PublicTest 1/2,
    PrivateTest 0/2 -> 100, 50, 0 %. Only runs whose predictions record the part get a row."""
    runs = write_fake_runs(tmp_path / "runs", seeds=(0,))
    folder = runs / "csv-ozer_cnn" / "seed-0"
    y = np.array([0, 1, 2, 3, 4, 5])
    predicted = np.array([0, 1, 2, 0, 0, 0])
    probs = np.eye(7, dtype=np.float32)[predicted] * 0.9 + 0.1 / 7
    usage = np.array(["Training", "Training", "PublicTest", "PublicTest", "PrivateTest",
                      "PrivateTest"])
    np.savez(folder / "predictions.npz", probs=probs, labels=y, indices=np.arange(6),
             sources=np.array([f"img{i}" for i in range(6)]), usage=usage)
    # one part only (a directory format's train/ split): no row, nothing to compare
    other = runs / "directory-ozer_cnn" / "seed-0"
    z = dict(np.load(other / "predictions.npz"))
    np.savez(other / "predictions.npz", **z, usage=np.full(z["labels"].size, "Training"))
    html = build_report(reseal(runs), tmp_path / "report").read_text()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    by_usage = summary["accuracy_by_usage"]
    assert by_usage["parts"] == ["Training", "PublicTest", "PrivateTest"]
    [row] = by_usage["rows"]
    assert row["cell"] == "csv/ozer_cnn"
    assert {p: v["mean"] for p, v in row["parts"].items()} == {
        "Training": 100.0, "PublicTest": 50.0, "PrivateTest": 0.0}
    assert row["images"] == {"Training": [2], "PublicTest": [2], "PrivateTest": [2]}
    assert "Test accuracy by the images' original FER-2013 part" in html
    assert "100.00 <span class=\"count\">(2 images)</span>" in html
    clean = build_report(write_fake_runs(tmp_path / "runs2"), tmp_path / "clean")
    assert "original FER-2013 part" not in clean.read_text()
    assert json.loads((tmp_path / "clean" / "summary.json").read_text())[
        "accuracy_by_usage"] == {}


def test_the_report_ranks_over_the_shared_seeds_when_cells_ran_different_ones(tmp_path):
    """One claimed cell with seeds 0 and 1, the other with seed 0 only: the report's ranking
    says so and ranks over seed 0 (its summary.json too)."""
    runs = write_fake_runs(tmp_path / "runs", seeds=(0, 1))
    experiment = json.loads((runs / "experiment.json").read_text())
    experiment["claims"].append({"kind": "value", "cell": "csv/ozer_cnn_lstm",
                                 "metric": "accuracy", "value": 60.0, "quote": "q",
                                 "where": "T"})
    (runs / "experiment.json").write_text(json.dumps(experiment))
    shutil.rmtree(runs / "csv-ozer_cnn_lstm" / "seed-1")
    index = build_report(runs, tmp_path / "report")
    ranked = json.loads((index.parent / "summary.json").read_text())["ranking"]
    assert {r["cell"]: (r["seeds"], r["common_seeds"]) for r in ranked} == {
        "csv/ozer_cnn": ([0, 1], [0]), "csv/ozer_cnn_lstm": ([0], [0])}
    html = index.read_text()
    assert "the ranking that counts is over the seed(s) every cell has (0)" in html
    assert "<th>Seed(s) 0</th><th>Rank</th>" in html


def test_a_study_report_rebuilt_from_its_own_copy_keeps_that_copy(tmp_path):
    """Rebuilding reports/<study>/ from its own runs/ copy once deleted that copy (it was
    cleared before being copied onto itself)."""
    import shutil

    committed = Path(__file__).parents[1] / "reports" / "ozer-reachability"
    if not (committed / "runs" / "study.json").exists():
        pytest.skip("no committed study")
    copy = tmp_path / "ozer-reachability"
    shutil.copytree(committed, copy)
    before = sorted(p.relative_to(copy) for p in (copy / "runs").rglob("*") if p.is_file())
    build_report(copy / "runs", copy)
    after = sorted(p.relative_to(copy) for p in (copy / "runs").rglob("*") if p.is_file())
    assert before and after == before
    # the committed study (repaired copy): the printed protocol reached every claim
    html = (copy / "index.html").read_text()
    assert "No model needed a search" in html and "damaged copy" not in html
    # nothing searched, so no oracle to wait for: said so, not "not recorded yet"
    assert "Not needed: no model was searched" in html and "Not recorded yet" not in html
    # the control row is the committed seeds' mean +- sd (sample sd), beside its public figure
    metrics = sorted((copy / "runs" / "control").glob("*/seed-*/metrics.json"))
    accs = [json.loads(m.read_text())["accuracy"] * 100 for m in metrics]
    if accs:
        control = json.loads((copy / "study-summary.json").read_text())["control"][0]
        assert control["acc"]["mean"] == pytest.approx(np.mean(accs))
        assert control["acc"]["n"] == len(accs) and control["public"] == 66.0
        assert [(g["figure"], g["points"]) for g in control["gaps"]] == [
            (66.0, pytest.approx(np.mean(accs) - 66.0)),
            (65.55, pytest.approx(np.mean(accs) - 65.55))]
        sd = f" &plusmn; {np.std(accs, ddof=1):.2f}" if len(accs) > 1 else ""
        assert f"<td>{np.mean(accs):.2f}{sd}</td>" in html
        # the scoreboard sets the control beside its public figures, and each claim beside
        # the printed protocol it was judged on
        from fer_keras.reports import build_index

        board = build_index(tmp_path).read_text()
        assert (f"<td>66.00 / 65.55 (public)</td><td colspan=\"3\">{np.mean(accs):.2f}{sd} "
                f"(seed(s) {', '.join(m.parent.name[5:] for m in metrics)})</td><td class=\"l\">"
                f"{np.mean(accs) - 66.0:+.2f} points from 66.00; {np.mean(accs) - 65.55:+.2f} "
                "points from 65.55</td>") in board
        for r in json.loads((copy / "study-summary.json").read_text())["rows"]:
            printed = r["reference"]
            assert (f"<td>{r['claim']:.2f}</td><td>{printed['mean']:.2f} &plusmn; "
                    f"{printed['std']:.2f}</td>") in board


def _seed_run(model, seed, acc, variant="", validation="carve", train=900, scored=None,
              val_acc=()):
    """A SeedRun by hand: `acc` right answers out of 100 test images."""
    y = np.zeros(100, dtype=int)
    probs = np.zeros((100, 7), dtype=np.float32)
    probs[:, 1] = 1.0
    probs[:acc, 0], probs[:acc, 1] = 2.0, 0.0  # the first `acc` images right
    history = pd.DataFrame({"val_accuracy": list(val_acc)})
    return SeedRun(folder=Path("."), format="csv", model=model, seed=seed,
                   config={"identity": {"training": {"validation": validation}}},
                   manifest={"split": {"train": train}, "scored_epoch": scored},
                   history=history, y=y, probs=probs, indices=np.arange(100),
                   metrics={"accuracy": acc / 100}, examples=None, variant=variant)


def test_a_leaking_variant_splits_its_gain_into_more_images_and_selection_on_test():
    runs = [
        _seed_run("m", 0, 50, scored=2), _seed_run("m", 1, 40, scored=3),
        # seed 0: at its twin's epoch 2 the leak scores 53 -> images +3, selection 60-53=+7
        _seed_run("m", 0, 60, "leak", "test", 1000, 3, (0.45, 0.53, 0.60)),
        # seed 1: at epoch 3 it scores 41 -> images +1, selection 44-41=+3
        _seed_run("m", 1, 44, "leak", "test", 1000, 1, (0.44, 0.40, 0.41, 0.39)),
        # another variant that validates honestly: no split of its difference
        _seed_run("m", 0, 55, "wide", "carve", 900, 2, (0.5, 0.55)),
    ]
    rows = {r["cell"]: r for r in variant_effects(runs)}
    leak = rows["csv/m+leak"]
    assert leak["leak"] and leak["train"] == [1000] and leak["base_train"] == [900]
    assert leak["diff"]["mean"] == pytest.approx(7.0)  # (10 + 4) / 2
    assert leak["split_seeds"] == [0, 1]
    assert leak["images"]["mean"] == pytest.approx(2.0)  # (3 + 1) / 2
    assert leak["images"]["std"] == pytest.approx(np.std([3, 1], ddof=1))
    assert leak["selection"]["mean"] == pytest.approx(5.0)  # (7 + 3) / 2
    # the parts add up to the whole, seed by seed and so on average
    assert leak["images"]["mean"] + leak["selection"]["mean"] == pytest.approx(leak["diff"]["mean"])
    wide = rows["csv/m+wide"]
    assert not wide["leak"] and wide["images"] is None and wide["selection"] is None


def test_a_leaking_variant_that_stopped_before_its_twins_epoch_is_not_split():
    runs = [_seed_run("m", 0, 50, scored=5),
            _seed_run("m", 0, 60, "leak", "test", 1000, 2, (0.5, 0.6))]
    (row,) = variant_effects(runs)
    assert row["diff"]["mean"] == pytest.approx(10.0)
    assert row["images"] is None and row["selection"] is None and row["split_seeds"] == []


def test_training_time_is_each_runs_whole_time_and_marks_a_last_session_only(tmp_path):
    """A run timed over all its sessions (manifest train_seconds) counts whole; an older
    resumed run records only its last session: its minutes carry "≥", the seconds an epoch
    leave it out and the total says it is a lower bound."""
    from fer_keras.core.rundata import read_runs
    from fer_keras.reports.build import report_view
    from fer_keras.reports.markdown import results_markdown

    runs = write_fake_runs(tmp_path / "runs" / "t", seeds=(0, 1))
    edits = {  # (cell, seed): manifest changes; every other run: 60 s, 6 epochs, not resumed
        ("csv-ozer_cnn", 0): {"resumed": True, "train_seconds_this_session": 30.0,
                              "epoch_seconds": [20.0] * 6, "train_seconds": 120.0},
        ("csv-ozer_cnn", 1): {"resumed": True, "train_seconds_this_session": 42.0}}
    for key, change in edits.items():
        path = runs / key[0] / f"seed-{key[1]}" / "manifest.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    view = report_view(*read_runs(reseal(runs)))
    rows = {t["cell"]: t for t in view["training_time"]}
    cnn = rows["csv/ozer_cnn"]
    assert (cnn["seeds"], cnn["epochs"], cnn["minutes"], cnn["whole"]) == (
        [0, 1], [6, 6], [2.0, 0.7], [True, False])
    assert cnn["seconds_per_epoch"] == 20  # 120 s / 6 epochs; the partial run left out
    assert rows["csv/ozer_cnn_lstm"]["seconds_per_epoch"] == 10  # 60 s / 6 epochs
    # 6 runs of 60 s, one of 120 s and one of 42 s (its last session)
    assert view["prov"]["train_minutes"] == round((6 * 60 + 120 + 42) / 60, 1)
    assert view["prov"]["train_minutes_partial"] == 1
    text = results_markdown(view)
    assert "| csv/ozer_cnn | 0, 1 | 6, 6 | 2.0, ≥ 0.7 | 20 | – |" in text
    assert "(at least: 1 resumed run(s) record only their last session)" in text


def test_a_report_of_part_of_its_plan_names_the_runs_not_finished(tmp_path):
    """The plan (experiment.json, recorded by the runner and by `reproduce`) names every run
    asked of the folder: a report made before all have finished says so in its HTML page, its
    docs results, the README row and the scoreboard, naming the missing ones; a folder
    without a plan, or with all of it finished, says nothing of the kind."""
    from fer_keras.reports import build_index
    from fer_keras.reports.markdown import paper_view, papers_markdown, results_markdown
    from fer_keras.train.runfolder import Cell, record_plan

    runs = write_fake_runs(tmp_path / "reports" / "fake" / "runs")  # 2 x 2 cells, seeds 0, 1
    assert paper_view(runs)["coverage"] == {"runs": 8, "finished": 8, "cells": []}
    assert "Partial" not in results_markdown(paper_view(runs))
    record_plan(runs, [Cell(f, m, s) for f in ("directory", "csv")
                       for m in ("ozer_cnn", "ozer_cnn_lstm") for s in (0, 1)])
    assert paper_view(runs)["coverage"]["cells"] == []  # all of it finished
    record_plan(runs, [Cell("csv", "ozer_cnn", 2), Cell("csv", "ozer_cnn", 0, "no-aug"),
                       Cell("csv", "ozer_cnn", 1, "no-aug")])
    view = paper_view(runs)
    assert view["coverage"] == {"runs": 11, "finished": 8, "cells": [
        {"cell": "csv/ozer_cnn", "seeds": [2]},
        {"cell": "csv/ozer_cnn+no-aug", "seeds": [0, 1]}]}
    line = ("**Partial: 8 of the 11 runs planned for this run folder have finished.** Not "
            "finished yet: csv/ozer_cnn (seed 2); csv/ozer_cnn+no-aug (seeds 0, 1). Every "
            "number below covers the finished runs only.")
    assert line in results_markdown(view).splitlines()
    row = papers_markdown(tmp_path / "reports", ["fake"]).splitlines()[2]
    assert "| partial (8 of 11 planned runs): " in row
    page = build_report(runs, tmp_path / "reports" / "fake").read_text()
    assert ("<strong>Partial: 8 of the 11 runs planned for this run folder have finished."
            "</strong> Not finished yet: csv/ozer_cnn (seed 2); csv/ozer_cnn+no-aug (seeds 0, "
            "1).") in page
    summary = json.loads((tmp_path / "reports" / "fake" / "summary.json").read_text())
    assert summary["coverage"] == view["coverage"]
    assert "(partial: 8 of 11 planned runs finished)" in build_index(
        tmp_path / "reports").read_text()
    # a reproduction sets the whole plan: cells of an earlier, other plan are no longer named
    record_plan(runs, [Cell("csv", "ozer_cnn", 0)], replace=True)
    assert paper_view(runs)["coverage"] == {"runs": 8, "finished": 8, "cells": []}
    # a run killed after a cell finished, before describing it: a file holding only the plan
    (runs / "experiment.json").write_text(json.dumps({"planned": [
        {"format": "csv", "model": "ozer_cnn", "variant": "", "seed": 3}]}))
    view = paper_view(runs)
    assert view["coverage"]["cells"] == [{"cell": "csv/ozer_cnn", "seeds": [3]}]
    assert view["experiment"]["name"] == "fake"  # the rest from the runs' own config


def test_a_quick_check_is_titled_and_marked_as_no_reproduction(tmp_path):
    """The quick-mode report (reproduce --quick) was titled like a reproduction; its limit was
    named only in the footer."""
    runs = write_fake_runs(tmp_path / "runs")
    for path in runs.glob("*/seed-*/config.json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "limit": 300}))
    html = build_report(reseal(runs), tmp_path / "out").read_text()
    assert "<h1>Quick check, not a reproduction: " in html
    assert "<strong>No verdict:</strong> a quick check." in html
    assert "trained on a subsample (300 images, 6 epoch(s))" in html
    full = build_report(reseal(write_fake_runs(tmp_path / "full")), tmp_path / "o2").read_text()
    assert "Quick check" not in full


def test_a_leaderboard_ranks_the_cells_beside_their_recorded_costs(tmp_path):
    """A run folder whose experiment.json records model costs (config model_costs): the report
    ranks every cell by accuracy, with the ledger's 95 % interval, macro F1, the recorded
    parameters and FLOPs, the seconds an epoch, and draws accuracy against cost."""
    import json

    from fer_keras.claims.judge import value_interval
    from fer_keras.core.rundata import cells_of, read_runs
    from fer_keras.reports import build_report
    from fer_keras.reports.build import report_view, training_time
    from fer_keras.reports.leaderboard import leaderboard

    runs_dir = write_fake_runs(tmp_path / "runs")
    experiment, runs = read_runs(runs_dir)
    assert leaderboard(experiment, runs, None, []) is None  # no costs recorded: no section
    assert report_view(experiment, runs)["leaderboard"] is None
    costs = {"ozer_cnn": {"params": 319_527, "forward_flops": 13_199_104, "signature": "a"},
             "ozer_cnn_lstm": {"params": 232_967, "forward_flops": 31_124_608,
                               "signature": "b"}}
    experiment["model_costs"] = costs
    cells = cells_of(runs)
    rows = leaderboard(experiment, runs, None, training_time(cells))
    means = {c: np.mean([r.metrics["accuracy"] * 100 for r in rs]) for c, rs in cells.items()}
    assert [r["cell"] for r in rows] == sorted(means, key=lambda c: -means[c])
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    top = rows[0]
    assert top["accuracy"] == value_interval(cells[top["cell"]], "accuracy")
    assert top["accuracy"]["low"] < top["accuracy"]["mean"] < top["accuracy"]["high"]
    assert top["params"] == costs[top["model"]]["params"]
    assert top["forward_flops"] == costs[top["model"]]["forward_flops"]
    assert top["seconds_per_epoch"] == 10  # 60 s over 6 epochs, timed whole
    assert top["one_face_ms"] is None  # cells finished before one_face_ms was recorded
    for r, ms in zip(cells[top["cell"]], (3.0, 5.0, None)):  # the median of those recorded
        r.manifest["one_face_ms"] = ms
    assert leaderboard(experiment, runs, None, training_time(cells))[0]["one_face_ms"] == 4.0
    assert top["f1"]["mean"] == pytest.approx(np.mean(
        [r.metrics["f1_macro"] * 100 for r in cells[top["cell"]]]))
    # through the report: the section, the figure, and summary.json
    described = json.loads((runs_dir / "experiment.json").read_text())
    (runs_dir / "experiment.json").write_text(json.dumps({**described, "model_costs": costs}))
    out = tmp_path / "report"
    build_report(runs_dir, out)
    page = (out / "index.html").read_text()
    assert '<h2 id="leaderboard">Leaderboard: accuracy against cost</h2>' in page
    assert "319,527" in page and "accuracy-vs-cost.png" in page
    assert (out / "accuracy-vs-cost.png").stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert [r["cell"] for r in summary["leaderboard"]] == [r["cell"] for r in rows]


def test_the_leaderboard_chooses_by_validation_accuracy_never_by_test(tmp_path):
    """Each row carries the validation accuracy of the epoch each seed was scored at (history
    counts from 0, scored_epoch from 1), mean ± sd over seeds; the chosen cell is the best
    there, here the one ranked last on test accuracy; without validation, none is chosen."""
    import dataclasses

    import pandas as pd

    from fer_keras.core.rundata import read_runs
    from fer_keras.reports.leaderboard import chosen_cell, leaderboard

    experiment, runs = read_runs(write_fake_runs(tmp_path / "runs"))
    experiment["model_costs"] = {"ozer_cnn": {}, "ozer_cnn_lstm": {}}
    last = leaderboard(experiment, runs, None, [])[-1]["cell"]
    for i, r in enumerate(runs):
        r.manifest["scored_epoch"] = 2  # the second row, epoch 1
        val = [0.10] * len(r.history)
        val[1] = 0.60 + 0.01 * r.seed if r.cell == last else 0.50
        val[0] = 0.99  # not the scored epoch: never read
        runs[i] = dataclasses.replace(r, history=pd.DataFrame(
            {"epoch": range(len(val)), "val_accuracy": val}))
    rows = leaderboard(experiment, runs, None, [])
    assert rows[-1]["cell"] == last and rows[-1]["chosen"]
    assert [r["chosen"] for r in rows].count(True) == 1
    assert chosen_cell(runs) == last  # what `publish --chosen` publishes
    assert rows[-1]["validation"]["mean"] == pytest.approx(60.5)  # seeds 0, 1
    assert rows[-1]["validation"]["std"] == pytest.approx(0.5 ** 0.5)
    assert rows[0]["validation"]["mean"] == pytest.approx(50.0)
    runs = [dataclasses.replace(r, history=r.history.drop(columns="val_accuracy"))
            if r.cell == last else r for r in runs]
    rows = leaderboard(experiment, runs, None, [])
    assert rows[-1]["validation"] is None and not rows[-1]["chosen"]
    assert [r["chosen"] for r in rows].count(True) == 1  # among the cells that have one
    tied = [dataclasses.replace(r, history=r.history.assign(val_accuracy=0.5)) for r in runs
            if r.cell != last]
    assert chosen_cell(tied) == min(r.cell for r in tied)  # a tie: the cell named first
    assert chosen_cell([dataclasses.replace(r, history=r.history.drop(columns="val_accuracy"))
                        for r in tied]) is None


def test_model_costs_are_counted_once_per_architecture(monkeypatch):
    """describe records each model's parameters and forward FLOPs; an entry recorded before
    for the same architecture (signature) is kept without building the model again."""
    from fer_keras import models
    from fer_keras.train.runfolder import model_costs

    kept = {"params": 1, "forward_flops": 2, "signature": "s1"}
    built = model_costs([("ozer_cnn", "new"), ("ozer_cnn", "new"), ("not_built", "s1")],
                        {"not_built": kept, "ozer_cnn": {"params": 0, "signature": "old"}})
    assert built["not_built"] == kept  # the registry has no such model: never built
    # hand-counted: tests/test_bench.py (FLOPs) and the registry's printed count (params)
    assert built["ozer_cnn"] == {"params": 319_527, "forward_flops": 13_199_104,
                                 "signature": "new"}
    assert models.registry.get_spec("ozer_cnn").expected_params == 319_527


def test_the_mcnemar_matrix_averages_each_pair_over_shared_seeds(tmp_path):
    """Hand-made tests: a beats b by 2 and 4 points on seeds 0 and 1 (one significant), c was
    never scored on the same images as either; another format's pair is not theirs."""
    from fer_keras.reports.figures import mcnemar_grid, mcnemar_matrix

    rows = [{"cell": "csv/a"}, {"cell": "csv/b"}, {"cell": "csv/c"}]
    tests = [{"format": "csv", "seed": 0, "a": "a", "b": "b", "acc_a": 0.62, "acc_b": 0.60,
              "p": 0.01},
             {"format": "csv", "seed": 1, "a": "b", "b": "a", "acc_a": 0.58, "acc_b": 0.62,
              "p": 0.20},
             {"format": "directory", "seed": 0, "a": "a", "b": "c", "acc_a": 0.5, "acc_b": 0.4,
              "p": 0.0}]
    order, diff, hits, seeds = mcnemar_grid(rows, tests)
    assert order == ["csv/a", "csv/b", "csv/c"]
    assert diff[0, 1] == pytest.approx(3.0) and diff[1, 0] == pytest.approx(-3.0)
    assert (hits[0, 1], seeds[0, 1], hits[1, 0], seeds[1, 0]) == (1, 2, 1, 2)
    assert np.isnan(diff[0, 2]) and np.isnan(diff[2, 1]) and seeds[0, 2] == 0
    assert mcnemar_matrix(rows, tests, tmp_path / "m.png").is_file()
    assert mcnemar_matrix(rows, tests[2:], tmp_path / "none.png") is None


def test_a_rejudged_claim_stands_beside_its_verdict_under_the_papers_own_protocol():
    """Ledger rows with an `origin` are set beside the row it names in the paper's ledger:
    its verdict, its other readings' where they differ, and its own label where its cells
    differ; a paper whose report is not committed gives "–"."""
    from fer_keras.reports.leaderboard import rejudged

    def row(short, verdict, readings=(), origin=None, reproduced=None):
        r = {"short": short, "where": "§4", "verdict": verdict, "reproduced": reproduced,
             "readings": [{"label": label, "verdict": v} for label, v in readings]}
        return {**r, "origin": origin} if origin else r

    own = {"p": [row("directory/a > directory/b", "holds", [("r2", "reversed"),
                                                              ("r3", "holds")]),
                 row("csv/a > csv/c", "not significant")]}
    ledger = [row("csv/a > csv/b", "holds", origin="p: directory/a > directory/b",
                  reproduced=True),
              row("csv/a > csv/c", "not judged", origin="p: csv/a > csv/c"),
              row("csv/x > csv/y", "holds", origin="q: csv/x > csv/y", reproduced=True),
              row("csv/own", "holds")]
    assert rejudged(ledger, own) == [
        {"paper": "p", "short": "csv/a > csv/b", "where": "§4", "reproduced": True,
         "own": "holds (as directory/a > directory/b; r2: reversed)", "here": "holds"},
        {"paper": "p", "short": "csv/a > csv/c", "where": "§4", "reproduced": None,
         "own": "not significant", "here": "not judged"},
        {"paper": "q", "short": "csv/x > csv/y", "where": "§4", "reproduced": True,
         "own": "–", "here": "holds"}]


def test_the_average_chosen_is_the_best_on_validation_of_those_that_beat_their_cell():
    """chosen_average: only averages better than their first cell alone on validation count;
    of those the best there; a tie goes to the one of fewer cells (the cheaper)."""
    from fer_keras.reports.leaderboard import chosen_average

    def avg(k, validation, beats):
        return {"cells": [f"c{i}" for i in range(k)], "validation": {"mean": validation},
                "beats_alone": beats}

    found = [avg(2, 61.0, True), avg(3, 63.0, False), avg(4, 62.0, True), avg(5, 62.0, True)]
    assert chosen_average(found) is found[2]
    assert chosen_average([avg(2, 61.0, True), avg(3, 61.0, True)])["cells"] == ["c0", "c1"]
    assert chosen_average([avg(2, 64.0, False)]) is None and chosen_average([]) is None


def _views(preds, conf):
    """Probabilities that answer `preds` with `conf`, the rest spread evenly."""
    conf = np.broadcast_to(conf, len(preds))  # one for all, or one a face
    p = np.repeat(((1 - conf) / 6)[:, None], 7, axis=1).astype(np.float32)
    p[np.arange(len(preds)), preds] = conf
    return p


def test_flip_averaging_and_averages_of_the_best_cells_are_measured_from_the_views(tmp_path):
    """Hand-made views (4 validation and 4 test faces, labels 0-3): a mirrored view that is
    surer where it differs decides the flip average, so the gain is the accuracy of its
    answers minus the plain ones; an average of two cells follows the surer cell. Runs
    finished before the views were recorded give none, and their seeds are left out."""
    import dataclasses

    from fer_keras.core.rundata import read_runs
    from fer_keras.reports.leaderboard import ensembles, flip_gain, marked_ensembles

    _, runs = read_runs(write_fake_runs(tmp_path / "runs"))
    y, idx = np.arange(4), np.arange(4)
    answers = {  # cell: (validation as is, mirrored; test as is, mirrored)
        "csv/ozer_cnn": ([0, 1, 0, 0], [0, 1, 2, 0], [0, 1, 2, 3], [1, 1, 2, 3]),
        "csv/ozer_cnn_lstm": ([3, 3, 2, 3], [3, 3, 2, 3], [0, 1, 2, 0], [0, 1, 2, 0])}
    sure = {"csv/ozer_cnn": (0.5, 0.9), "csv/ozer_cnn_lstm": (0.9, 0.9)}
    viewed = []
    for r in runs:
        if r.cell in answers:
            va, vm, ta, tm = answers[r.cell]
            a, m = sure[r.cell]
            r = dataclasses.replace(
                r, y=y, indices=idx, probs=_views(ta, a), probs_flipped=_views(tm, m),
                validation={"probs": _views(va, a), "probs_flipped": _views(vm, m),
                            "labels": y, "indices": idx})
        viewed.append(r)
    a = [r for r in viewed if r.cell == "csv/ozer_cnn"]
    gain = flip_gain(a)
    assert (gain["validation"]["mean"], gain["test"]["mean"]) == (25.0, -25.0)
    assert gain["validation"]["std"] == 0.0 and gain["validation"]["n"] == len(a)
    assert gain["seeds"] == [r.seed for r in a]
    assert flip_gain([r for r in runs if r.cell == "csv/ozer_cnn"]) is None  # no views
    # a first seed finished before the views were recorded: measured over the others
    plain = [r for r in runs if r.cell == "csv/ozer_cnn"]
    later = flip_gain(plain[:1] + a[1:])
    assert later["seeds"] == [r.seed for r in a[1:]] and later["test"]["mean"] == -25.0
    rows = [{"cell": "csv/ozer_cnn", "validation": {"mean": 60.0}, "one_face_ms": 1.5},
            {"cell": "csv/ozer_cnn_lstm", "validation": {"mean": 55.0}, "one_face_ms": 2.25},
            {"cell": "directory/ozer_cnn", "validation": None, "one_face_ms": None}]
    both, = ensembles(rows, viewed)
    assert both["cells"] == ["csv/ozer_cnn", "csv/ozer_cnn_lstm"]
    assert both["one_face_ms"] == 3.75  # each face through both models
    rows[1]["one_face_ms"] = None  # a cell finished before one_face_ms was recorded
    assert ensembles(rows, viewed)[0]["one_face_ms"] is None
    assert both["seeds"] == sorted(r.seed for r in a)
    assert both["validation"]["mean"] == 50.0 and both["validation_flip"]["mean"] == 50.0
    assert both["test"]["mean"] == 75.0 and both["test_flip"]["mean"] == 75.0
    # csv/ozer_cnn alone on the same seeds: validation [0, 1, 0, 0] (50 %), test all right
    assert (both["alone"]["validation"]["mean"], both["alone"]["test"]["mean"]) == (50.0, 100.0)
    assert not both["beats_alone"]  # 50 % is no better than 50 %
    # each cell sure where it is right: the average gets all four, either alone two
    sure_where = {"csv/ozer_cnn": [0.9, 0.9, 0.3, 0.3], "csv/ozer_cnn_lstm": [0.3, 0.3, 0.9, 0.9]}
    apart = [dataclasses.replace(r, validation={
        **r.validation, "probs": _views(answers[r.cell][0], np.array(sure_where[r.cell]))})
        if r.cell in answers else r for r in viewed]
    other, = ensembles(rows, apart)
    assert other["alone"]["validation"]["mean"] == 50.0 and other["validation"]["mean"] == 100.0
    assert other["beats_alone"] and other["by_seed"]["validation"] == [100.0] * len(a)
    # each face's true class: 0.9 from the cell sure of it, (1 - 0.3) / 6 from the other
    assert other["validation_loss"] == pytest.approx(
        [-np.log((0.9 + 0.7 / 6) / 2)] * len(a), abs=1e-6)
    assert [e["chosen"] for e in marked_ensembles(rows, apart)] == [True]
    assert [e["chosen"] for e in marked_ensembles(rows, viewed)] == [False]  # the cell stands
    # a seed without views in one of the cells is left out; none left: no average
    first = a[0].seed
    dropped = [dataclasses.replace(r, validation=None)
               if r.cell == "csv/ozer_cnn_lstm" and r.seed == first else r for r in viewed]
    assert ensembles(rows, dropped)[0]["seeds"] == [r.seed for r in a[1:]]
    assert ensembles(rows, runs) == []
