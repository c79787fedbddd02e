"""The package as users meet it: declared dependencies that hold the tested pins, a version,
and a command line whose every option says what it does and whose every command shows one
example."""

import argparse
import subprocess
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from fer_keras.cli import EXAMPLES, build_parser

ROOT = Path(__file__).parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_every_declared_dependency_holds_the_tested_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for extra in project["optional-dependencies"].values()
                 for r in extra]
    pins = _pins()
    names = {r.name.lower() for r in declared}
    for req in declared:
        assert req.name.lower() in pins, f"{req.name}: declared but not pinned"
        assert req.specifier.contains(pins[req.name.lower()]), (req, pins[req.name.lower()])
    # every runtime import of the package is declared (tensorboard comes with tensorflow)
    for needed in ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "matplotlib",
                   "seaborn", "opencv-python-headless", "scipy", "statsmodels", "jinja2"):
        assert needed in names, needed
    assert project["license"] == "Apache-2.0" and (ROOT / "LICENSE").read_text().strip() \
        .startswith("Apache License")


def test_version():
    res = subprocess.run([sys.executable, "-m", "fer_keras.cli", "--version"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.startswith("fer-keras 0.")


def _commands(parser, prefix=""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + name, name, sub
                yield from _commands(sub, prefix + name + " ")


def test_every_option_has_help_and_every_command_an_example():
    parser = build_parser()
    seen = set()
    for full, name, sub in _commands(parser):
        assert sub.epilog == f"example:\n  {EXAMPLES[name]}", full
        assert EXAMPLES[name].startswith("fer-keras " + full.split()[0]), full
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{full} {action.option_strings or action.dest}: no help"
        seen.add(full)
    assert {"run", "predict", "data audit", "export", "index"} <= seen
    listed = parser.format_help()
    assert listed.index("predict") < listed.index("run")  # predict among the first commands
    assert "(default: mtcnn)" in next(s for f, _, s in _commands(parser)
                                     if f == "predict").format_help()


def test_every_default_is_stated_once_and_none_is_not_stated():
    """argparse appends "(default: X)" to every option; an option whose help already says its
    default in words, or which has none (None), would read "(default: ...) (default: None)"."""
    parser, checked = build_parser(), 0
    for full, _, sub in _commands(parser):
        for action in sub._actions:
            if action.help and not isinstance(action, argparse._SubParsersAction):
                shown = sub._get_formatter()._expand_help(action)  # as --help prints it
                assert "(default: None)" not in shown, (full, shown)
                assert shown.count("(default") <= 1, (full, shown)
                checked += 1
    assert checked > 50
    run = next(s for f, _, s in _commands(parser) if f == "run").format_help()
    assert "(default: $FER2013_DIR)" in " ".join(run.split())
