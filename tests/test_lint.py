"""The code passes `make lint` (ruff, pyproject's rules): CI runs `make test`, so lint is
checked there too."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_ruff_finds_nothing():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "fer_keras", "tests",
                          "experiments", "tools"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-1000:]
