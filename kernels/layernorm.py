"""Layer normalisation over the last axis, forward and backward.

  layernorm_fwd(x (..., N), w (N,) | None, b (N,) | None, eps)
      -> (y (..., N), mean (...), rstd (...))
      y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps), var the biased variance
  layernorm_bwd(gy (..., N), x, w | None, mean, rstd) -> (gx (..., N), gw (N,), gb (N,))
      xhat = (x - mean) * rstd,  wdy = gy * w
      gx = rstd * (wdy - mean(wdy) - xhat * mean(wdy * xhat))
      gw = sum over rows of gy * xhat,  gb = sum over rows of gy

mean and rstd keep x's dtype (as PyTorch's CPU layer_norm does). w = None means w = 1; gw and gb
are always returned (the caller drops what it does not need).

Versions (CPU):
  numba_v1  forward: rows in one range per thread (_threads.kernel_over_ranges: numba's pool
            in one_pool(), else tinygen's threads, none for small inputs), two passes per row
            (mean, then variance: no cancellation), then the affine output         <- default
            backward: blocks of BWD_BLOCK_ROWS rows, in ranges the same way; each computes gx
            for its rows and its own partial gw, gb; the partials are summed in block order
"""
from __future__ import annotations

import numpy as np

from ._numba import contiguous_grad, is_cpu_float, jit, jit_serial, numba_kernel, piece, prange
from ._threads import kernel_over_ranges
from ._xp import array_module
from .registry import reference


# ---------------------------------------------------------------- examples
def _shape(which):
    return (4096, 768) if which == "bench" else (7, 33)


def _example_fwd(rng, which):
    M, N = _shape(which)
    x = (rng.standard_normal((M, N)) * 2 + 0.5).astype("float32")
    w = rng.standard_normal(N).astype("float32")
    b = rng.standard_normal(N).astype("float32")
    return (x, w, b, 1e-5), {}


def _example_bwd(rng, which):
    (x, w, b, eps), _ = _example_fwd(rng, which)
    _, mean, rstd = layernorm_fwd(x, w, b, eps)
    gy = rng.standard_normal(x.shape).astype("float32")
    return (gy, x, w, mean, rstd), {}


# ---------------------------------------------------------------- references
@reference("layernorm_fwd", example=_example_fwd, rtol=1e-4, atol=1e-5)
def layernorm_fwd(x, w, b, eps):
    """LayerNorm over the last axis. x (..., N), w, b (N,) or None -> (y, mean (...), rstd (...)).

    layernorm_fwd(array([[1., 3.]]), None, None, 0.0) gives y [[-1, 1]], mean [2], rstd [1]."""
    xp = array_module(x)
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True)
    rstd = 1 / xp.sqrt(var + x.dtype.type(eps))
    y = xc * rstd
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y.astype(x.dtype), mean[..., 0], rstd[..., 0]


@reference("layernorm_bwd", example=_example_bwd, rtol=1e-4, atol=1e-4)
def layernorm_bwd(gy, x, w, mean, rstd):
    """Gradients of layernorm_fwd. gy, x (..., N), w (N,) or None, mean, rstd (...)
    -> (gx (..., N), gw (N,), gb (N,))."""
    N = x.shape[-1]
    xhat = (x - mean[..., None]) * rstd[..., None]
    wdy = gy if w is None else gy * w
    c1 = (wdy * xhat).mean(axis=-1, keepdims=True)
    c2 = wdy.mean(axis=-1, keepdims=True)
    gx = (wdy - c2 - xhat * c1) * rstd[..., None]
    lead = tuple(range(x.ndim - 1))           # (reshape(-1, N) is ambiguous for N = 0)
    gw = (gy * xhat).sum(axis=lead)
    gb = gy.sum(axis=lead)
    return gx.astype(x.dtype), gw.astype(x.dtype), gb.astype(x.dtype)


# ---------------------------------------------------------------- numba_v1
@jit_serial
def _layernorm_block(x, w, b, eps, y, mean, rstd):
    """Forward over a block of rows: x, y (rows, N), mean, rstd (rows,)."""
    M, N = x.shape
    zero, one = x.dtype.type(0), x.dtype.type(1)
    inv_n = one / x.dtype.type(N)       # typed scalars: float32 stays float32
    for i in range(M):
        row, out = x[i], y[i]
        s = zero
        for j in range(N):
            s += row[j]
        mu = s * inv_n
        ss = zero
        for j in range(N):
            d = row[j] - mu
            ss += d * d
        r = one / np.sqrt(ss * inv_n + eps)
        mean[i] = mu
        rstd[i] = r
        for j in range(N):
            out[j] = (row[j] - mu) * r * w[j] + b[j]


@jit_serial
def _layernorm_bwd_block(gy, x, w, mean, rstd, gx, gw_acc, gb_acc):
    """gx for a block of rows; gw_acc, gb_acc (N,) set to the sums over the block's rows."""
    M, N = x.shape
    zero = x.dtype.type(0)
    inv_n = x.dtype.type(1) / x.dtype.type(N)
    for j in range(N):
        gw_acc[j] = zero
        gb_acc[j] = zero
    for i in range(M):
        xr, gr, out = x[i], gy[i], gx[i]
        mu, r = mean[i], rstd[i]
        c1 = zero                       # sum of wdy * xhat
        c2 = zero                       # sum of wdy
        for j in range(N):
            xhat = (xr[j] - mu) * r
            wdy = gr[j] * w[j]
            c1 += wdy * xhat
            c2 += wdy
            gw_acc[j] += gr[j] * xhat
            gb_acc[j] += gr[j]
        c1 *= inv_n
        c2 *= inv_n
        for j in range(N):
            xhat = (xr[j] - mu) * r
            out[j] = (gr[j] * w[j] - c2 - xhat * c1) * r


@jit_serial
def _fwd_rows(lo, hi, x, w, b, eps, y, mean, rstd):
    _layernorm_block(x[lo:hi], w, b, eps, y[lo:hi], mean[lo:hi], rstd[lo:hi])


# rows a block of the backward: each block sums its own gw, gb, and the blocks' sums are added
# in block order, so the result does not depend on how many threads ran them
BWD_BLOCK_ROWS = 64


@jit_serial
def _bwd_blocks(lo, hi, gy, x, w, mean, rstd, gx, gw_parts, gb_parts):
    for k in range(lo, hi):
        a, z = k * BWD_BLOCK_ROWS, min(x.shape[0], (k + 1) * BWD_BLOCK_ROWS)
        _layernorm_bwd_block(gy[a:z], x[a:z], w, mean[a:z], rstd[a:z], gx[a:z], gw_parts[k],
                             gb_parts[k])


@jit
def _fwd_rows_parallel(n, pieces, x, w, b, eps, y, mean, rstd):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _fwd_rows(lo, hi, x, w, b, eps, y, mean, rstd)


@jit
def _bwd_blocks_parallel(n, pieces, gy, x, w, mean, rstd, gx, gw_parts, gb_parts):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _bwd_blocks(lo, hi, gy, x, w, mean, rstd, gx, gw_parts, gb_parts)


def _by_rows(kernel, parallel, args, ranges, rows, cols):
    """kernel(lo, hi, *args) over [0, ranges) in ranges over threads (_threads.
    kernel_over_ranges; parallel its prange twin) for a (rows, cols) array: about 0.3 ns an
    element forward, 0.4 backward, float32 on one thread."""
    kernel_over_ranges(kernel, args, ranges, rows * cols, 0.35, parallel)


def _affine(v, n, fill, dtype):
    if v is None:
        return np.full(n, fill, dtype)
    return v


@numba_kernel("layernorm_fwd", impl="numba_v1", default=True)
def layernorm_fwd_numba(x, w, b, eps):
    if x.ndim == 0 or x.size == 0 or not is_cpu_float(x):
        return NotImplemented
    N = x.shape[-1]
    w = _affine(w, N, 1, x.dtype)
    b = _affine(b, N, 0, x.dtype)
    if w.shape != (N,) or b.shape != (N,) or not is_cpu_float(x, w, b):
        return NotImplemented
    x2 = x.reshape(-1, N)
    y = np.empty_like(x)
    mean = np.empty(x.shape[:-1], x.dtype)
    rstd = np.empty(x.shape[:-1], x.dtype)
    eps, y2, m1, r1 = x.dtype.type(eps), y.reshape(x2.shape), mean.reshape(-1), rstd.reshape(-1)
    _by_rows(_fwd_rows, _fwd_rows_parallel, (x2, w, b, eps, y2, m1, r1), x2.shape[0],
             *x2.shape)
    return y, mean, rstd


@numba_kernel("layernorm_bwd", impl="numba_v1", default=True)
def layernorm_bwd_numba(gy, x, w, mean, rstd):
    gy = contiguous_grad(gy, x)
    if x.ndim == 0 or x.size == 0 or gy.shape != x.shape or not is_cpu_float(x):
        return NotImplemented
    N = x.shape[-1]
    w = _affine(w, N, 1, x.dtype)
    if (w.shape != (N,) or mean.shape != x.shape[:-1] or rstd.shape != x.shape[:-1]
            or not is_cpu_float(x, gy, w, mean, rstd)):
        return NotImplemented
    x2 = x.reshape(-1, N)
    gx = np.empty_like(x)
    gy2, gx2 = gy.reshape(x2.shape), gx.reshape(x2.shape)
    m1, r1 = mean.reshape(-1), rstd.reshape(-1)

    blocks = -(-x2.shape[0] // BWD_BLOCK_ROWS)
    gw_parts, gb_parts = np.empty((2, blocks, N), x.dtype)
    _by_rows(_bwd_blocks, _bwd_blocks_parallel, (gy2, x2, w, m1, r1, gx2, gw_parts, gb_parts),
             blocks, *x2.shape)
    gw, gb = gw_parts.sum(axis=0), gb_parts.sum(axis=0)      # in block order
    return gx, gw, gb
