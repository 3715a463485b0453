"""Embedding backward on the GPU (numba.cuda), against kernels/embedding.py.

  embedding_bwd(gy (..., D), indices (...) int, num_embeddings V, padding_idx=None) -> gw (V, D)
      gw[v] = sum of gy[n] over the positions n with indices[n] == v; gw[padding_idx] = 0

Versions (device="cuda"):
  numba_cuda_v1  one thread per element of gy (grid-stride), `atomicAdd` into gw[indices[n], d].
                 Consecutive threads take consecutive d, so a warp's atomics hit one row and
                 coalesce; rows of popular tokens serialise, which is what the atomics are for.
                 Out-of-range indices are counted in a device counter and raise IndexError
                 afterwards. The summation order varies run to run (float atomics), so results
                 match the reference to rounding, not bit for bit.                   <- default
  (next, for issue 9: sort the indices and let one warp own each distinct row, which is
  deterministic and atomic-free, as PyTorch's embedding_dense_backward does)
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from . import embedding as _ref
from ._xp import array_module
from .cuda_common import flat_launch, float_inputs, numba_cuda, usable
from .registry import kernel

cuda = None      # numba.cuda once _kernels() runs (a module global: see cuda_common)


@functools.cache
def _kernels():
    global cuda
    cuda = numba_cuda()

    @cuda.jit
    def scatter_add_rows(gy, indices, gw, bad):
        """gw[indices[n], d] += gy[n, d] for every (n, d); gy (N, D), indices (N,), gw (V, D)."""
        N, D = gy.shape
        V = gw.shape[0]
        start, step = cuda.grid(1), cuda.gridsize(1)
        for e in range(start, N * D, step):
            n, d = e // D, e % D
            v = indices[n]
            if v < 0 or v >= V:
                if d == 0:
                    cuda.atomic.add(bad, 0, 1)
                continue
            cuda.atomic.add(gw, (v, d), gy[n, d])

    return SimpleNamespace(scatter_add_rows=scatter_add_rows)


@kernel("embedding_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def embedding_bwd_cuda(gy, indices, num_embeddings, padding_idx=None):
    if (gy.ndim == 0 or not float_inputs(gy) or not usable(gy, indices)
            or indices.dtype.kind not in "iu" or gy.shape[:-1] != indices.shape):
        return NotImplemented
    xp = array_module(gy)
    pad = _ref._padding_row(padding_idx, num_embeddings)
    D = gy.shape[-1]
    gy2 = xp.ascontiguousarray(gy).reshape(-1, D)
    flat = xp.ascontiguousarray(indices.reshape(-1), dtype=np.int64)
    gw = xp.zeros((num_embeddings, D), gy.dtype)
    if flat.size == 0 or D == 0:
        return gw
    bad = xp.zeros(1, np.int32)
    _kernels().scatter_add_rows[flat_launch(gy2.size)](gy2, flat, gw, bad)
    if int(bad[0]):                          # one small device-to-host copy: errors are loud
        raise _ref._index_error(flat, num_embeddings)
    if pad >= 0:
        gw[pad] = 0
    return gw
