"""The upper layers import only downward (ARCHITECTURE.md), read from the source (no import runs):

    core -> nn | optim | data | io | metrics -> models -> train -> cli

an import inside a function body in these packages says why it is lazy (`# lazy: ...` on its
line): optional packages and start-up time are the only reasons; and no function there runs past
60 lines."""
import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "tinygen")

# package -> the tinygen packages it must never import
FORBIDDEN = {
    "tinygen.models": ("tinygen.train", "tinygen.cli", "tinygen.data", "tinygen.io",
                       "tinygen.optim", "tinygen.metrics"),
    "tinygen.metrics": ("tinygen.models", "tinygen.train", "tinygen.cli"),
    "tinygen.train": ("tinygen.cli",),
    "tinygen.data": ("tinygen.models", "tinygen.train", "tinygen.metrics", "tinygen.cli",
                     "tinygen.nn", "tinygen.optim"),
    "tinygen.io": ("tinygen.models", "tinygen.train", "tinygen.metrics", "tinygen.cli",
                   "tinygen.data", "tinygen.nn", "tinygen.optim"),
}
LAZY_COMMENT_REQUIRED = ("tinygen.models", "tinygen.metrics", "tinygen.train", "tinygen.cli")


def _modules(package):
    folder = os.path.join(ROOT, *package.split(".")[1:])
    if not os.path.isdir(folder):
        yield package, folder + ".py"
        return
    for dirpath, _, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)[:-3].replace(os.sep, ".")
                rel = rel[:-len(".__init__")] if rel.endswith(".__init__") else rel
                yield f"tinygen.{rel}", os.path.join(dirpath, name)


def _imports(module, path):
    """(imported module name, line number, at module level?) for every import in the file."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            # `from tinygen import nn` imports tinygen.nn
            names = [f"{name}.{a.name}" for a in node.names] if name == "tinygen" else [name]
            for n in names:
                yield n, node.lineno, id(node) in top_level


def _within(name, package):
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    bad = []
    for module, path in _modules(package):
        for name, line, _ in _imports(module, path):
            if any(_within(name, other) for other in FORBIDDEN[package]):
                bad.append(f"{module}:{line} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", LAZY_COMMENT_REQUIRED)
def test_imports_inside_functions_say_why(package):
    bad = []
    for module, path in _modules(package):
        with open(path) as f:
            lines = f.read().splitlines()
        for name, line, top in _imports(module, path):
            if not top and "# lazy:" not in lines[line - 1]:
                bad.append(f"{module}:{line} imports {name} inside a function without '# lazy:'")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_relative_imports():
    found = {name for name, _, _ in _imports("tinygen.train.recipes.text",
                                              os.path.join(ROOT, "train", "recipes", "text.py"))}
    assert {"tinygen.nn", "tinygen.models.gpt", "tinygen.train.recipes.base"} <= found


@pytest.mark.parametrize("package", LAZY_COMMENT_REQUIRED)
def test_functions_fit_on_a_screen(package):
    """No function of the upper layers runs past 60 lines: split it into named steps."""
    long = []
    for module, path in _modules(package):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    long.append(f"{module}.{node.name}: {length} lines")
    assert not long, "\n".join(long)
