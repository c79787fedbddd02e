"""The committed reference reproduction: README numbers are exactly what the code produces
from the committed per-run files."""

from pathlib import Path

import pytest

from fer_keras.reports import build_report

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "reports" / "ozer"


@pytest.mark.skipif(not (REFERENCE / "runs").is_dir(), reason="no committed reference run yet")
def test_readme_tables_are_regenerated_from_the_committed_runs(tmp_path):
    index = build_report(REFERENCE / "runs", tmp_path / "ozer")
    tables = (index.parent / "tables.md").read_text()
    assert tables == (REFERENCE / "tables.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for block in tables.strip().split("\n\n"):
        assert block in readme, f"README lacks this regenerated table:\n{block}"
