"""A saved config read back: its dotted keys, and which of its keys are the training protocol.

The config's dataclasses live in train/config.py; a reader of run folders (reports/, the
claims judge) needs only these two facts about the config.json a cell saved, so they stand
here, in core, where every wing can read them without importing the training side.
"""

from __future__ import annotations

# Keys of the config that do not change what a cell computes.
NOT_TRAINING = ("name", "paper", "formats", "models", "seeds", "variants", "claims",
                "claimed_class_weights", "proposed_model", "claimed_notes", "literature",
                "literature_band", "search_space", "model_costs")


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested config JSON as dotted keys, the override syntax: {"augment.zoom": 0.1, ...}."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out
