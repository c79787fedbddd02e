from pathlib import Path

import pytest

from fer_keras.config import ConfigError, apply_overrides, config_from_json, load_config

OZER = Path(__file__).parents[1] / "experiments" / "ozer.py"


def test_ozer_config_holds_the_protocol():
    cfg = load_config(OZER)
    assert cfg.split == "80/10/10" and cfg.max_epochs == 50
    assert cfg.early_stopping_patience == 5 and cfg.reduce_lr_patience == 3
    assert cfg.models == ("ozer_cnn", "ozer_cnn_lstm") and cfg.formats == ("directory", "csv")
    assert not cfg.augment.enabled and not cfg.class_weights
    assert cfg.claimed_metrics["csv/ozer_cnn_lstm"]["f1_macro"] == 55.995


def test_overrides_are_typed():
    cfg = load_config(OZER, ["seeds=3,4", "max_epochs=2", "learning_rate=5e-4",
                             "restore_best_weights=false", "augment.rotation_deg=15",
                             "formats=csv"])
    assert cfg.seeds == (3, 4) and cfg.max_epochs == 2 and cfg.learning_rate == 5e-4
    assert cfg.restore_best_weights is False and cfg.augment.rotation_deg == 15.0
    assert cfg.formats == ("csv",)


@pytest.mark.parametrize("override,message", [
    ("epochs=3", "unknown config key 'epochs'"),
    ("max_epochs=three", "max_epochs='three': expected int"),
    ("seeds=a,b", "expected tuple"),
    ("restore_best_weights=maybe", "expected bool"),
    ("augment.spin=1", "unknown config key 'augment.spin'"),
    ("max_epochs", "overrides are written key=value"),
    ("claimed_metrics=1", "cannot be set from the command line"),
])
def test_bad_overrides_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(load_config(OZER), [override])


def test_json_round_trip_and_training_hash():
    cfg = load_config(OZER)
    assert config_from_json(cfg.to_json()) == cfg
    assert cfg.training_hash() == load_config(OZER, ["seeds=7"]).training_hash()
    assert cfg.training_hash() != load_config(OZER, ["batch_size=64"]).training_hash()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="no such experiment config"):
        load_config(tmp_path / "none.py")
