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
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygen", description="tinygen: a from-scratch deep-learning engine and small "
                                    "generative models, in PyTorch's dialect.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"tinygen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from .train.cli import add_train_parsers
    add_train_parsers(sub)
    from .data.cli import add_data_parser
    add_data_parser(sub)
    return parser


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
