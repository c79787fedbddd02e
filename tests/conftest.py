import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer_keras.core.tfprocess import pin_threads  # noqa: E402

# Cells train with the config's threads (1 by default): pinned before any test starts
# TensorFlow, so tests can train cells in this process, with the numbers a worker would get.
pin_threads(1)

DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Each test session decodes into its own cache, never the user's."""
    monkeypatch.setenv("FER_KERAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """The embedded synthetic sample, both formats: (image folder, CSV path)."""
    from fer_keras.data.synthetic import write_sample

    return write_sample(tmp_path_factory.mktemp("sample"), n=700, seed=0)


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    value = os.environ.get("FER2013_DIR")
    if not value:
        pytest.skip("FER2013_DIR is not set: real-data test skipped")
    path = Path(value)
    if not (path / "train").is_dir():
        pytest.skip(f"FER2013_DIR={value} has no train/ folder")
    return path
