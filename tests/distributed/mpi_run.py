"""Launching MPI jobs from tests: `run_mpi` (with a timeout: a hang fails the test and the job's
processes are killed) and `needs_mpi` (skips cleanly where mpi4py or mpiexec is missing:
pip install 'tinygen[distributed]')."""
import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from tinygen.distributed.utils import find_mpiexec, launch_command

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ONE_THREAD = dict(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                  NUMBA_NUM_THREADS="1")

needs_mpi = pytest.mark.skipif(
    find_mpiexec() is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpi4py and mpiexec: pip install 'tinygen[distributed]'")


def run_mpi(n, args, timeout, cwd=ROOT, **env):
    """sys.executable + args as n MPI processes (one thread each); (exit status, output).
    n = None: one plain process, no mpiexec (the single-process reference of a test)."""
    env = dict(os.environ, **ONE_THREAD, **env)
    command = [sys.executable] + args
    if n is not None:
        command = launch_command(n, command)
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)       # its own group: killed whole on a hang
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(command[:3])} did not finish within {timeout} s (a rank "
                    f"hangs?):\n{out[-6000:]}")
    return proc.returncode, out
