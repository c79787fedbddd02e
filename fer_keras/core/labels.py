"""The one place that defines FER-2013's classes and their indices.

The indices are those of the challenge CSV (`emotion,pixels,Usage`, Goodfellow et al. 2013)
and of Özer & Subaşı §2.1: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.
The alphabetical folder order of the Kaggle image export (angry, disgust, fear, happy,
neutral, sad, surprise) is NOT this order, so folder names are mapped by name, never by
their position.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(CLASS_NAMES)

# Names seen in the wild for the same classes (folder names of other exports, papers' wording).
_SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "mad": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "afraid": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "neutrality": "neutral",
    "calm": "neutral",
}

# Challenge split names as they appear in the CSV `Usage` column and as file-name prefixes.
SPLIT_NAMES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")


def class_index(name: str) -> int | None:
    """Canonical index of a class name (case-insensitive, synonyms accepted), or None."""
    key = name.strip().lower()
    key = _SYNONYMS.get(key, key)
    try:
        return CLASS_NAMES.index(key)
    except ValueError:
        # A folder named by its index ("0".."6") is also common in exports.
        if key.isdigit() and 0 <= int(key) < NUM_CLASSES:
            return int(key)
        return None
