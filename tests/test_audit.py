import numpy as np

from fer_keras.cli import main
from fer_keras.data.audit import audit
from fer_keras.data.dataset import FerData


def _data():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 48, 48, 1), dtype=np.uint8)
    imgs[1] = imgs[0]  # duplicate within Training
    imgs[4] = imgs[2]  # duplicate across Training / PrivateTest, other label
    imgs[5] = 7  # constant
    return FerData(imgs, np.array([0, 0, 3, 4, 6, 2]), np.array([f"f{i}" for i in range(6)]),
                   np.array(["Training"] * 4 + ["PrivateTest"] * 2))


def test_audit_finds_duplicates_leakage_conflicts_and_blanks():
    r = audit(_data())
    assert r["counts"]["Training"]["total"] == 4 and r["counts"]["PrivateTest"]["neutral"] == 1
    assert r["duplicate_groups"] == 2
    assert r["extra_copies_within_split"] == {"Training": 1}
    assert r["groups_spanning_splits"] == {"PrivateTest & Training": 1}
    assert r["groups_with_conflicting_labels"] == 1
    assert r["constant_images"] == 1 and r["constant_examples"] == ["f5"]


def test_audit_cli_writes_json(tmp_path, sample, capsys):
    _, csv_path = sample
    out = tmp_path / "audit.json"
    assert main(["data", "audit", str(csv_path), "--json", str(out)]) == 0
    assert "exact-duplicate groups: 0" in capsys.readouterr().out
    assert out.exists()
