"""Single-precision matrix product, the contract of the study GEMM kernels.

  sgemm(a (M, K) float32, b (K, N) float32) -> c (M, N) float32,  c = a @ b

The reference is the array library's matmul (BLAS on the CPU, cuBLAS through CuPy on the GPU),
which is also the anchor that kernels/sgemm_tiled.cu is measured against. Tolerance: float32
sums of K products in a different order differ by about sqrt(K) ulp of the largest partial sum,
so rtol 1e-4 with an atol scaled for K up to a few thousand.

Versions:
  reference      xp.matmul (BLAS / cuBLAS); NumPy's through _threads.matmul, which runs BLAS
                 on one thread and splits large products over tinygen's threads (see there)
  cuda cuda_c_v1..v3   kernels/sgemm_tiled.cu through kernels/cuda_sgemm.py (a study kernel:
                 naive, shared-memory tiles, register-blocked tiles; cuBLAS stays the default
                 for every real matmul in tinygen)
"""
from __future__ import annotations

import numpy as np

from ._threads import matmul as threaded_matmul
from ._xp import array_module
from .registry import reference


def _example(rng, which):
    M, K, N = (4096, 4096, 4096) if which == "bench" else (67, 45, 33)
    a = rng.standard_normal((M, K)).astype("float32")
    b = rng.standard_normal((K, N)).astype("float32")
    return (a, b), {}


def check_sgemm(op, a, b):
    """ValueError/TypeError naming the op unless a (M, K) and b (K, N) are float32 matrices."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"{op}: expected a (M, K) and b (K, N), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if a.dtype != "float32" or b.dtype != "float32":
        raise TypeError(f"{op}: expected float32 matrices, got {a.dtype} and {b.dtype}")


@reference("sgemm", example=_example, rtol=1e-4, atol=1e-3)
def sgemm(a, b):
    """c = a @ b for float32 matrices a (M, K), b (K, N) -> (M, N).

    sgemm(eye(2, dtype=float32), b) gives b."""
    check_sgemm("sgemm", a, b)
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return threaded_matmul(a, b)
    return array_module(a).matmul(a, b)
