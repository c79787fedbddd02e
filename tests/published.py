"""Reading the published layer tables in tests/data/<model>.summary.tsv."""

from pathlib import Path

from fer_keras.models.summary import LayerRow

DATA_DIR = Path(__file__).parent / "data"


def published_rows(model_name: str) -> list[LayerRow] | None:
    path = DATA_DIR / f"{model_name}.summary.tsv"
    if not path.exists():
        return None
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    rows = []
    for ln in lines[1:]:  # header: layer type output_shape params
        layer, typ, shape, params = ln.split("\t")
        rows.append(LayerRow(layer, typ, shape, int(params.replace(",", ""))))
    return rows


def row_diff(expected: list[LayerRow], built: list[LayerRow]) -> list[str]:
    """Readable differences, one line per differing row, naming the row."""
    out = []
    for i in range(max(len(expected), len(built))):
        e = expected[i] if i < len(expected) else None
        b = built[i] if i < len(built) else None
        if e != b:
            out.append(f"row {i + 1}: paper {e.render() if e else '(none)'} | "
                       f"built {b.render() if b else '(none)'}")
    return out
