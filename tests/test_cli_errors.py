"""Every user mistake ends in exit 2 and ONE line `error: <what>: <where>: <expected>`, before
anything is trained, and never with a traceback. Table-driven: each case builds its bad input
in a temporary folder, runs the command line, and checks the one line."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_keras.cli import main

from .helpers import pixels_text, write_csv, write_image_tree

ROOT = Path(__file__).parents[1]
OZER = str(ROOT / "experiments" / "ozer.py")
P = " ".join(["9"] * 2304)


def _csv_with_extra_field(t: Path) -> Path:
    return write_csv(t / "extra.csv", [f"0,{P},Training", f"1,{P},Training,oops"])


def _wide_missing_pixel(t: Path) -> Path:
    full, short = ",".join(["9"] * 2304), ",".join(["9"] * 2303)
    return write_csv(t / "wide.csv", [f"0,{full}", f"1,{short}"], header=None)


def _single_image_class(t: Path) -> Path:
    rows = [f"{c},{pixels_text(i)},Training" for i in range(4) for c in (0, 2, 3, 4, 5, 6)]
    return write_csv(t / "one.csv", rows + [f"1,{pixels_text(99)},Training"])


def _truncated_jpeg(t: Path) -> Path:
    root = write_image_tree(t / "imgs", per_class=2, ext=".jpg")
    bad = root / "sad" / "Training_sad1.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    return root


def _not_python(t: Path) -> Path:
    (t / "bad.py").write_text("CONFIG = ExperimentConfig(\n  name='x',,\n")
    return t / "bad.py"


def _a_file(t: Path) -> Path:
    (t / "file.txt").write_text("not a folder")
    return t / "file.txt"


def _sample_csv(t: Path) -> Path:
    return write_csv(t / "ok.csv", [f"{i % 7},{pixels_text(i)},Training" for i in range(70)])


# (case, command line with {t} for the case's folder, setup, text the one line must hold)
CASES = [
    ("override typo", ["run", OZER, "--data", "{t}", "split=80/10/1O"], None,
     "split='80/10/1O': expected one of 80/10/10, 80/20, 70/15/15, official, folders"),
    ("empty seeds", ["run", OZER, "--data", "{t}", "seeds="], None,
     "seeds=(empty): expected at least one value"),
    ("max_epochs 0", ["run", OZER, "--data", "{t}", "max_epochs=0"], None,
     "max_epochs=0: expected an integer >= 1"),
    ("batch_size 0", ["run", OZER, "--data", "{t}", "batch_size=0"], None,
     "batch_size=0: expected an integer >= 1"),
    ("unknown format", ["run", OZER, "--data", "{t}", "formats=foo"], None,
     "formats='foo': expected one of directory, csv"),
    ("unknown optimizer", ["run", OZER, "--data", "{t}", "optimizer=lion"], None,
     "optimizer='lion': expected one of adam, sgd, rmsprop, adamw"),
    ("negative learning rate", ["run", OZER, "--data", "{t}", "learning_rate=-1"], None,
     "learning_rate=-1.0: expected a number > 0"),
    ("unknown key", ["run", OZER, "--data", "{t}", "epochs=3"], None,
     "unknown config key 'epochs'; known: name, paper"),
    ("wrong type", ["run", OZER, "--data", "{t}", "max_epochs=ten"], None,
     "max_epochs='ten': expected int"),
    ("unknown variant", ["run", OZER, "--data", "{t}", "variants=leak"], None,
     "variants=leak: unknown variant 'leak'; expected names among "),
    ("augment out of range", ["run", OZER, "--data", "{t}", "augment.zoom=2"], None,
     "augment.zoom=2.0: expected 0 <= value <= 0.99"),
    ("config not Python", ["run", "{setup}", "--data", "{t}"], _not_python,
     "bad.py:1: not valid Python ('(' was never closed)"),
    ("config missing", ["run", "{t}/none.py", "--data", "{t}"], None,
     "none.py: no such experiment config"),
    ("data missing", ["run", OZER, "--data", "{t}/nowhere"], None,
     "nowhere: no such file or folder (given as --data)"),
    ("--out is a file", ["run", OZER, "--data", "{t}", "--out", "{setup}"], _a_file,
     "file.txt: is a file; expected a folder for the run (--out)"),
    ("bad shard", ["run", OZER, "--data", "{t}", "--shard", "3/2"], None,
     "--shard '3/2': expected 0 <= i < n"),
    ("unknown model", ["run", OZER, "--data", "{setup}", "--out", "{t}/o", "formats=csv",
                       "models=nope"], _sample_csv,
     "unknown model 'nope'; known models: ashok_cnn"),
    ("CSV row with an extra field", ["run", OZER, "--data", "{setup}", "--out", "{t}/o",
                                     "formats=directory,csv"], _csv_with_extra_field,
     "extra.csv: line 3: 4 fields, expected 3 (as in line 1)"),
    ("bad --csv beside good images", ["run", OZER, "--data", "{t}/imgs", "--csv", "{setup}",
                                       "--out", "{t}/o"],
     lambda t: (write_image_tree(t / "imgs", per_class=3), _csv_with_extra_field(t))[1],
     "extra.csv: line 3: 4 fields, expected 3 (as in line 1)"),
    ("wide CSV row missing a pixel", ["data", "audit", "{setup}"], _wide_missing_pixel,
     "wide.csv: line 2: column 2305: missing pixel value"),
    ("class with one image", ["run", OZER, "--data", "{setup}", "--out", "{t}/o",
                              "formats=csv"], _single_image_class,
     "class(es) with a single image: disgust (1); a stratified split needs at least 2"),
    ("truncated JPEG", ["data", "audit", "{setup}"], _truncated_jpeg,
     "Training_sad1.jpg: truncated or corrupt JPEG (no end-of-image marker)"),
    ("to-csv into a folder", ["data", "to-csv", "{setup}", "{t}"], _truncated_jpeg,
     ": is a folder; expected a file path for the CSV"),
    ("to-csv below a file", ["data", "to-csv", "{t}", "{t}/file.txt/x.csv"], _a_file,
     "file.txt: is a file; expected a folder there for the CSV"),
    ("to-dir into a file", ["data", "to-dir", "{t}/ok.csv", "{t}/file.txt"],
     lambda t: (_sample_csv(t), _a_file(t))[1],
     "file.txt: is a file; expected a folder there for the images"),
    ("audit --json into a folder", ["data", "audit", "{setup}", "--json", "{t}"], _sample_csv,
     ": is a folder; expected a file path for the audit's JSON"),
    ("sample into a file", ["data", "sample", "{setup}"], _a_file,
     "file.txt: is a file; expected a folder there for the sample"),
    ("blur-check of a missing run folder", ["blur-check", OZER, "--data", "{t}", "--out",
                                            "{t}/none"], None,
     "none: no such folder; expected the experiment's run folder (--out)"),
    ("blur-check with a bad sigma", ["blur-check", OZER, "--data", "{t}", "--out", "{t}",
                                     "--sigmas", "0,two"], None,
     "--sigmas 0,two: expected comma-separated numbers of pixels from 0 to 24, e.g. 0,1,2,3"),
    ("blur-check with a missing --csv", ["blur-check", OZER, "--data", "{t}", "--csv",
                                         "{t}/none.csv", "--out", "{t}"], None,
     "none.csv: no such file or folder (given as --csv)"),
    ("noise-gain with a bad sigma", ["noise-gain", OZER, "--data", "{t}", "--sigmas", "5,0"],
     None, "--sigmas 5,0: expected comma-separated grey levels above 0 and up to 128"),
    ("noise-gain of no images", ["noise-gain", OZER, "--data", "{t}", "--n", "0"], None,
     "--n 0: expected an integer >= 1"),
    ("noise-gain of missing data", ["noise-gain", OZER, "--data", "{t}/nowhere"], None,
     "nowhere: no such file or folder (given as --data)"),
    ("noise-gain --json into a folder", ["noise-gain", OZER, "--data", "{t}", "--json", "{t}"],
     None, ": is a folder; expected a file path for the JSON"),
    ("study of missing data", ["study", OZER, "--data", "{t}/nowhere"], None,
     "nowhere: no such file or folder (given as --data)"),
    ("blur-check without finished cells", ["blur-check", OZER, "formats=csv", "models=ozer_cnn",
                                           "seeds=0", "--data", "{setup}", "--out", "{t}"],
     _sample_csv, ": no finished cell with its model (model.keras or best.keras) for this "
     "config; expected a local run folder"),
    ("report of a missing folder", ["report", "{t}/none", "--out", "{t}/r"], None,
     "none: no such run folder; expected the --out folder of `fer-keras run`"),
    ("report of an empty folder", ["report", "{t}", "--out", "{t}/r"], None,
     ": no finished cells; expected <format>-<model>/seed-<n>/done.json below it"),
    ("report --out is a file", ["report", "{t}", "--out", "{setup}"], _a_file,
     "file.txt: is a file; expected a folder there for the report"),
    ("index of a missing folder", ["index", "{t}/none"], None,
     "none: no such folder; expected the reports folder (one folder per report, e.g. reports)"),
]


@pytest.mark.parametrize("case,argv,setup,expected", CASES, ids=[c[0] for c in CASES])
def test_user_mistake_is_one_error_line_and_exit_2(case, argv, setup, expected, tmp_path,
                                                   capsys):
    made = setup(tmp_path) if setup else None
    argv = [a.replace("{t}", str(tmp_path)).replace("{setup}", str(made)) for a in argv]
    before = sorted(p.name for p in tmp_path.rglob("*") if "seed-" in str(p))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert expected in errors[0], errors[0]
    assert not any("Traceback" in line for line in err)
    # nothing was trained: no cell folder appeared
    assert sorted(p.name for p in tmp_path.rglob("*") if "seed-" in str(p)) == before


def test_config_error_is_the_only_line_printed(tmp_path):
    """Checked before TensorFlow is imported: none of its start-up lines stand before it."""
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", OZER, "--data",
                          str(tmp_path), "max_epochs=0"], capture_output=True, text=True,
                         cwd=ROOT)
    assert res.returncode == 2
    assert res.stderr.splitlines() == ["error: max_epochs=0: expected an integer >= 1"]


def test_data_error_after_tensorflow_import_is_the_only_line(tmp_path):
    _csv_with_extra_field(tmp_path)
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "run", OZER, "--data",
                          str(tmp_path / "extra.csv"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"error: {tmp_path / 'extra.csv'}: line 3: 4 fields, expected 3 (as in line 1)"]


def test_trailing_blank_line_in_a_csv_is_accepted(tmp_path, capsys):
    path = _sample_csv(tmp_path)
    path.write_text(path.read_text() + "\n\n")
    assert main(["data", "audit", str(path)]) == 0
    assert "70" in capsys.readouterr().out


def test_tensorboard_option_writes_event_files(sample, tmp_path):
    images, csv_path = sample
    assert main(["run", OZER, "--data", str(images), "--csv", str(csv_path), "--out",
                 str(tmp_path / "tb"), "--tensorboard", "formats=csv", "models=ozer_cnn",
                 "seeds=0", "max_epochs=1"]) == 0
    events = list((tmp_path / "tb/csv-ozer_cnn/seed-0/tensorboard").rglob("events.out.*"))
    assert events


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume_in_one_line(sample, tmp_path):
    images, csv_path = sample
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fer_keras.cli", "run", OZER, "--data", str(images), "--csv",
         str(csv_path), "--out", str(out), "formats=csv", "models=ozer_cnn_lstm", "seeds=0",
         "max_epochs=50", "early_stopping_patience=50"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # a suite started in the background (`make test &`) inherits SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: give the child the default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    history = out / "csv-ozer_cnn_lstm/seed-0/history.csv"
    deadline = time.time() + 300
    # After the first epoch, when training is surely under way.
    while time.time() < deadline and not (
            history.exists() and len(history.read_text().splitlines()) > 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip().splitlines() == [
        "interrupted: nothing finished was lost; re-running the same command resumes from the "
        "last finished epoch"]


def test_no_image_named_by_split_still_runs_both_formats(tmp_path, capsys):
    """An export whose files are not named Training_*: both formats load before training
    (the CSV format then has no Usage column); a dry run shows the cells."""
    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
        (root / c).mkdir(parents=True)
        for i in range(10):
            cv2.imwrite(str(root / c / f"img{i}.png"), rng.integers(0, 256, (48, 48), np.uint8))
    assert main(["run", OZER, "--data", str(root), "--out", str(tmp_path / "o"), "--dry-run",
                 "seeds=0"]) == 0
    out = capsys.readouterr().out
    assert "directory-ozer_cnn" in out and "csv-ozer_cnn_lstm" in out
    # a dry run writes nothing: the CSV it built to check the splits was a temporary one
    # (it once left a 288 MB _data/ folder inside the committed reports/benchmark/runs)
    assert not os.path.exists(tmp_path / "o")


def test_the_model_registry_knows_nothing_of_config_or_data():
    """errors.py is dependency-free: importing the registry drags in neither layer."""
    code = ("import sys, fer_keras.models.registry; "
            "print(sorted(m for m in sys.modules if m.startswith(('fer_keras.train.config', "
            "'fer_keras.data'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    from fer_keras.core.errors import FerKerasError, UnknownModelError
    from fer_keras.core.rundata import RunFolderError
    from fer_keras.data import DataError
    from fer_keras.train.config import ConfigError
    from fer_keras.train.runfolder import RunConflictError

    for cls in (ConfigError, DataError, UnknownModelError, RunFolderError, RunConflictError):
        assert issubclass(cls, FerKerasError), cls
