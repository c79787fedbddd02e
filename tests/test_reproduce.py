"""`fer-keras reproduce <paper>`: each paper's stages, declared in its config, become the
fer-keras commands the Makefile's recipes used to spell out; quick mode, resuming from the
committed runs, failing stages and user mistakes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fer_keras.cli import INTERRUPTED, main
from fer_keras.train.reproduce import (
    Options,
    ReproduceError,
    Run,
    commands,
    load_paper,
    papers,
    resume_from_committed,
)
from fer_keras.train.runfolder import run_lock

ROOT = Path(__file__).parents[1]
EXPERIMENTS = ROOT / "experiments"


def _lines(paper, **kw):
    opts = Options(data="D", **kw)
    return [str(c) for c in commands(load_paper(paper, EXPERIMENTS), opts)]


def test_every_paper_declares_its_reproduction():
    assert sorted(papers(EXPERIMENTS)) == ["ashok", "benchmark", "emotionnet", "ozer",
                                           "ozer-reachability", "wasey", "xu"]


def test_the_help_names_the_papers_found_in_experiments(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, even at a "-"
    assert "apaper(ashok,benchmark,emotionnet,ozer,ozer-reachability,wasey,xu)" in text


def test_ozer_wasey_xu_run_everything_report_publish_and_index():
    for paper in ("ozer", "wasey", "xu"):
        assert _lines(paper) == [
            f"fer-keras run {EXPERIMENTS}/{paper}.py --data D --out runs/{paper} seeds=0,1,2",
            f"fer-keras report runs/{paper} --out reports/{paper}",
            f"fer-keras publish runs/{paper} --out reports/{paper}/models",
            "fer-keras index reports"]


def test_ashoks_three_passes_cap_only_the_backbones_and_publish_only_the_custom_models():
    lines = _lines("ashok", seeds=(3, 4), jobs=2)
    cnn = "ashok_cnn,ashok_cnn_lstm,ashok_cnn_bilstm,ashok_cnn_bilstm_attention"
    nodrop = ",".join(f"{m}_nodropout" for m in cnn.split(","))
    run = f"fer-keras run {EXPERIMENTS}/ashok.py --data D --out runs/ashok --jobs 2"
    assert lines == [
        f"{run} models={cnn},{nodrop} seeds=3",
        f"{run} models={cnn} seeds=3,4",
        f"{run} models=ashok_resnet50,ashok_densenet121,ashok_mobilenetv2 seeds=3 max_epochs=15",
        "fer-keras report runs/ashok --out reports/ashok",
        f"fer-keras publish runs/ashok --out reports/ashok/models --models {cnn}",
        "fer-keras index reports"]


def test_the_benchmark_runs_seed_0_of_every_model_first_and_ends_publishing_its_choice():
    lines = _lines("benchmark")
    run = f"fer-keras run {EXPERIMENTS}/benchmark.py --data D --out runs/benchmark"
    assert lines[0].startswith(f"{run} models=wasey_cnn_lstm_paper,") and \
        lines[0].endswith(",ozer_cnn seeds=0")
    assert lines[1] == f"TF_ENABLE_ONEDNN_OPTS=0 {run} models=mini_xception seeds=0"
    assert lines[2].endswith(",ozer_cnn seeds=0,1,2")
    assert lines[4:] == [
        "fer-keras report runs/benchmark --out reports/benchmark",
        "fer-keras publish runs/benchmark --out reports/benchmark/models --chosen",
        "fer-keras index reports"]


def test_quick_mode_replaces_a_passes_cap_writes_beside_the_runs_and_skips_the_index():
    lines = _lines("ashok", seeds=(0,), epochs=1, limit=350)
    assert lines[2].endswith("seeds=0 max_epochs=1 min_epochs=0 limit=350")
    assert "max_epochs=15" not in lines[2]
    assert lines[3] == "fer-keras report runs/ashok-quick --out runs/ashok-quick/report"
    assert not any("index" in line for line in lines)


def test_emotionnet_measures_noise_gain_into_the_run_folder_before_the_report():
    lines = _lines("emotionnet", limit=200)
    assert lines[2] == (f"fer-keras noise-gain {EXPERIMENTS}/emotionnet.py --data D --n 200 "
                        "--json runs/emotionnet-quick/noise-gain.json")
    assert lines[3] == ("fer-keras report runs/emotionnet-quick --out "
                        "runs/emotionnet-quick/report")
    assert lines[4].endswith("--models emotionnet_pp")


def test_the_reachability_control_runs_its_own_seeds_with_onednn_off():
    lines = _lines("ozer-reachability")
    assert lines == [
        f"fer-keras study {EXPERIMENTS}/ozer_reachability.py --data D --trials 30 --out "
        "runs/ozer-reachability --reference reports/ozer/runs",
        f"TF_ENABLE_ONEDNN_OPTS=0 fer-keras run {EXPERIMENTS}/mini_xception_control.py "
        "--data D --out runs/ozer-reachability/control",
        "fer-keras report runs/ozer-reachability --out reports/ozer-reachability "
        "--reference reports/ozer/runs",
        "fer-keras index reports"]
    # given seeds reach the control too; quick mode's trials
    lines = _lines("ozer-reachability", seeds=(0, 1), epochs=1)
    assert "--trials 2" in lines[0] and lines[1].endswith("seeds=0,1 max_epochs=1 min_epochs=0")


def test_a_stage_must_be_one_of_the_known_kinds():
    with pytest.raises(ReproduceError, match="'all' or 'first'"):
        Run(seeds="two")


def test_resuming_copies_committed_cells_whole_and_never_into_a_local_one(tmp_path):
    committed = tmp_path / "reports" / "p" / "runs"
    for seed in (0, 1):
        cell = committed / "csv-m" / f"seed-{seed}"
        cell.mkdir(parents=True)
        (cell / "done.json").write_text("committed")
        (cell / "history.csv").write_text("committed")
    (committed / "experiment.json").write_text("committed")
    (committed / "study.json").write_text("committed")
    runs = tmp_path / "runs"
    local = runs / "csv-m" / "seed-0"  # being trained again here: no done.json yet
    local.mkdir(parents=True)
    (local / "history.csv").write_text("local")
    (runs / "csv-m" / "seed-1").mkdir()  # an empty folder holds nothing: filled
    (runs / "experiment.json").write_text("local")
    paper = load_paper("ozer", EXPERIMENTS)
    paper = type(paper)("p", paper.config, paper.seeds, paper.stages)
    copied, kept = resume_from_committed(paper, runs, tmp_path / "reports")
    # seed 1 whole (2 files) and the absent study.json; nothing laid over seed 0
    assert (copied, kept) == (3, [local])
    assert sorted(f.name for f in local.iterdir()) == ["history.csv"]
    assert (local / "history.csv").read_text() == "local"
    assert (runs / "csv-m" / "seed-1" / "done.json").read_text() == "committed"
    assert (runs / "experiment.json").read_text() == "local"
    assert (runs / "study.json").read_text() == "committed"
    assert resume_from_committed(paper, runs, tmp_path / "reports") == (0, [local])


def test_reproducing_into_a_folder_being_trained_is_refused_before_anything_is_copied(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    runs = tmp_path / "runs"
    runs.mkdir()
    with run_lock(runs):  # another fer-keras run training into it
        assert main(["reproduce", "ozer", "--data", str(tmp_path), "--runs", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {runs}: another fer-keras run (process {os.getpid()}) is "
                          "writing this run folder") and err.count("\n") == 1
    assert sorted(p.name for p in runs.iterdir()) == [".lock"]


def test_user_mistakes_end_in_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("FER2013_DIR", raising=False)
    assert main(["reproduce", "nope", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nope: no such paper; expected one of: ashok, benchmark, "
                          "emotionnet, ozer, ozer-reachability, wasey, xu") and \
        err.count("\n") == 1
    assert main(["reproduce", "ozer", "--data", str(tmp_path / "absent")]) == 2
    assert "absent: no such file or folder (given as --data)" in capsys.readouterr().err
    assert main(["reproduce", "ozer", "--data", str(tmp_path), "--seeds", "0,x"]) == 2
    assert "--seeds 0,x: expected comma-separated integers" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("from fer_keras.train.config import ExperimentConfig\nCONFIG = None\n")
    assert main(["reproduce", str(bad), "--data", str(tmp_path)]) == 2
    assert "defines no CONFIG" in capsys.readouterr().err
    late = tmp_path / "late.py"
    late.write_text("from fer_keras.train.config import ExperimentConfig\n"
                    "from fer_keras.train.reproduce import NoiseGain, Report, Run\n"
                    "CONFIG = ExperimentConfig(name='x', paper='y')\n"
                    "REPRODUCE = (Run(), Report(), NoiseGain())\n")
    assert main(["reproduce", str(late), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {late}: REPRODUCE has NoiseGain() after Report(); expected it "
                   "before, so that the report shows what it measures\n")


def test_the_first_failing_stage_ends_the_reproduction_with_its_status(tmp_path):
    """A stage that fails (here: `run` refuses a folder that holds no FER-2013) stops the
    rest; nothing after it runs."""
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "reproduce", "xu", "--data",
                          str(tmp_path), "--quick", "--runs", str(tmp_path / "runs")],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "$ fer-keras run" in res.stdout and "$ fer-keras report" not in res.stdout
    assert res.stderr.strip().splitlines()[-1].startswith("error: stage failed (exit 2): "
                                                         "fer-keras run ")


@pytest.mark.slow
@pytest.mark.parametrize("paper,extra", [("ozer", ()), ("ozer-reachability", ("--trials", "1"))])
def test_quick_reproduction_on_the_sample(paper, extra, sample, tmp_path):
    """The two papers without a make-target test of their own (test_ashok, test_emotionnet and
    test_wasey_xu run the others through make)."""
    images, _ = sample
    runs, report = tmp_path / "runs", tmp_path / "report"
    tracked = (ROOT / "reports" / "index.html").read_bytes()
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "reproduce", paper, "--data",
                          str(images), "--epochs", "1", "--limit", "700", "--seeds", "0",
                          "--runs", str(runs), "--report", str(report), *extra],
                         cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "FER2013_DIR": ""})
    assert res.returncode == 0, res.stderr[-3000:]
    assert (ROOT / "reports" / "index.html").read_bytes() == tracked  # quick: not touched
    assert (report / "index.html").is_file()
    if paper == "ozer":
        published = sorted(p.name for p in (report / "models").iterdir() if p.is_dir())
        assert published == ["csv-ozer_cnn", "csv-ozer_cnn_lstm", "directory-ozer_cnn",
                             "directory-ozer_cnn_lstm"]  # 2 models x 2 formats
        card = json.loads((report / "models" / published[0] / "inference.json").read_text())
        assert card["measured"]["data"].startswith("SYNTHETIC")
    else:
        control = json.loads((runs / "control" / "csv-mini_xception" / "seed-0" /
                              "manifest.json").read_text())
        assert control["tf_env"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
        # the control stands beside the public figures its config quotes, in the report and
        # in the summary the README's studies block is written from
        summary = json.loads((report / "study-summary.json").read_text())
        (c,) = summary["control"]
        assert c["cell"] == "csv/mini_xception" and c["seeds"] == [0] and c["public"] == 66.0
        assert list(c["literature"].values()) == [66.0, 65.55]
        assert ("Public figures of the control model: face_classification README (its recipe, "
                "64x64 input): 66.00 %") in (report / "index.html").read_text()


def _stop_reproduction_while_training(sample, tmp_path, stop) -> subprocess.CompletedProcess:
    """Start `reproduce ozer --quick`, call stop(its process) once its `run` stage has
    finished an epoch; the finished reproduction (stdout, stderr, return code)."""
    images, _ = sample
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "fer_keras.cli", "reproduce", "ozer", "--data", str(images),
           "--epochs", "3", "--limit", "700", "--seeds", "0", "--runs", str(runs),
           "--report", str(tmp_path / "report")]
    # as from a terminal: SIGINT not ignored (a background job of a script inherits it ignored)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "FER2013_DIR": ""},
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and not list(runs.glob("*/seed-0/backup/*.h5")):
        time.sleep(0.1)
    assert proc.poll() is None, "the reproduction ended before it could be stopped"
    stop(proc)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.parametrize("how,status", [("ctrl-c", 130), ("sigterm", 143)])
def test_a_stopped_reproduction_stops_its_stage_cleanly_in_one_line(sample, tmp_path, how,
                                                                     status):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM to the
    reproduction alone: the training stage is stopped the same way, ends its epoch's
    bookkeeping (not killed), and one line says how to resume; no stage 'failed'."""
    def stop(proc):
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)

    res = _stop_reproduction_while_training(sample, tmp_path, stop)
    assert res.returncode == status, res.stderr[-3000:]
    assert res.stderr.strip().splitlines() == [INTERRUPTED], res.stderr[-3000:]
    assert subprocess.run(["pgrep", "-f", str(tmp_path / "runs")]).returncode == 1  # no orphan


def test_every_stages_cells_are_the_folders_plan_before_the_first_stage(tmp_path, monkeypatch):
    """EmotionNet++'s two passes (seed 0 of everything, then the proposed model and its
    ablation with every seed): the plan names all ten runs before the first starts, so a
    report made while the first pass trains does not read as the whole reproduction; a
    folder another run is writing is refused before anything is recorded."""
    import fer_keras.train.reproduce as reproduce_module
    from fer_keras.train.runfolder import RunConflictError, run_lock

    runs = tmp_path / "runs"
    seen = []

    def first_stage(c):  # instead of running it: the plan as the first stage finds it
        seen.append(json.loads((runs / "experiment.json").read_text())["planned"])
        return 2

    monkeypatch.setattr(reproduce_module, "_stage", first_stage)
    paper = load_paper("emotionnet", EXPERIMENTS)
    opts = Options(data=str(tmp_path), seeds=(0, 1, 2), epochs=1, runs=str(runs),
                   report=str(tmp_path / "report"))
    monkeypatch.chdir(ROOT)
    assert reproduce_module.reproduce(paper, opts) == 2
    planned = [(p["model"], p["variant"], p["seed"]) for p in seen[0]]
    assert planned == [("emotionnet_pp", "", 0), ("emotionnet_pp_seq4", "", 0),
                       ("emotionnet_cnn", "", 0), ("emotionnet_cnn_gru", "", 0),
                       ("emotionnet_pp", "no-preprocessing", 0),
                       ("emotionnet_pp", "classwise-aug", 0),
                       ("emotionnet_pp", "", 1), ("emotionnet_pp", "", 2),
                       ("emotionnet_pp", "no-preprocessing", 1),
                       ("emotionnet_pp", "no-preprocessing", 2)]
    assert {p["format"] for p in seen[0]} == {"csv"}
    with run_lock(runs), pytest.raises(RunConflictError, match="another fer-keras run"):
        reproduce_module.reproduce(paper, opts)
    assert len(seen) == 1
