import re
from pathlib import Path

import pytest

from fer_keras.claims.ledger import claimed_values
from fer_keras.train.config import ConfigError, apply_overrides, config_from_json, load_config

OZER = Path(__file__).parents[1] / "experiments" / "ozer.py"


def test_ozer_config_holds_the_protocol():
    cfg = load_config(OZER)
    assert cfg.split == "80/10/10" and cfg.max_epochs == 50
    assert cfg.early_stopping_patience == 5 and cfg.reduce_lr_patience == 3
    assert cfg.models == ("ozer_cnn", "ozer_cnn_lstm") and cfg.formats == ("directory", "csv")
    assert not cfg.augment.enabled and not cfg.class_weights
    assert claimed_values(cfg.claims)["csv/ozer_cnn_lstm"]["f1_macro"] == 55.995


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
    ("seeds=a,b", "expected comma-separated int values, e.g. seeds=0,1,2"),
    ("restore_best_weights=maybe", "expected bool"),
    ("augment.spin=1", "unknown config key 'augment.spin'"),
    ("max_epochs", "overrides are written key=value"),
    ("claimed_notes.x=1", "has no sub-keys"),
])
def test_bad_overrides_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(load_config(OZER), [override])


def test_variants_are_chosen_by_name_from_the_command_line():
    """Variants follow `models=`; `variants=` chooses among the config's own (never edits
    them), so one main cell can be trained again without its variants."""
    from fer_keras.train.runfolder import cells

    emotionnet = OZER.parent / "emotionnet.py"
    base = ["formats=csv", "models=emotionnet_pp", "seeds=0"]
    every = [c.variant for c in cells(load_config(emotionnet, base))]
    assert every == ["", "no-preprocessing", "classwise-aug"]
    none = load_config(emotionnet, [*base, "variants=none"])
    assert [c.variant for c in cells(none)] == [""] and none.variants == {}
    one = load_config(emotionnet, [*base, "variants=classwise-aug"])
    assert [c.variant for c in cells(one)] == ["", "classwise-aug"]
    assert one.variants["classwise-aug"] == load_config(emotionnet).variants["classwise-aug"]
    for value, unknown in (("nope", "nope"), ("classwise-aug,x", "x"), ("", "")):
        with pytest.raises(ConfigError, match=re.escape(
                f"variants={value}: unknown variant {unknown!r}; expected names among "
                "no-preprocessing, classwise-aug separated by commas, or none")):
            load_config(emotionnet, [*base, f"variants={value}"])


def test_json_round_trip_and_training_hash():
    cfg = load_config(OZER)
    assert config_from_json(cfg.to_json()) == cfg
    assert cfg.training_hash() == load_config(OZER, ["seeds=7"]).training_hash()
    assert cfg.training_hash() != load_config(OZER, ["batch_size=64"]).training_hash()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="no such experiment config"):
        load_config(tmp_path / "none.py")


# The training keys before the ADDED fields existed: a config at their defaults must keep
# exactly these, so cells finished earlier keep their identity.
ORIGINAL_TRAINING_KEYS = {
    "directory_subset", "csv_subset", "split", "optimizer", "learning_rate", "batch_size",
    "max_epochs", "early_stopping_patience", "restore_best_weights", "reduce_lr_patience",
    "reduce_lr_factor", "min_lr", "class_weights", "augment", "deterministic",
    # threads: always part of the identity (2026-11-30, issue #31): every cell before it ran
    # with TensorFlow's default threads, whose numbers differ, so none is reused under it
    "threads"}
ORIGINAL_AUGMENT_KEYS = {"rotation_deg", "horizontal_flip", "zoom", "shift", "shear",
                         "brightness", "contrast", "noise_std"}


def test_fields_added_later_are_left_out_of_the_identity_at_their_default():
    cfg = load_config(OZER)
    assert set(cfg.training_config()) == ORIGINAL_TRAINING_KEYS
    assert set(cfg.training_config()["augment"]) == ORIGINAL_AUGMENT_KEYS
    changed = load_config(OZER, ["validation=test", "augment.crop=0.1", "min_epochs=3",
                                 "reduce_lr=false", "early_stopping=false"])
    extra = set(changed.training_config()) - ORIGINAL_TRAINING_KEYS
    assert extra == {"validation", "min_epochs", "reduce_lr", "early_stopping"}
    assert changed.training_config()["augment"]["crop"] == 0.1
    assert changed.training_hash() != cfg.training_hash()


@pytest.mark.parametrize("override,message", [
    ("validation=holdout", "validation='holdout': expected one of split, carve, keras, test"),
    ("validation_fraction=1.5", "validation_fraction=1.5: expected 0 < fraction < 1"),
    ("min_epochs=-1", "min_epochs=-1: expected an integer >= 0"),
    ("models=", "models=(empty): expected at least one value"),
    ("seeds=1,1", "seeds=1,1: a value is repeated"),
    ("reduce_lr_factor=1", "reduce_lr_factor=1.0: expected 0 < f < 1"),
    ("augment.crop=0.9", "augment.crop=0.9: expected 0 <= value <= 0.5"),
])
def test_values_no_run_can_use_are_refused(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(OZER, [override])


def test_a_config_file_with_a_wrong_keyword_is_one_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from fer_keras.train.config import ExperimentConfig\n"
                   "CONFIG = ExperimentConfig(name='x', paper='y', epochs=3)\n")
    with pytest.raises(ConfigError, match="unexpected keyword argument 'epochs'"):
        load_config(bad)


