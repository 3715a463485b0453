"""LayerNorm over the last axis on the GPU (numba.cuda), against kernels/layernorm.py.

  layernorm_fwd(x (..., N), w (N,) | None, b (N,) | None, eps) -> (y, mean (...), rstd (...))
  layernorm_bwd(gy (..., N), x, w | None, mean, rstd) -> (gx (..., N), gw (N,), gb (N,))

Versions (device="cuda"):
  numba_cuda_v1  forward: one block per row (grid-stride over rows), three strided passes over
                 the row: sum (mean), sum of squared deviations (variance: no cancellation), then
                 the affine output. Backward: one block per chunk of rows; per row two block
                 sums (mean of wdy and of wdy * xhat) and gx; each thread owns columns
                 tid, tid + blockDim, ... and adds gy * xhat and gy into its block's partial row
                 of gw and gb (no atomics, no races); the (blocks, N) partials are summed by the
                 array library at the end. Arithmetic in float64.              <- default
  (next, for issue 9: the row cached in registers so that x is read once, float32 warp-level
  reductions, and a one-pass Welford mean and variance)
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

from ._xp import array_module
from .cuda_common import (block_reducers, flat_launch, float_inputs, numba_cuda, row_threads,
                          simulating, usable)
from .registry import kernel

cuda = None      # numba.cuda once _kernels() runs (a module global: see cuda_common)

_REDUCE_BUF = 256
_MAX_BLOCKS = 65535


@functools.cache
def _kernels():
    global cuda
    cuda = numba_cuda()
    block_sum = block_reducers(globals()).block_sum

    @cuda.jit
    def layernorm_rows(x, w, b, eps, y, mean, rstd):
        """x, y (M, N); w, b (N,); mean, rstd (M,)."""
        buf = cuda.shared.array(_REDUCE_BUF, dtype=np.float64)
        tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
        M, N = x.shape
        for row in range(cuda.blockIdx.x, M, cuda.gridDim.x):
            part = 0.0
            for j in range(tid, N, nthreads):
                part += x[row, j]
            mu = block_sum(buf, part) / N
            part = 0.0
            for j in range(tid, N, nthreads):
                d = x[row, j] - mu
                part += d * d
            r = 1.0 / math.sqrt(block_sum(buf, part) / N + eps)
            if tid == 0:
                mean[row] = mu
                rstd[row] = r
            for j in range(tid, N, nthreads):
                y[row, j] = (x[row, j] - mu) * r * w[j] + b[j]

    @cuda.jit
    def layernorm_bwd_rows(gy, x, w, mean, rstd, gx, gw_part, gb_part):
        """gx (M, N); gw_part, gb_part (blocks, N) zero-initialised partial sums."""
        buf = cuda.shared.array(_REDUCE_BUF, dtype=np.float64)
        tid, nthreads, blk = cuda.threadIdx.x, cuda.blockDim.x, cuda.blockIdx.x
        M, N = x.shape
        for row in range(blk, M, cuda.gridDim.x):
            mu, r = mean[row], rstd[row]
            part1 = 0.0                        # sum of wdy * xhat
            part2 = 0.0                        # sum of wdy
            for j in range(tid, N, nthreads):
                g = gy[row, j]
                xhat = (x[row, j] - mu) * r
                wdy = g * w[j]
                part1 += wdy * xhat
                part2 += wdy
                gw_part[blk, j] += g * xhat    # column j belongs to this thread alone
                gb_part[blk, j] += g
            c1 = block_sum(buf, part1) / N
            c2 = block_sum(buf, part2) / N
            for j in range(tid, N, nthreads):
                xhat = (x[row, j] - mu) * r
                gx[row, j] = (gy[row, j] * w[j] - c2 - xhat * c1) * r

    return SimpleNamespace(layernorm_rows=layernorm_rows, layernorm_bwd_rows=layernorm_bwd_rows)


def _affine(xp, v, n, fill, dtype):
    if v is None:
        return xp.full(n, fill, dtype)
    return xp.ascontiguousarray(v)


@kernel("layernorm_fwd", device="cuda", impl="numba_cuda_v1", default=True)
def layernorm_fwd_cuda(x, w, b, eps):
    if x.ndim == 0 or x.size == 0 or not usable(x, w, b):
        return NotImplemented
    xp = array_module(x)
    N = x.shape[-1]
    w = _affine(xp, w, N, 1, x.dtype)
    b = _affine(xp, b, N, 0, x.dtype)
    if w.shape != (N,) or b.shape != (N,) or not float_inputs(x, w, b):
        return NotImplemented
    x2 = xp.ascontiguousarray(x).reshape(-1, N)
    M = x2.shape[0]
    y = xp.empty_like(x2)
    mean = xp.empty(M, x.dtype)
    rstd = xp.empty(M, x.dtype)
    _kernels().layernorm_rows[min(M, _MAX_BLOCKS), row_threads(N)](
        x2, w, b, float(eps), y, mean, rstd)
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


@kernel("layernorm_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def layernorm_bwd_cuda(gy, x, w, mean, rstd):
    if x.ndim == 0 or x.size == 0 or gy.shape != x.shape or not usable(gy, x, w, mean, rstd):
        return NotImplemented
    xp = array_module(x)
    N = x.shape[-1]
    w = _affine(xp, w, N, 1, x.dtype)
    if (w.shape != (N,) or mean.shape != x.shape[:-1] or rstd.shape != x.shape[:-1]
            or not float_inputs(gy, x, w, mean, rstd)):
        return NotImplemented
    x2 = xp.ascontiguousarray(x).reshape(-1, N)
    M = x2.shape[0]
    # a few waves of blocks: enough parallelism, few partial rows to sum at the end
    blocks = min(M, 4 if simulating() else flat_launch(M * 32)[0])
    gx = xp.empty_like(x2)
    gw_part = xp.zeros((blocks, N), x.dtype)
    gb_part = xp.zeros((blocks, N), x.dtype)
    _kernels().layernorm_bwd_rows[blocks, row_threads(N)](
        xp.ascontiguousarray(gy).reshape(-1, N), x2, w, xp.ascontiguousarray(mean).reshape(-1),
        xp.ascontiguousarray(rstd).reshape(-1), gx, gw_part, gb_part)
    return gx.reshape(x.shape), gw_part.sum(axis=0), gb_part.sum(axis=0)
