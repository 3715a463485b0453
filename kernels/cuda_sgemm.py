"""The study SGEMM kernels of kernels/sgemm_tiled.cu, launched through CuPy and registered
against kernels/gemm.py's `sgemm(a, b)` (float32, row-major).

Versions (device="cuda"; see the .cu file for what each changes):
  cuda_c_v1  sgemm_naive      one thread per output, 32 x 8 threads per block
  cuda_c_v2  sgemm_smem       32 x 32 shared-memory tiles
  cuda_c_v3  sgemm_regblock   128 x 128 block tiles, 8 x 8 outputs per thread
cuBLAS (cupy.matmul, the reference on the GPU) stays the default of tinygen's 2-D float32 matmul
(ops/linalg.py's MatMul asks the table for "sgemm"); these kernels exist to be measured against
it (benchmarks/gpu_kernels.py), and a model runs on one after
`tinygen_kernels.registry.set_default("sgemm", "cuda", "cuda_c_v3")`.
"""
from __future__ import annotations

import math

import numpy as np

from . import cuda_build
from ._xp import array_module
from .gemm import check_sgemm
from .registry import kernel

CU_FILE = "sgemm_tiled.cu"


def _prepare(a, b):
    """(a, b, c, M, N, K) with contiguous inputs and an empty output, or None if not ours."""
    check_sgemm("sgemm", a, b)
    xp = array_module(a)
    if not cuda_build.on_device(a, b) or 0 in a.shape or b.shape[1] == 0:
        return None
    M, K = a.shape
    N = b.shape[1]
    return xp.ascontiguousarray(a), xp.ascontiguousarray(b), xp.empty((M, N), np.float32), M, N, K


def _run(name, grid, block, a, b):
    prepared = _prepare(a, b)
    if prepared is None:
        return NotImplemented
    a, b, c, M, N, K = prepared
    fn = cuda_build.function(CU_FILE, name)
    fn(grid(M, N), block, (a, b, c, np.int32(M), np.int32(N), np.int32(K)))
    return c


@kernel("sgemm", device="cuda", impl="cuda_c_v1")
def sgemm_naive(a, b):
    return _run("sgemm_naive", lambda M, N: (math.ceil(N / 32), math.ceil(M / 8)), (32, 8), a, b)


@kernel("sgemm", device="cuda", impl="cuda_c_v2")
def sgemm_smem(a, b):
    return _run("sgemm_smem", lambda M, N: (math.ceil(N / 32), math.ceil(M / 32)), (32, 32), a, b)


@kernel("sgemm", device="cuda", impl="cuda_c_v3")
def sgemm_regblock(a, b):
    return _run("sgemm_regblock", lambda M, N: (math.ceil(N / 128), math.ceil(M / 128)), (256,),
                a, b)
