"""The `tinygen` command line (also `python -m tinygen`).

    tinygen train vae                     # offline default data, about a minute on a laptop
    tinygen sample runs/vae -n 64 --out samples.npy
    tinygen eval runs/vae
    tinygen data download mnist --root ~/.cache/tinygen
    tinygen data list
    tinygen launch -n 2 -- tinygen train gpt   # data-parallel over MPI (mpiexec -n 2 ...)

Each command family lives beside the code it drives and adds its own subparser here; a handler
returns the process exit code.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .backend.memory import keep_freed_memory_unless_disabled
from .data import DataFormatError, DownloadError, MissingExtraError
from .data.cli import add_data_parser
from .distributed import is_mpi_available
from .distributed import utils as dist_utils
from .distributed.group import INSTALL_HINT
from .io import CheckpointError
from .train.cli import add_train_parsers
from .train.errors import RunError, UsageError

# what a user can cause or meet: one line on stderr, no traceback (exit 2 usage, 1 runtime)
USER_ERRORS = (UsageError, RunError, CheckpointError, DownloadError, DataFormatError,
               MissingExtraError, OSError, MemoryError)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line ends in one line: `tinygen CMD: error: ... (see
    tinygen CMD --help)`, exit status 2. Every subcommand's parser is one of these."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tinygen", description="tinygen: a from-scratch deep-learning engine and small "
                                    "generative models, in PyTorch's dialect.")
    parser.add_argument("--version", action="version", version=f"tinygen {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_parsers(sub)              # from the recipe names only: no model is imported
    add_data_parser(sub)
    b = sub.add_parser("bench", help="the benchmark suite against PyTorch (from a repo checkout)")
    b.add_argument("what", choices=["kernels", "models", "overhead", "peers", "runs", "threads"])
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("rest", nargs=argparse.REMAINDER, help="passed to the benchmark script")
    b.set_defaults(func=run_bench)
    _add_launch(sub)
    return parser


def _add_launch(sub):
    n_processes = _positive_int_or_error
    la = sub.add_parser("launch", help="run a command as N MPI processes (the environment's "
                                       "mpiexec), e.g. data-parallel training",
                        description="Run CMD as N processes under the mpiexec of this "
                                    "environment (pip install 'tinygen[distributed]'): "
                                    "tinygen launch -n 2 -- tinygen train gpt is "
                                    "mpiexec -n 2 tinygen train gpt.")
    la.add_argument("-n", "--nproc", type=n_processes, required=True, metavar="N",
                    help="number of processes")
    la.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...",
                    help="the command each process runs, after --")
    la.set_defaults(func=run_launch)


def _positive_int_or_error(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run_launch(args) -> int:
    """`tinygen launch -n N -- CMD...`: tinygen.distributed.utils.launch; CMD's exit status."""
    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("no command; put it after --, e.g. tinygen launch -n 2 -- "
                         "tinygen train gpt")
    if dist_utils.find_mpiexec() is None:
        raise RunError(f"no mpiexec beside {sys.executable} or on PATH; {INSTALL_HINT}")
    if not is_mpi_available():
        raise RunError(f"mpi4py is not installed in this environment (the ranks need it "
                       f"to join the process group); {INSTALL_HINT}")
    return dist_utils.launch(args.nproc, command)


def _benchmarks_dir():
    """benchmarks/ of the checkout: the current directory's, or beside an editable install."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in (os.getcwd(), here):
        path = os.path.join(root, "benchmarks")
        if os.path.isfile(os.path.join(path, "_report.py")):
            return path
    return None


def _device_from(rest, device):
    """`tinygen bench models --device cuda`: a --device after MODEL lands in the script's
    arguments (argparse's REMAINDER); take it back."""
    if "--device" in rest[:-1]:
        at = rest.index("--device")
        device = rest[at + 1]
        del rest[at:at + 2]
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device {device}: expected cpu or cuda")
    return device


def run_bench(args) -> int:
    args.rest = list(args.rest)
    args.device = _device_from(args.rest, args.device)
    folder = _benchmarks_dir()
    if folder is None:
        print("tinygen bench: error: run it from a checkout of the tinygen repository "
              "(no benchmarks/ folder here)", file=sys.stderr)
        return 1
    sys.path.insert(0, folder)
    script = {("kernels", "cpu"): "kernels", ("models", "cpu"): "models",
              ("overhead", "cpu"): "overhead", ("peers", "cpu"): "peers",
              ("runs", "cpu"): "runs", ("threads", "cpu"): "threads",
              ("kernels", "cuda"): "gpu_kernels",
              ("models", "cuda"): "gpu_models"}.get((args.what, args.device))
    if script is None or not os.path.exists(os.path.join(folder, script + ".py")):
        where = f" (benchmarks/{script}.py is missing)" if script else ""
        print(f"tinygen bench: error: no benchmark for {args.what} on {args.device}{where}",
              file=sys.stderr)
        return 1
    return int(importlib.import_module(script).main(list(args.rest)) or 0)


def main(argv=None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader of the output went away (`tinygen train --help | head`): no traceback, and
        # stdout on /dev/null so that the interpreter's last flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                   # --help, --version, or a bad command line
        return int(e.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    keep_freed_memory_unless_disabled()       # the command owns its process (backend/memory.py)
    try:
        return int(args.func(args) or 0)
    except SystemExit as e:                   # a benchmark script's own argparse, say
        return e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:
        print("tinygen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                   # an OSError, but not the user's: main's
        raise
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"tinygen {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return getattr(e, "exit_status", 1)


def _one_line(error):
    """An exception as one line: OSErrors name their file, other messages lose their newlines."""
    if isinstance(error, OSError) and error.filename and str(error.filename) not in str(error):
        text = f"{error.filename}: {error.strerror or error}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
