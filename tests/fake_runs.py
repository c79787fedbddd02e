"""A hand-made run folder, written without training, for report tests."""

import json
from pathlib import Path

import numpy as np

from fer_keras.claims import ledger
from fer_keras.core.cellfiles import DONE_FILE, file_hashes
from fer_keras.core.metrics import compute_metrics

CLAIMED = {"csv/ozer_cnn": {"accuracy": 55.0, "precision_macro": 53.0, "recall_macro": 52.0,
                            "f1_macro": 52.5}}
CLAIMED_AUC = {"csv/ozer_cnn": {"angry": 0.8, "disgust": 0.9, "fear": 0.7, "happy": 0.9,
                                "sad": 0.8, "surprise": 0.9, "neutral": 0.8}}


# The same numbers as claims (fer_keras.claims.ledger), as a config's experiment.json holds them.
CLAIMS = ledger.to_json(tuple(
    ledger.Value(cell=cell, metric=metric, value=value, quote=f"{metric} {value}", where="T1")
    for cell, metrics in CLAIMED.items() for metric, value in metrics.items()) + tuple(
    ledger.Value(cell=cell, metric=f"roc_auc.{name}", value=value, quote=f"{name} {value}",
                 where="T2")
    for cell, aucs in CLAIMED_AUC.items() for name, value in aucs.items()))


def fake_probs(rng, y, skill):
    logits = rng.normal(0, 1, (y.size, 7))
    logits[np.arange(y.size), y] += skill
    e = np.exp(logits)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def write_fake_runs(root: Path, seeds=(0, 1), paper="Fake <b>paper</b> & co") -> Path:
    rng = np.random.default_rng(0)
    experiment = {"name": "fake", "paper": paper, "formats": ["directory", "csv"],
                  "models": ["ozer_cnn", "ozer_cnn_lstm"], "seeds": list(seeds),
                  "claims": CLAIMS, "claimed_notes": "",
                  "optimizer": "adam", "learning_rate": 0.001, "batch_size": 32,
                  "max_epochs": 50, "early_stopping_patience": 5}
    root.mkdir(parents=True, exist_ok=True)
    (root / "experiment.json").write_text(json.dumps(experiment))
    for fmt, n in (("directory", 120), ("csv", 150)):
        for seed in seeds:
            y = rng.integers(0, 7, n)
            test_idx = np.sort(rng.choice(1000, n, replace=False))
            for model, skill in (("ozer_cnn", 1.5 + seed * 0.2), ("ozer_cnn_lstm", 2.0)):
                folder = root / f"{fmt}-{model}" / f"seed-{seed}"
                folder.mkdir(parents=True)
                probs = fake_probs(rng, y, skill + (0.5 if fmt == "csv" else 0))
                cell = {"format": fmt, "model": model, "seed": seed}
                (folder / "config.json").write_text(json.dumps({**experiment, "cell": cell}))
                epochs = 6
                with open(folder / "history.csv", "w") as f:
                    f.write("epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n")
                    for e in range(epochs):
                        lr = 1e-3 if e < 4 else 1e-4
                        f.write(f"{e},{0.3 + 0.05 * e},{lr},{1.8 - 0.1 * e},"
                                f"{0.3 + 0.04 * e},{1.7 - 0.08 * e + (0.2 if e == 5 else 0)}\n")
                np.savez(folder / "predictions.npz", probs=probs, labels=y, indices=test_idx,
                         sources=np.array([f"img{i}" for i in test_idx]))
                np.savez(folder / "examples.npz",
                         images=rng.integers(0, 256, (16, 48, 48, 1), dtype=np.uint8),
                         labels=y[:16], probs=probs[:16])
                (folder / "metrics.json").write_text(json.dumps(compute_metrics(y, probs)))
                (folder / "manifest.json").write_text(json.dumps({
                    "git_commit": "abc123", "python": "3.11.7", "packages": {"keras": "3"},
                    "cpu": "Test CPU", "cpu_count": 2, "gpus": [], "platform": "linux",
                    "started": "2026-01-01T00:00:00+00:00",
                    "finished": "2026-01-01T01:00:00+00:00", "resumed": False,
                    "train_seconds_this_session": 60.0, "epochs": epochs, "best_epoch": 5,
                    "data": {"path": "/data/fer", "csv": None, "format": fmt, "n": 1000,
                             "fingerprint": "f" * 64, "notes": [], "synthetic": False},
                    "split": {"scheme": "80/10/10", "seed": seed, "train": 800, "val": 100,
                              "test": n, "file": "split.npz"},
                    "input": {}, "strategy": "default", "replicas": 1,
                    "mixed_precision": False, "model_sha256": "0" * 64}))
                seal(folder)
    return root


def seal(folder: Path) -> None:
    """done.json as runfolder.finish writes it, over the cell's files as they are now (a test
    that edits a fake cell's file seals it again, as if it had finished so)."""
    (folder / DONE_FILE).write_text(json.dumps({
        "identity": {"key": "fake"}, "finished": "2026-01-01T01:00:00+00:00",
        "files": file_hashes(folder)}))


def reseal(root: Path) -> Path:
    """`seal` every finished cell below `root`."""
    for done in sorted(Path(root).glob(f"*/seed-*/{DONE_FILE}")):
        seal(done.parent)
    return root
