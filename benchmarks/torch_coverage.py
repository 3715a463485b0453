"""PyTorch's public names, and which of them tinygen has: the coverage inventory (issue #14).

For each namespace (torch, torch.Tensor, torch.nn, torch.nn.functional, torch.nn.init,
torch.nn.utils, torch.optim, torch.optim.lr_scheduler, torch.utils.data, torch.autograd,
torch.distributions) it lists PyTorch's public names and looks each up in the matching tinygen
namespace. A public name: in dir() without a leading underscore, not a submodule, defined by
torch (not typing's or functools' names re-exported there), and callable (functions, classes)
except on torch.Tensor, whose properties count too; for the top-level `torch`, functions only
(lowercase names: its hundreds of JIT and storage classes are not what training scripts call). Writes a Markdown table: the fraction per namespace, then every
missing name.

    python benchmarks/torch_coverage.py                    # -> benchmarks/results/coverage.md
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import markdown_table, write_markdown  # noqa: E402

NAMESPACES = [
    ("torch", "tinygen"),
    ("torch.Tensor", "tinygen.Tensor"),
    ("torch.nn", "tinygen.nn"),
    ("torch.nn.functional", "tinygen.nn.functional"),
    ("torch.nn.init", "tinygen.nn.init"),
    ("torch.nn.utils", "tinygen.nn.utils"),
    ("torch.optim", "tinygen.optim"),
    ("torch.optim.lr_scheduler", "tinygen.optim.lr_scheduler"),
    ("torch.utils.data", "tinygen.data"),
    ("torch.autograd", "tinygen.autograd"),
    ("torch.distributions", "tinygen.distributions"),
]


def resolve(path):
    """The object at a dotted path (a module, or a class inside one), or None."""
    import importlib
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def public_names(obj, namespace):
    names = []
    for name in dir(obj):
        value = getattr(obj, name, None)
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if namespace != "torch.Tensor":
            if not callable(value):
                continue
            if not str(getattr(value, "__module__", None) or "torch").startswith("torch"):
                continue
        if namespace == "torch" and not name[0].islower():
            continue
        names.append(name)
    return sorted(names)


def inventory():
    rows = []
    for torch_path, tg_path in NAMESPACES:
        theirs = resolve(torch_path)
        ours = resolve(tg_path)
        names = public_names(theirs, torch_path)
        have = [n for n in names if ours is not None and hasattr(ours, n)]
        rows.append((torch_path, tg_path, names, have))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                 "coverage.md"))
    args = p.parse_args(argv)
    import torch
    rows = inventory()
    table = [(f"`{torch_path}`", f"`{tg_path}`", len(have), len(names),
              f"{len(have) / max(len(names), 1):.0%}")
             for torch_path, tg_path, names, have in rows]
    notes = [f"PyTorch {torch.__version__}. A name counts as present when the tinygen namespace "
             "has an attribute of that name; its behaviour is checked by the parity tests.", ""]
    for torch_path, _, names, have in rows:
        missing = [n for n in names if n not in set(have)]
        notes += [f"### `{torch_path}`: {len(missing)} missing", "",
                  ", ".join(f"`{n}`" for n in missing) if missing else "(none)", ""]
    write_markdown(args.out, "PyTorch's public names in tinygen",
                   ["PyTorch namespace", "tinygen", "present", "of", "coverage"], table,
                   "\n".join(notes), ["python", "benchmarks/torch_coverage.py"] + list(argv or []))
    print(markdown_table(["PyTorch namespace", "tinygen", "present", "of", "coverage"], table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
