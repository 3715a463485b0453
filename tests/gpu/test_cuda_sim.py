"""Runs sim_cases.py (every numba.cuda kernel against its reference, on tiny shapes) in a fresh
Python with NUMBA_ENABLE_CUDASIM=1: the simulator is chosen when numba.cuda is first imported,
so it cannot be switched on inside this process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_numba_cuda_kernels_under_the_simulator():
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", "-x",
           str(HERE / "sim_cases.py")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=HERE.parent.parent,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]
