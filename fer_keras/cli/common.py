"""What every command module of the CLI shares: the one error type of a user's mistake, the
data path (--data or FER2013_DIR), a config with its overrides, the help formatter and each
command's example. Light: no TensorFlow."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..core.errors import FerKerasError

NO_DATA = """\
No FER-2013 data given. Point at it with --data PATH or the FER2013_DIR environment variable.
FER-2013 comes in two Kaggle layouts, both accepted:
  * the image-folder export: <root>/train/<emotion>/*.jpg and <root>/test/<emotion>/*.jpg
    (e.g. the 'fer2013' image dataset on Kaggle, 35,887 JPEGs);
  * the challenge CSV 'fer2013.csv' with columns emotion,pixels,Usage (35,887 rows), from the
    Kaggle 'Challenges in Representation Learning: Facial Expression Recognition' competition.
Without data, `make demo` runs the whole pipeline on the embedded synthetic sample."""


class UsageError(FerKerasError):
    pass


def data_path(arg: str | None) -> Path:
    value = arg or os.environ.get("FER2013_DIR")
    if not value:
        raise UsageError(NO_DATA)
    return Path(value)


def config_and_inputs(args):
    """The experiment config with its overrides, and the input data (--data, or FER2013_DIR,
    and --csv where the command has it), each checked to exist before TensorFlow is imported."""
    from ..train.config import load_config

    cfg = load_config(args.config, args.overrides)
    data = data_path(args.data)
    csv = Path(args.csv) if getattr(args, "csv", None) else None
    for path, flag in ((data, "--data"), (csv, "--csv")):
        if path is not None and not path.exists():
            raise UsageError(f"{path}: no such file or folder (given as {flag})")
    return cfg, data, csv


def levels(text: str, ok, expected: str) -> tuple[float, ...]:
    """--sigmas: comma-separated numbers, each accepted by `ok`; else one error line."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(ok(v) for v in values):
        raise UsageError(f"--sigmas {text}: expected {expected}")
    return values


EXAMPLES = {
    "params": "fer-keras params",
    "predict": "fer-keras predict photo.jpg",
    "models": "fer-keras models",
    "data": "fer-keras data audit /path/to/fer2013 --json audit.json",
    "to-csv": "fer-keras data to-csv /path/to/fer2013 fer2013.csv",
    "to-dir": "fer-keras data to-dir fer2013.csv images/",
    "audit": "fer-keras data audit /path/to/fer2013 --json audit.json",
    "sample": "fer-keras data sample runs/_sample",
    "near-copies": "fer-keras data near-copies /path/to/fer2013 --json near-copies.json",
    "run": "fer-keras run experiments/ozer.py --data /path/to/fer2013 seeds=0,1,2 --jobs 2",
    "blur-check": "fer-keras blur-check experiments/ozer.py --data /path/to/fer2013 --out "
                  "runs/ozer --sigmas 0,1,2",
    "noise-gain": "fer-keras noise-gain experiments/emotionnet.py --data /path/to/fer2013 --n 200",
    "study": "fer-keras study experiments/ozer_reachability.py --data /path/to/fer2013 "
             "--trials 30",
    "bench": "fer-keras bench --data /path/to/fer2013",
    "report": "fer-keras report runs/ozer --out reports/ozer",
    "export": "fer-keras export ozer/csv-ozer_cnn --format onnx --out cnn.onnx",
    "explain": "fer-keras explain runs/ozer",
    "publish": "fer-keras publish runs/ozer --out reports/ozer/models",
    "reproduce": "fer-keras reproduce ozer --data /path/to/fer2013",
    "index": "fer-keras index reports",
    "describe": "fer-keras describe experiments/ozer.py reports/ozer/runs",
}


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default in its help, once: not where the help already says it in words
    ("default: $FER2013_DIR") nor where there is none to say ("(default: None)"); the example
    below kept as written."""

    def _get_help_string(self, action):
        if action.default is None or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def commands(sub):
    """sub.add_parser with the command's help as its description, every option's default
    shown, and one example (EXAMPLES)."""
    def add(name: str, help: str):
        return sub.add_parser(name, help=help, description=help, formatter_class=Formatter,
                              epilog=f"example:\n  {EXAMPLES[name]}")
    return add
