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


def test_the_layers_keep_to_their_side():
    """models/ and data/ know nothing of each other, of the runner or of reports; reports
    never import training code."""
    def closure(start):
        seen, stack = set(), [start]
        while stack:
            for nxt in GRAPH[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    for name in MODULES:
        reached = closure(name)
        if name.startswith("fer_keras.models"):
            assert not {m for m in reached if m.startswith(("fer_keras.data", "fer_keras.runner",
                                                            "fer_keras.reports"))}, name
        if name.startswith("fer_keras.data"):
            assert not {m for m in reached if m.startswith(("fer_keras.models",
                                                            "fer_keras.runner",
                                                            "fer_keras.reports"))}, name
        if name.startswith("fer_keras.reports"):
            assert not {m for m in reached if m in ("fer_keras.runner", "fer_keras.callbacks",
                                                    "fer_keras.workers")}, name
    assert "fer_keras.search" in GRAPH["fer_keras.study"]  # the walk sees imports at all


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
    """The run-folder contract (fer_keras/cellfiles.py) names every file of a cell; any other
    module uses its constants, so a renamed file cannot leave a reader behind."""
    import re

    from fer_keras import cellfiles

    names = {v for k, v in vars(cellfiles).items()
             if k.endswith(("_FILE", "_DIR")) and isinstance(v, str)} | {"seed-"}
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    found = []
    for name, path in MODULES.items():
        if name == "fer_keras.cellfiles":
            continue
        for line, text in _code_strings(path):
            # a path or glob, not a sentence nor a command-line flag
            if " " not in text and not text.startswith("--") and pattern.search(text):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert found == []
