"""Every numba.cuda kernel compiles to PTX for sm_90 as it would on a real GPU (the shuffle
reductions included), on a machine with no GPU: numba_ptx_check.py in a subprocess. Needs numba's
CUDA target and libNVVM (from a CUDA toolkit); skipped where libNVVM cannot be found."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _nvvm_available():
    try:
        from numba.cuda.cudadrv import nvvm
        nvvm.NVVM()
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _nvvm_available(), reason="libNVVM not found (no CUDA toolkit)")
def test_numba_cuda_kernels_compile_for_sm90():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, str(HERE / "numba_ptx_check.py")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    names = {line.split()[1].split("(")[0] for line in proc.stdout.splitlines()
             if line.startswith("compiled ")}
    assert {"softmax_rows", "softmax_bwd_rows", "cross_entropy_rows", "cross_entropy_bwd_rows",
            "layernorm_rows", "layernorm_bwd_rows", "scatter_add_rows", "gelu_erf",
            "gelu_erf_bwd", "gelu_tanh", "gelu_tanh_bwd", "silu", "silu_bwd",
            "adam_update"} <= names, proc.stdout
