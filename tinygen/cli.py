"""The `tinygen` command line (also `python -m tinygen`).

    tinygen train vae                     # offline default data, about a minute on a laptop
    tinygen sample runs/vae -n 64 --out samples.npy
    tinygen eval runs/vae
    tinygen data download mnist --root ~/.cache/tinygen
    tinygen data list

Each command family lives beside the code it drives and adds its own subparser here; a handler
returns the process exit code.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .data.cli import add_data_parser
from .train.cli import add_train_parsers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygen", description="tinygen: a from-scratch deep-learning engine and small "
                                    "generative models, in PyTorch's dialect.")
    parser.add_argument("--version", action="version", version=f"tinygen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_parsers(sub)              # from the recipe names only: no model is imported
    add_data_parser(sub)
    b = sub.add_parser("bench", help="the benchmark suite against PyTorch (from a repo checkout)")
    b.add_argument("what", choices=["kernels", "models", "overhead"])
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("rest", nargs=argparse.REMAINDER, help="passed to the benchmark script")
    b.set_defaults(func=run_bench)
    return parser


def _benchmarks_dir():
    """benchmarks/ of the checkout: the current directory's, or beside an editable install."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in (os.getcwd(), here):
        path = os.path.join(root, "benchmarks")
        if os.path.isfile(os.path.join(path, "_report.py")):
            return path
    return None


def run_bench(args) -> int:
    folder = _benchmarks_dir()
    if folder is None:
        print("tinygen bench: error: run it from a checkout of the tinygen repository "
              "(no benchmarks/ folder here)", file=sys.stderr)
        return 1
    sys.path.insert(0, folder)
    script = {("kernels", "cpu"): "kernels", ("models", "cpu"): "models",
              ("overhead", "cpu"): "overhead", ("kernels", "cuda"): "gpu_kernels",
              ("models", "cuda"): "gpu_models"}.get((args.what, args.device))
    if script is None or not os.path.exists(os.path.join(folder, script + ".py")):
        print(f"tinygen bench: error: no benchmark for {args.what} on {args.device} "
              f"(benchmarks/{script}.py)", file=sys.stderr)
        return 1
    return int(importlib.import_module(script).main(list(args.rest)) or 0)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tinygen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
