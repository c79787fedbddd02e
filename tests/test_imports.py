"""The house's arrows point one way: no module of fer_keras imports, directly or through
others, a module that imports it back (counting imports inside functions too: a lazy import
hides a circle, it does not remove it); and the layers keep to their side."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "fer_keras"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The fer_keras modules `path` imports (any depth of the tree, any place in the file)."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        for c in candidates:
            if c.startswith("fer_keras") and c in MODULES and c != name:
                found.add(c)
    return found


MODULES = {_module(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _reaches(start: str, goal: str) -> list[str] | None:
    """A path of imports from start to goal, or None."""
    stack, seen = [(start, [start])], {start}
    while stack:
        node, path = stack.pop()
        for nxt in sorted(GRAPH[node]):
            if nxt == goal:
                return path + [nxt]
            if nxt not in seen and not goal.startswith(nxt + "."):
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def _package_of(a: str, b: str) -> bool:
    """a is a package that holds b (importing b runs a's __init__: not a circle)."""
    return b.startswith(a + ".")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_circle(module):
    for imported in sorted(GRAPH[module]):
        if _package_of(imported, module) or _package_of(module, imported):
            continue
        back = _reaches(imported, module)
        assert back is None, f"{module} -> {' -> '.join(back)}"


# The wings and where each may look: down, never up nor sideways (the command line, cli/, and
# the package's __init__ stand above them all). docs/architecture.md draws the same table.
WINGS = ("core", "data", "models", "claims", "reports", "train", "use")
MAY_IMPORT = {
    "core": {"core"},
    "data": {"core", "data"},
    "models": {"core", "models"},
    "claims": {"core", "claims"},
    "reports": {"core", "claims", "reports"},
    "train": {"core", "data", "models", "claims", "train"},
    "use": {"core", "data", "models", "claims", "reports", "use"},
}


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else None


def _closure(start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in GRAPH[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_the_package_is_its_wings():
    """fer_keras/ holds the wings, the command line (cli/) and the package's __init__ (the
    public API), no other module."""
    top = {p.name for p in PACKAGE.iterdir() if p.suffix == ".py"}
    assert top == {"__init__.py"}
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} \
        == {*WINGS, "cli"}


def test_nothing_imports_the_command_line():
    """The CLI is the top layer: no wing imports it (a command's logic lives in its wing)."""
    assert [m for m in MODULES if not m.startswith("fer_keras.cli")
            and any(d.startswith("fer_keras.cli") for d in GRAPH[m])] == []


@pytest.mark.parametrize("wing", WINGS)
def test_no_import_runs_back_up(wing):
    """Every import of a wing's modules, direct or through others, lazy ones included, stays
    inside what the wing may import (MAY_IMPORT)."""
    found = []
    for name in sorted(m for m in MODULES if _wing(m) == wing):
        for reached in sorted(_closure(name)):
            if reached != "fer_keras" and _wing(reached) not in MAY_IMPORT[wing]:
                found.append(f"{name} -> {reached}")
    assert found == []


def test_the_walk_sees_lazy_imports():
    """The graph counts imports inside functions: the check cannot pass by not seeing them."""
    assert "fer_keras.train.search" in GRAPH["fer_keras.train.study"]
    assert "fer_keras.claims.printed" in GRAPH["fer_keras.train.study"]
    assert "fer_keras.use.predict" in GRAPH["fer_keras.cli.use"]
    # a hypothetical back-running import is reported (the rule itself can fail)
    GRAPH["fer_keras.core.labels"].add("fer_keras.train.runner")
    try:
        assert "fer_keras.train.runner" in _closure("fer_keras.core.labels")
        assert _wing("fer_keras.train.runner") not in MAY_IMPORT["core"]
    finally:
        GRAPH["fer_keras.core.labels"].discard("fer_keras.train.runner")


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module's code (docstrings left out), with their lines; the
    literal parts of f-strings included."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                    ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings]


def test_no_module_but_the_contract_names_a_cell_file():
    """The run-folder contract (fer_keras/core/cellfiles.py) names every file of a cell; any other
    module uses its constants, so a renamed file cannot leave a reader behind."""
    import re

    from fer_keras.core import cellfiles

    names = {v for k, v in vars(cellfiles).items()
             if k.endswith(("_FILE", "_DIR")) and isinstance(v, str)} | {"seed-"}
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    found = []
    for name, path in MODULES.items():
        if name == "fer_keras.core.cellfiles":
            continue
        for line, text in _code_strings(path):
            # a path or glob, not a sentence nor a command-line flag
            if " " not in text and not text.startswith("--") and pattern.search(text):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert found == []


def test_the_architecture_page_draws_the_same_table():
    """docs/architecture.md's table of who may import whom is MAY_IMPORT, word for word."""
    import re

    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)/` \| ([^|]+) \|", page, re.M))
    drawn = {w: {"core"} if v.strip() == "nothing else" else
             {x.strip() for x in v.split(",")} | {w} for w, v in rows.items() if w != "cli"}
    drawn["core"] = {"core"}
    assert drawn == MAY_IMPORT


def test_no_paper_is_named_by_the_general_machinery():
    """A paper is a config, a builder file and its claims: the runner's stages, the claims
    judge, the report generator and core never name one (a paper's key is each file of
    experiments/)."""
    import re

    papers = {p.stem for p in (PACKAGE.parent / "experiments").glob("*.py")
              if "_" not in p.stem and p.stem not in ("benchmark", "__init__")}
    assert {"ozer", "ashok", "emotionnet", "wasey", "xu"} <= papers
    word = re.compile(r"\b(" + "|".join(sorted(papers)) + r")\b", re.I)
    general = [*(PACKAGE / "train").glob("[rpc]*.py"), *(PACKAGE / "claims").rglob("*.py"),
               *(PACKAGE / "reports").rglob("*.*"), *(PACKAGE / "core").rglob("*.py")]
    found = [f"{p.relative_to(PACKAGE)}: {m.group(0)}" for p in general
             if p.suffix in (".py", ".j2") and p.name != "reproduce.py"
             for m in word.finditer(p.read_text())]
    assert found == []


def test_the_light_modules_load_no_tensorflow():
    """docs/architecture.md's light modules: the command line checks a user's input with
    them before TensorFlow's seconds of start-up."""
    import subprocess
    import sys

    light = [m for m in MODULES if _wing(m) in ("core", "claims", "reports")] + [
        "fer_keras", "fer_keras.train.config", "fer_keras.train.runfolder",
        "fer_keras.train.workers", "fer_keras.use.pretrained", "fer_keras.cli"]
    code = (f"import importlib, sys\nfor m in {sorted(light)!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"
