"""Run folders never lose or wrongly reuse a result (issue: reliability).

A cell's identity is its training config, the data's fingerprint and the model's signature.
Reused only when all match; otherwise refused before anything is touched, or with --force
moved aside, never deleted. results.csv and experiment.json describe exactly the cells on disk.
"""

import csv
import hashlib
import json
import re
from pathlib import Path

import pytest

from fer_keras.data.synthetic import write_sample
from fer_keras.train.config import load_config
from fer_keras.train.runfolder import Identity, RunConflictError
from fer_keras.train.runner import RunOptions, run_experiment

ROOT = Path(__file__).parents[1]
OZER = ROOT / "experiments" / "ozer.py"
BASE = ["seeds=0", "max_epochs=1", "formats=csv", "models=ozer_cnn"]
pytestmark = pytest.mark.slow


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file below `folder` with the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(sample, out, overrides, **kw):
    images, csv_path = sample
    return run_experiment(load_config(OZER, overrides),
                          RunOptions(data=images, csv=csv_path, out=out, **kw))


@pytest.fixture
def finished(sample, tmp_path):
    """A run folder with one finished cell."""
    out = tmp_path / "run"
    _run(sample, out, BASE)
    return out


def test_identity_names_what_differs():
    a = Identity({"split": "80/10/10", "augment": {"zoom": 0.0}}, "a" * 64, "sig1")
    b = Identity({"split": "80/20", "augment": {"zoom": 0.1}}, "b" * 64, "sig2")
    assert a.differences(a.to_json()) == []
    assert b.differences(a.to_json()) == [
        "augment.zoom: 0.0 -> 0.1", "split: '80/10/10' -> '80/20'",
        "data: fingerprint aaaaaaaaaaaa -> bbbbbbbbbbbb",
        "model architecture: signature sig1 -> sig2"]
    assert a.key != b.key and len(a.key) == 16
    assert "older version" in a.differences(None)[0]


def test_an_equivalent_signature_is_the_same_identity_and_nothing_else_is():
    """A cell recorded with the older form of the same architecture's signature is reused;
    the equivalent forms are not part of the identity's key or of what a cell records."""
    now = Identity({"split": "80/20"}, "a" * 64, "sig-new", ("sig-old",))
    assert now.differences(Identity({"split": "80/20"}, "a" * 64, "sig-old").to_json()) == []
    assert now.differences(Identity({"split": "80/20"}, "a" * 64, "sig-other").to_json()) == [
        "model architecture: signature sig-other -> sig-new"]
    plain = Identity({"split": "80/20"}, "a" * 64, "sig-new")
    assert now.key == plain.key and now.to_json() == plain.to_json()
    assert "equivalent_signatures" not in now.to_json()


def test_a_typo_in_an_override_touches_nothing(finished):
    from fer_keras.train.config import ConfigError

    before = _snapshot(finished)
    with pytest.raises(ConfigError, match="split='80/10/1O': expected one of 80/10/10"):
        load_config(OZER, [*BASE, "split=80/10/1O"])
    assert _snapshot(finished) == before


def test_another_config_is_refused_and_nothing_changes(sample, finished):
    before = _snapshot(finished)
    with pytest.raises(RunConflictError) as e:
        _run(sample, finished, [*BASE, "batch_size=64"])
    message = str(e.value)
    assert f"{finished / 'csv-ozer_cnn' / 'seed-0'}: finished cell was computed " in message
    assert "batch_size: 32 -> 64" in message and "nothing was changed" in message
    assert "--out" in message and "--force" in message
    assert _snapshot(finished) == before


def test_other_data_is_refused_and_experiment_json_keeps_describing_the_cells(finished,
                                                                               tmp_path):
    before = _snapshot(finished)
    other = write_sample(tmp_path / "other", n=700, seed=5)
    with pytest.raises(RunConflictError, match="data: fingerprint"):
        _run(other, finished, BASE)
    assert _snapshot(finished) == before
    fingerprints = json.loads((finished / "experiment.json").read_text())["data"]["csv"]
    manifest = json.loads((finished / "csv-ozer_cnn/seed-0/manifest.json").read_text())
    assert [d["fingerprint"] for d in fingerprints] == [manifest["data"]["fingerprint"]]


def test_force_moves_the_old_cell_aside_and_trains_again(sample, finished):
    old = _snapshot(finished / "csv-ozer_cnn")
    _run(sample, finished, [*BASE, "batch_size=64"], force=True)
    moved = list((finished / "_superseded").glob("*/csv-ozer_cnn"))
    assert len(moved) == 1 and _snapshot(moved[0]) == old  # kept byte for byte
    config = json.loads((finished / "csv-ozer_cnn/seed-0/config.json").read_text())
    assert config["batch_size"] == 64
    rows = list(csv.DictReader(open(finished / "results.csv")))
    assert len(rows) == 1  # the moved cell is no longer described
    experiment = json.loads((finished / "experiment.json").read_text())
    assert experiment["batch_size"] == 64 and not experiment["mixed_training_configs"]


def test_an_unfinished_cell_of_another_config_is_not_deleted(sample, finished):
    folder = finished / "csv-ozer_cnn" / "seed-0"
    (folder / "done.json").unlink()  # as if killed mid-training
    before = _snapshot(finished)
    with pytest.raises(RunConflictError,
                       match="unfinished cell was computed differently .learning_rate"):
        _run(sample, finished, [*BASE, "learning_rate=0.0005"])
    assert _snapshot(finished) == before


def test_an_unfinished_cell_resumes_only_under_the_kernel_switches_it_started_with(
        sample, finished, monkeypatch):
    """oneDNN's kernels and TensorFlow's own differ in the last bits: a cell started under one
    and resumed under the other would be neither; its manifest could name only one. A finished
    cell is still reused: its manifest says what it was trained under."""
    folder = finished / "csv-ozer_cnn" / "seed-0"
    started = json.loads((folder / "config.json").read_text())["kernel_switches"]
    other = "1" if started.get("TF_ENABLE_ONEDNN_OPTS") == "0" else "0"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", other)
    before = _snapshot(finished)
    _run(sample, finished, BASE)  # finished: reused, untouched
    assert _snapshot(finished) == before
    (folder / "done.json").unlink()  # as if killed mid-training
    before = _snapshot(finished)
    shown = repr(started["TF_ENABLE_ONEDNN_OPTS"]) if "TF_ENABLE_ONEDNN_OPTS" in started \
        else "unset"
    with pytest.raises(RunConflictError, match=re.escape(
            f"unfinished cell was computed differently (TF_ENABLE_ONEDNN_OPTS: {shown} when "
            f"the cell started, '{other}' now)")):
        _run(sample, finished, BASE)
    assert _snapshot(finished) == before
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    for key, value in started.items():
        monkeypatch.setenv(key, value)
    _run(sample, finished, BASE)  # the switches it started with: resumed and finished
    assert (folder / "done.json").exists()


def test_results_and_experiment_describe_exactly_the_cells_on_disk(sample, finished):
    _run(sample, finished, ["seeds=1", *BASE[1:]])
    rows = list(csv.DictReader(open(finished / "results.csv")))
    assert sorted(int(r["seed"]) for r in rows) == [0, 1]
    experiment = json.loads((finished / "experiment.json").read_text())
    assert experiment["seeds"] == [0, 1]
    assert [(c["model"], c["seed"]) for c in experiment["cells"]] == [("ozer_cnn", 0),
                                                                        ("ozer_cnn", 1)]


def test_the_plan_names_every_cell_asked_before_any_trains(sample, finished, monkeypatch):
    """experiment.json's plan holds the cells of each invocation from before the first epoch
    (a report made while they train names them as not finished) and keeps them when the
    finished cells are described again."""
    import fer_keras.train.runner as runner

    seen = []

    def stop(cp, *args):  # where training would begin: what the plan says then
        seen.append(json.loads((finished / "experiment.json").read_text())["planned"])
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_cell", stop)
    with pytest.raises(KeyboardInterrupt):
        _run(sample, finished, ["seeds=0,1", *BASE[1:]])
    cell = {"format": "csv", "model": "ozer_cnn", "variant": ""}
    assert seen == [[{**cell, "seed": 0}, {**cell, "seed": 1}]]
    monkeypatch.undo()
    _run(sample, finished, [*BASE[:-1], "models=ozer_cnn_lstm"])  # trains, describes again
    experiment = json.loads((finished / "experiment.json").read_text())
    assert experiment["planned"] == [{**cell, "seed": 0}, {**cell, "seed": 1},
                                     {**cell, "model": "ozer_cnn_lstm", "seed": 0}]
    assert [c["model"] for c in experiment["cells"]] == ["ozer_cnn", "ozer_cnn_lstm"]


def test_dry_run_checks_and_prints_the_plan_without_training(sample, finished, capsys):
    capsys.readouterr()
    _run(sample, finished, ["seeds=0,1", *BASE[1:], "models=ozer_cnn,ozer_cnn_lstm"],
         dry_run=True)
    out = capsys.readouterr().out
    assert "csv-ozer_cnn" in out and " done " in out and " new " in out
    assert "696  556/70/70" in out  # the sample CSV: 696 rows (n=700 asked), 80/10/10
    assert not (finished / "csv-ozer_cnn_lstm").exists()
    assert not (finished / "csv-ozer_cnn" / "seed-1").exists()


def test_a_conversion_of_other_data_is_never_reused(tmp_path):
    """The CSV format built from an image export is keyed on that export's content."""
    a = write_sample(tmp_path / "a", n=700, seed=0)[0]
    b = write_sample(tmp_path / "b", n=700, seed=1)[0]
    out = tmp_path / "run"
    cfg = load_config(OZER, BASE)
    run_experiment(cfg, RunOptions(data=a, out=out))
    with pytest.raises(RunConflictError, match="data: fingerprint"):
        run_experiment(cfg, RunOptions(data=b, out=out))
    assert len(list((out / "_data").iterdir())) == 2  # one conversion per source


def test_experiment_json_lists_each_input_once_with_the_source_it_was_made_from():
    """A cell finished before manifests recorded `source_fingerprint` and one after, both
    trained on the same preprocessed data, are one input with its source; the input as loaded
    (a no-preprocessing cell) is another."""
    from fer_keras.train.runfolder import describe

    cfg = load_config(OZER, ["formats=csv", "models=ozer_cnn", "seeds=0,1,2"])

    def cell(seed, **data):
        config = {"cell": {"format": "csv", "model": "ozer_cnn", "seed": seed},
                  "training_hash": "h", "identity": {"training": {}, "key": f"k{seed}"}}
        return config, {"data": {"format": "csv", "path": "d", "csv": "d/f.csv", "n": 9,
                                 **data}}

    described = [cell(0, fingerprint="aligned"),  # before the key existed
                 cell(1, fingerprint="aligned", source_fingerprint="loaded"),
                 cell(2, fingerprint="loaded", source_fingerprint=None)]
    assert describe(cfg, described)["data"] == {"csv": [
        {"path": "d/f.csv", "fingerprint": "aligned", "n": 9, "source_fingerprint": "loaded"},
        {"path": "d/f.csv", "fingerprint": "loaded", "n": 9}]}
