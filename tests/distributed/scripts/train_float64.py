"""`tinygen train ...` (tinygen.cli.main, arguments as on the command line) in float64, for the
data-parallel tests of the command line (tests/distributed/test_train_mpi.py). Under mpiexec the
workbench trains data-parallel; without it, as one process.

Environment variables:
  TINYGEN_TEST_CTRL_C=R:S   rank R alone gets a Ctrl-C (SIGINT) during its step S; every rank
                            must stop after that step, checkpoint and exit with 130
  TINYGEN_TEST_FAIL=R:S     rank R alone raises a RuntimeError in its step S (the job must end)
  TINYGEN_TEST_WRITES=DIR   each rank records what it writes, renames, creates or removes under
                            the run folder (--out), seen by a Python audit hook, into
                            DIR/writes-rank<r>.json at exit
"""
import atexit
import json
import os
import signal
import sys

import tinygen as tg
from tinygen.cli import main
from tinygen.train.recipes.text import GPTRecipe

RANK = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def interrupt_at(rank, step):
    original = GPTRecipe.train_step

    def train_step(self, batch, at):
        if RANK == rank and at == step:
            os.kill(os.getpid(), signal.SIGINT)        # arrives in the middle of this step
        return original(self, batch, at)

    GPTRecipe.train_step = train_step


def fail_at(rank, step):
    original = GPTRecipe.train_step

    def train_step(self, batch, at):
        if RANK == rank and at == step:
            raise RuntimeError(f"deliberate failure on rank {rank} at step {step}")
        return original(self, batch, at)

    GPTRecipe.train_step = train_step


def record_writes(folder, report):
    """An audit hook that notes every change under `folder` (reads are not changes)."""
    folder = os.path.realpath(folder)
    seen = []

    def inside(path):
        if isinstance(path, int) or path is None:
            return False
        path = os.path.realpath(os.fsdecode(path))
        return path == folder or path.startswith(folder + os.sep)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writes = (any(c in mode for c in "wax+") if isinstance(mode, str)
                      else bool(flags & WRITE_FLAGS))
            if writes and inside(path):
                seen.append([event, os.fsdecode(path)])
        elif event in ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate",
                       "shutil.rmtree", "shutil.move", "os.unlink"):
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
            if any(inside(p) for p in paths):
                seen.append([event] + [os.fsdecode(p) for p in paths])

    def save():
        with open(os.path.join(report, f"writes-rank{RANK}.json"), "w") as f:
            json.dump(seen, f)

    sys.addaudithook(hook)
    atexit.register(save)


if __name__ == "__main__":
    tg.set_default_dtype(tg.float64)
    argv = sys.argv[1:]
    if os.environ.get("TINYGEN_TEST_CTRL_C"):
        rank, step = map(int, os.environ["TINYGEN_TEST_CTRL_C"].split(":"))
        interrupt_at(rank, step)
    if os.environ.get("TINYGEN_TEST_FAIL"):
        rank, step = map(int, os.environ["TINYGEN_TEST_FAIL"].split(":"))
        fail_at(rank, step)
    if os.environ.get("TINYGEN_TEST_WRITES"):
        record_writes(argv[argv.index("--out") + 1], os.environ["TINYGEN_TEST_WRITES"])
    sys.exit(main(argv))
