"""Copies of the data known to be damaged. A run trained on one of them is superseded whatever
it measured: its report, docs page and scoreboard row say so in red. Keyed by the data
fingerprint every manifest records (SHA-256 of the pixels and labels as loaded, after any
preprocessing stage), so a report needs nothing but the run folder to tell.
"""

from __future__ import annotations

BLURRED_TRAIN = ("the FER-2013 copy whose train/ images were blurred (Gaussian, about 3 px), "
                 "replaced by a repaired copy on 2026-11-30 (docs/data.md)")

# The fingerprints that copy gave, as every run before 2026-11-30 recorded them: the 28,709
# images of train/, all 35,887 from the folders, the CSV built from them, and that CSV after
# a preprocessing stage (alignment and CLAHE).
DAMAGED_DATA = {
    "06fee47bcf61dc05e29ce3db432deaee15a2fba0a1acb8eb392b811a2b5553d4": BLURRED_TRAIN,
    "060f44ce7b0ad969e9dae468e7f035f4dae9c2b2bb2125322d29bfd2e41e2a21": BLURRED_TRAIN,
    "e5d506775040a9716ca7f5e163b127b707139794795725e6e95dd55b09d37f25": BLURRED_TRAIN,
    "6fc9cfec5ab271abbd10285e2a7ec181ee3cc0aa799ae032c0e12cd50c09b645": BLURRED_TRAIN,
}


def damage_of(manifest: dict) -> str | None:
    """What is wrong with the data a run was trained on, or None when nothing is known: by its
    fingerprint, or by the fingerprint of what its preprocessing stage started from (so a
    damaged copy is caught under preprocessing settings never run before)."""
    data = manifest.get("data", {})
    return next((DAMAGED_DATA[f] for f in (data.get("fingerprint"), data.get("source_fingerprint"))
                 if f in DAMAGED_DATA), None)
