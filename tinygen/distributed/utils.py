"""What a training loop needs around the collectives: who writes files, metrics averaged over
ranks, and starting N processes.

    if dist.utils.is_main_process():                  # rank 0 (or no process group): write
        save_checkpoint(...)
    metrics = dist.utils.average_metrics({"loss": loss.item()})     # the same on every rank
    dist.utils.launch(2, [sys.executable, "train.py"])  # mpiexec -n 2 python train.py

Each also works without a process group (one process), so a loop needs no `if distributed:`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from . import group as _group
from .group import INSTALL_HINT
from .work import ReduceOp


def is_main_process() -> bool:
    """True on rank 0, and in a process that has no process group: the one that writes files."""
    return not _group.is_initialized() or _group.get_rank() == 0


def average_metrics(metrics, count=None):
    """{name: float} averaged over ranks (one all-reduce for all of them), the same on every rank.

    count: this rank's number of samples behind its values, for a mean weighted by samples
    (ranks that evaluated different numbers of samples); None weighs ranks equally. Without a
    process group the metrics come back as floats, unchanged."""
    names = list(metrics)
    values = [float(metrics[k]) for k in names]
    if not _group.is_initialized():
        return dict(zip(names, values))
    pg = _group.default_group("average_metrics")
    weight = 1.0 if count is None else float(count)
    packed = pg.xp.asarray([v * weight for v in values] + [weight], dtype="float64")
    pg.backend_for(packed, "average_metrics").all_reduce(packed, ReduceOp.SUM,
                                                         "average_metrics").wait()
    packed = [float(v) for v in packed.tolist()]
    total = packed[-1]
    return {k: v / total for k, v in zip(names, packed[:-1])}


def find_mpiexec():
    """The mpiexec beside this Python (the MPICH wheel installs it into the environment's bin),
    else the first on PATH; None if there is none."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def launch_command(n, command):
    """The argv that runs `command` (a list) as n MPI processes."""
    if int(n) != n or n < 1:
        raise ValueError(f"launch: the number of processes must be a positive integer, got {n!r}")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise RuntimeError(f"launch: no mpiexec beside {sys.executable} or on PATH; "
                           f"{INSTALL_HINT}")
    return [mpiexec, "-n", str(int(n))] + list(command)


def launch(n, command, env=None, timeout=None):
    """Run `command` as n MPI processes, wait, and return the exit status (non-zero if any rank
    failed: an uncaught exception aborts the whole job). `tinygen launch -n N -- CMD` is this."""
    return subprocess.run(launch_command(n, command), env=env, timeout=timeout).returncode
