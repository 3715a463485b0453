"""The shape of the house (ARCHITECTURE.md, issue #13), checked on the source with `ast`:

- tinygen's layers import only downward,
      backend -> autograd -> ops -> tensor -> creation -> nn | optim | data | io | metrics | ...
      -> models -> train -> cli,
  and no module imports, at its top level, a module that imports it back (no cycle);
- kernels/ (installed as tinygen_kernels) knows only arrays: it imports nothing of tinygen;
- an import inside a function body is a lazy import on purpose, and says so (`# lazy: why`);
- no function is longer than 60 lines, and tensor.py stays under 600 lines.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PACKAGE = os.path.join(ROOT, "tinygen")

# bottom to top; a module's layer is that of its longest listed prefix
LAYERS = [
    ["tinygen.backend", "tinygen.backends", "tinygen.cuda", "tinygen.random"],
    ["tinygen.autograd"],
    ["tinygen.ops"],
    ["tinygen.tensor", "tinygen.printing", "tinygen.tensor_protocol"],
    ["tinygen.creation", "tinygen"],
    ["tinygen.nn", "tinygen.optim", "tinygen.data", "tinygen.io", "tinygen.metrics",
     "tinygen.distributed", "tinygen.quantization", "tinygen.distributions", "tinygen.utils"],
    ["tinygen.models"],
    ["tinygen.train"],
    ["tinygen.cli", "tinygen.__main__"],
]
MAX_FUNCTION_LINES = 60

# peers that must not know each other (stricter than the layer order): models/ holds Modules,
# losses and samplers, built from the core and nn alone; data and io stand apart from nn and optim
FORBIDDEN = {
    "tinygen.models": ("tinygen.data", "tinygen.io", "tinygen.optim", "tinygen.metrics"),
    "tinygen.data": ("tinygen.nn", "tinygen.optim", "tinygen.metrics"),
    "tinygen.io": ("tinygen.data", "tinygen.nn", "tinygen.optim", "tinygen.metrics"),
    "tinygen.metrics": ("tinygen.data", "tinygen.io", "tinygen.optim"),
}


def _modules(folder, package):
    """{module name: path} for every .py file under folder."""
    found = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, folder)[:-3].replace(os.sep, ".")
                mod = package if rel == "__init__" else f"{package}.{rel}"
                found[mod.removesuffix(".__init__")] = path
    return found


MODULES = _modules(PACKAGE, "tinygen")
TREES = {mod: ast.parse(open(path).read(), path) for mod, path in MODULES.items()}


def _layer(mod):
    best, level = -1, None
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    return level


def _resolve(mod, node):
    """The tinygen modules an import statement names (absolute), for module `mod`."""
    is_package = MODULES[mod].endswith("__init__.py")
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "tinygen"]
    if node.level:
        parts = mod.split(".") if is_package else mod.split(".")[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != "tinygen":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _top_level_imports(tree):
    """Import statements run at import time: the module body, and inside if/try blocks there."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            stack += node.body + node.orelse + getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                stack += handler.body


def _graph():
    return {mod: sorted({t for node in _top_level_imports(tree) for t in _resolve(mod, node)
                         if t in MODULES and t != mod})
            for mod, tree in TREES.items()}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if _layer(m) is None] == []


def test_imports_point_downward():
    upward = [f"{mod} (layer {_layer(mod)}) imports {target} (layer {_layer(target)})"
              for mod, targets in _graph().items() for target in targets
              if _layer(target) > _layer(mod)]
    assert upward == []


def test_peers_stay_apart():
    def within(mod, package):
        return mod == package or mod.startswith(package + ".")

    bad = [f"{mod} imports {target}" for mod, targets in _graph().items() for target in targets
           for package, forbidden in FORBIDDEN.items() if within(mod, package)
           for other in forbidden if within(target, other)]
    assert bad == []


def test_no_import_cycle():
    graph, state, cycles = _graph(), {}, []

    def visit(start):
        stack = [(start, iter(graph[start]))]
        path = [start]
        state[start] = "open"
        while stack:
            mod, targets = stack[-1]
            for t in targets:
                if state.get(t) == "open":
                    cycles.append(path[path.index(t):] + [t])
                elif t not in state:
                    state[t] = "open"
                    stack.append((t, iter(graph[t])))
                    path.append(t)
                    break
            else:
                state[mod] = "done"
                stack.pop()
                path.pop()

    for mod in sorted(graph):
        if mod not in state:
            visit(mod)
    assert cycles == []


def test_kernels_know_only_arrays():
    for mod, path in _modules(os.path.join(ROOT, "kernels"), "tinygen_kernels").items():
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "tinygen" for a in node.names), mod
            elif isinstance(node, ast.ImportFrom) and not node.level:
                assert (node.module or "").split(".")[0] != "tinygen", mod


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_imports_inside_functions_are_lazy_on_purpose():
    unmarked = []
    for mod, tree in TREES.items():
        lines = open(MODULES[mod]).read().splitlines()
        for fn in _functions(tree):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    if "# lazy:" not in lines[node.lineno - 1]:
                        unmarked.append(f"{mod}:{node.lineno} {lines[node.lineno - 1].strip()}")
    assert sorted(set(unmarked)) == []


def test_functions_are_short():
    long = [f"{mod}:{fn.lineno} {fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
            for mod, tree in TREES.items() for fn in _functions(tree)
            if fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_tensor_py_is_thin():
    with open(MODULES["tinygen.tensor"]) as f:
        assert len(f.read().splitlines()) < 600


@pytest.mark.parametrize("module", ["tinygen"] + sorted(
    m for m in MODULES if m.count(".") == 1 and MODULES[m].endswith("__init__.py")))
def test_each_package_imports_on_its_own(module):
    # a fresh interpreter per package: an import cycle that happens to resolve in one order
    # (because another module was imported first) fails here
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
