"""Embedding backward: scatter-add of output gradients into the rows of the weight gradient.

  embedding_bwd(gy (..., D), indices (...) int, num_embeddings V, padding_idx=None) -> gw (V, D)
      gw[v] = sum of gy[n] over the positions n with indices[n] == v; gw[padding_idx] = 0

No dense one-hot (V x N) is built. An index outside [0, V) raises IndexError; a negative
padding_idx counts from the end, as in PyTorch.

Versions (CPU):
  numba_v1  one prange over column blocks of D (one block per thread, at least 16 columns;
            below 32768 elements one serial loop);
            each block walks all N rows in order, so no two threads write the same element
            and the sums add in the same order as the reference's np.add.at      <- default
"""
from __future__ import annotations

import numpy as np

from ._numba import is_cpu_float, jit, jit_serial, numba_kernel, parallel_blocks, prange
from ._threads import numba_parallel
from ._xp import array_module
from .registry import reference


def _example(rng, which):
    N, D, V = (768, 128, 65) if which == "bench" else (23, 10, 7)
    gy = rng.standard_normal((N, D)).astype("float32")
    indices = rng.integers(0, V, size=N).astype("int64")
    return (gy, indices, V), {"padding_idx": 2 if which == "test" else None}


def _padding_row(padding_idx, num_embeddings):
    if padding_idx is None:
        return -1
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"embedding_bwd: padding_idx {padding_idx} outside "
                         f"[-{num_embeddings}, {num_embeddings})")
    return padding_idx % num_embeddings


def _index_error(indices, num_embeddings):
    xp = array_module(indices)
    bad = indices[(indices < 0) | (indices >= num_embeddings)]
    return IndexError(f"embedding: {bad.size} index(es) out of range for {num_embeddings} "
                      f"embeddings (expected 0 <= index < {num_embeddings}), "
                      f"got e.g. {int(xp.asarray(bad.reshape(-1)[0]))}")


def _check_shapes(gy, indices):
    if gy.ndim == 0 or gy.shape[:-1] != indices.shape:
        raise ValueError(f"embedding_bwd: expected gy of shape indices.shape + (D,), got gy "
                         f"{tuple(gy.shape)} and indices {tuple(indices.shape)}")


@reference("embedding_bwd", example=_example, rtol=1e-6, atol=1e-6)
def embedding_bwd(gy, indices, num_embeddings, padding_idx=None):
    """Weight gradient of an embedding lookup. gy (..., D), indices (...) -> gw (V, D).

    embedding_bwd(ones((3, 2)), array([1, 1, 0]), 3) gives [[1, 1], [2, 2], [0, 0]]."""
    xp = array_module(gy)
    _check_shapes(gy, indices)
    pad = _padding_row(padding_idx, num_embeddings)
    D = gy.shape[-1]
    flat = indices.reshape(-1)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= num_embeddings):
        raise _index_error(flat, num_embeddings)
    gw = xp.zeros((num_embeddings, D), dtype=gy.dtype)
    xp.add.at(gw, flat, gy.reshape(-1, D))
    if pad >= 0:
        gw[pad] = 0
    return gw


@jit_serial
def _scatter_add(gy, indices, gw, lo, hi):
    """gw[indices[n], lo:hi] += gy[n, lo:hi] for every n in order; returns #bad indices."""
    V = gw.shape[0]
    bad = 0
    for n in range(gy.shape[0]):
        v = indices[n]
        if v < 0 or v >= V:
            bad += 1
            continue
        src, dst = gy[n], gw[v]
        for j in range(lo, hi):
            dst[j] += src[j]
    return bad


@jit
def _scatter_add_columns(gy, indices, gw, blocks):
    """_scatter_add over `blocks` column blocks in parallel."""
    D = gy.shape[1]
    bad = 0
    for blk in prange(blocks):
        bad += _scatter_add(gy, indices, gw, blk * D // blocks, (blk + 1) * D // blocks)
    return bad


@numba_kernel("embedding_bwd", impl="numba_v1", default=True)
def embedding_bwd_numba(gy, indices, num_embeddings, padding_idx=None):
    if (gy.ndim == 0 or not is_cpu_float(gy) or type(indices) is not np.ndarray
            or indices.dtype.kind not in "iu" or gy.shape[:-1] != indices.shape):
        return NotImplemented
    pad = _padding_row(padding_idx, num_embeddings)
    D = gy.shape[-1]
    gy2 = gy.reshape(-1, D)
    flat = np.ascontiguousarray(indices.reshape(-1), dtype=np.int64)
    gw = np.zeros((num_embeddings, D), gy.dtype)
    if flat.size == 0 or D == 0:
        return gw
    blocks = min(parallel_blocks(*gy2.shape), D // 16)      # at least 16 columns a block
    if blocks >= 2:
        bad = numba_parallel(_scatter_add_columns,
                             lambda g, f, out, _blocks: _scatter_add(g, f, out, 0, D),
                             gy2, flat, gw, blocks)
    else:
        bad = _scatter_add(gy2, flat, gw, 0, D)
    if bad:
        raise _index_error(flat, num_embeddings)
    if pad >= 0:
        gw[pad] = 0
    return gw
