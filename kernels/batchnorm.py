"""Batch normalisation with batch statistics (training mode), forward and backward.

  batchnorm_fwd(x (N, C, S), w (C,) | None, b (C,) | None, eps)
      -> (y (N, C, S), mean (C,), var (C,))
      per channel over (N, S): y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps),
      var the biased variance (what PyTorch normalises with; the caller makes the unbiased one
      for the running statistics)
  batchnorm_bwd(gy (N, C, S), x, w | None, mean, rstd) -> (gx, gw (C,), gb (C,))
      xhat = (x - mean) * rstd
      gx = rstd * w * (gy - mean(gy) - xhat * mean(gy * xhat)),  means over (N, S)
      gw = sum gy * xhat,  gb = sum gy

S is the product of the spatial sizes (1 for BatchNorm1d on (N, C)); the op layer reshapes.
mean and var keep x's dtype. w = None means w = 1 and b = None means b = 0; gw and gb are always
returned (the caller drops what it does not need).

Versions (CPU):
  numba_v1  the channels in ranges over threads (_threads.kernel_over_ranges: one thread
            below its threshold of work at _NS_PER_ELEMENT); forward: two passes for
            the statistics (mean, then squared deviations: no cancellation), each row summed
            in x's dtype and the rows in float64 (see _ROW_MIN), one pass for the output;
            backward: one pass for both sums, one for gx. The composition of Tensor ops it
            replaces made about 8 passes forward and 15 backward, each allocating its result
                                                                             <- default
"""
from __future__ import annotations

import math

import numpy as np

from ._numba import contiguous_grad, is_cpu_float, jit, jit_serial, numba_kernel, piece, prange
from ._threads import kernel_over_ranges
from ._xp import array_module
from .registry import reference


# ---------------------------------------------------------------- examples
def _shape(which):
    return (64, 64, 196) if which == "bench" else (5, 3, 7)


def _example_fwd(rng, which):
    shape = _shape(which)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype("float32")
    w = rng.standard_normal(shape[1]).astype("float32")
    b = rng.standard_normal(shape[1]).astype("float32")
    return (x, w, b, 1e-5), {}


def _example_bwd(rng, which):
    (x, w, b, eps), _ = _example_fwd(rng, which)
    _, mean, var = batchnorm_fwd(x, w, b, eps)
    gy = rng.standard_normal(x.shape).astype("float32")
    return (gy, x, w, mean, (1 / np.sqrt(var + eps)).astype(x.dtype)), {}


# ---------------------------------------------------------------- references
@reference("batchnorm_fwd", example=_example_fwd, rtol=1e-4, atol=1e-5)
def batchnorm_fwd(x, w, b, eps):
    """Batch norm with the batch's statistics. x (N, C, S), w, b (C,) or None
    -> (y (N, C, S), mean (C,), var (C,)).

    batchnorm_fwd(array([[[1.]], [[3.]]]), None, None, 0.0) gives y [[[-1]], [[1]]], mean [2],
    var [1]."""
    xp = array_module(x)
    mean = x.mean(axis=(0, 2))
    xc = x - mean[:, None]
    var = (xc * xc).mean(axis=(0, 2))
    y = xc * (1 / xp.sqrt(var + x.dtype.type(eps)))[:, None]
    if w is not None:
        y = y * w[:, None]
    if b is not None:
        y = y + b[:, None]
    return y.astype(x.dtype), mean, var


@reference("batchnorm_bwd", example=_example_bwd, rtol=1e-4, atol=1e-4)
def batchnorm_bwd(gy, x, w, mean, rstd):
    """Gradients of batchnorm_fwd. gy, x (N, C, S), w (C,) or None, mean, rstd (C,)
    -> (gx (N, C, S), gw (C,), gb (C,))."""
    xhat = (x - mean[:, None]) * rstd[:, None]
    gb = gy.sum(axis=(0, 2))
    gw = (gy * xhat).sum(axis=(0, 2))
    count = x.shape[0] * x.shape[2]
    scale = rstd if w is None else rstd * w
    gx = scale[:, None] * (gy - (gb / count)[:, None] - xhat * (gw / count)[:, None])
    return gx.astype(x.dtype), gw.astype(x.dtype), gb.astype(x.dtype)


# ---------------------------------------------------------------- numba_v1
# A channel's values are N rows of S (one per image). Rows of at least _ROW_MIN are summed in
# x's dtype (LLVM splits the sum over its vector lanes) and the rows' sums added in float64;
# summing straight into one float64 ended every row with a horizontal reduction, and on the
# DCGAN's 7x7 maps (S = 49) that was most of the time (128 channels of 64 x 49, one thread,
# 2-core Xeon: 163 against 29 us). Shorter rows (BatchNorm1d: S = 1) accumulate element by
# element across images over a range of channels at once, a vector of float64 sums (S = 1, 512
# channels: 29 against 5 us). The elementwise passes run along the same contiguous range of
# channels with the per-channel factors spread per element, loops that vectorise however short S.
_ROW_MIN = 16


@jit_serial
def _sums(x, g, m, lo, hi, first, second):
    """Per channel c in lo:hi, in float64: first[c] = sum of u, second[c] = sum of v * u, where
    u = x - m[c] and v = g (g given) or u (g empty)."""
    N, C, S = x.shape
    with_g = g.shape[0] > 0
    if S >= _ROW_MIN:
        for c in range(lo, hi):
            mc = m[c]
            s1, s2 = 0.0, 0.0
            for n in range(N):
                row = x[n, c]
                a = b = x.dtype.type(0)
                if with_g:
                    grow = g[n, c]
                    for i in range(S):
                        a += grow[i]
                        b += grow[i] * (row[i] - mc)
                else:
                    for i in range(S):
                        d = row[i] - mc
                        a += d
                        b += d * d
                s1 += a
                s2 += b
            first[c], second[c] = s1, s2
        return
    x2 = x.reshape(N, C * S)
    g2 = g.reshape(g.shape[0], C * S)
    k0, k = lo * S, (hi - lo) * S
    M = np.empty(k, x.dtype)
    for c in range(lo, hi):
        M[(c - lo) * S:(c - lo + 1) * S] = m[c]
    acc1, acc2 = np.zeros(k), np.zeros(k)
    for n in range(N):
        row = x2[n, k0:k0 + k]
        if with_g:
            grow = g2[n, k0:k0 + k]
            for j in range(k):
                acc1[j] += grow[j]
                acc2[j] += grow[j] * (row[j] - M[j])
        else:
            for j in range(k):
                d = row[j] - M[j]
                acc1[j] += d
                acc2[j] += d * d
    for c in range(lo, hi):
        first[c] = acc1[(c - lo) * S:(c - lo + 1) * S].sum()
        second[c] = acc2[(c - lo) * S:(c - lo + 1) * S].sum()


@jit_serial
def _spread(v, lo, hi, S):
    """v[lo:hi], each value repeated S times."""
    out = np.empty((hi - lo) * S, v.dtype)
    for c in range(lo, hi):
        out[(c - lo) * S:(c - lo + 1) * S] = v[c]
    return out


@jit_serial
def _fwd_channels(lo, hi, x, w, b, eps, y, mean, var):
    N, C, S = x.shape
    count = N * S
    zeros = np.zeros(C, x.dtype)
    first, second = np.empty(C), np.empty(C)
    _sums(x, x[:0], zeros, lo, hi, first, second)         # sum x, then squared deviations
    for c in range(lo, hi):
        mean[c] = first[c] / count
    _sums(x, x[:0], mean, lo, hi, first, second)          # (no cancellation: two passes)
    scale, shift = np.empty(C, x.dtype), np.empty(C, x.dtype)
    for c in range(lo, hi):
        v = second[c] / count
        var[c] = v
        scale[c] = w[c] / math.sqrt(v + eps)
        shift[c] = b[c] - mean[c] * scale[c]
    sc, sh = _spread(scale, lo, hi, S), _spread(shift, lo, hi, S)
    x2, y2 = x.reshape(N, C * S), y.reshape(N, C * S)
    k0, k = lo * S, (hi - lo) * S
    for n in range(N):
        xr, yr = x2[n, k0:k0 + k], y2[n, k0:k0 + k]
        for j in range(k):
            yr[j] = xr[j] * sc[j] + sh[j]


@jit_serial
def _bwd_channels(lo, hi, gy, x, w, mean, rstd, gx, gw, gb):
    N, C, S = x.shape
    count = N * S
    first, second = np.empty(C), np.empty(C)
    _sums(x, gy, mean, lo, hi, first, second)     # sum gy, sum gy * (x - mean)
    ca, cb, cd = np.empty(C, x.dtype), np.empty(C, x.dtype), np.empty(C, x.dtype)
    for c in range(lo, hi):
        r = rstd[c]
        sum_gx = second[c] * r                    # sum of gy * xhat
        gb[c], gw[c] = first[c], sum_gx
        scale = w[c] * r
        # gx = scale * (gy - mean(gy) - (x - mean) * r * mean(gy * xhat))
        ca[c], cb[c], cd[c] = scale, -scale * r * (sum_gx / count), -scale * (first[c] / count)
    a, bb, d, m = (_spread(ca, lo, hi, S), _spread(cb, lo, hi, S), _spread(cd, lo, hi, S),
                   _spread(mean, lo, hi, S))
    x2, g2, gx2 = x.reshape(N, C * S), gy.reshape(N, C * S), gx.reshape(N, C * S)
    k0, k = lo * S, (hi - lo) * S
    for n in range(N):
        xr, gr, out = x2[n, k0:k0 + k], g2[n, k0:k0 + k], gx2[n, k0:k0 + k]
        for j in range(k):
            out[j] = a[j] * gr[j] + bb[j] * (xr[j] - m[j]) + d[j]


# the prange twins (_threads.kernel_over_ranges in one_pool()): ranges of channels
@jit
def _fwd_channels_parallel(n, pieces, x, w, b, eps, y, mean, var):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _fwd_channels(lo, hi, x, w, b, eps, y, mean, var)


@jit
def _bwd_channels_parallel(n, pieces, gy, x, w, mean, rstd, gx, gw, gb):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _bwd_channels(lo, hi, gy, x, w, mean, rstd, gx, gw, gb)


def _affine(v, n, fill, dtype):
    return np.full(n, fill, dtype) if v is None else v


# The loops' cost per float32 value on one thread (forward, backward), what the split decision
# weighs (_threads.parallel_work). Measured on the DCGAN's and CLIP's shapes (2-core Xeon VM):
# 0.3-0.8 and 0.5-0.8 ns. At the 1 ns assumed before, 64x6x576 split over two threads and took
# 144 and 185 us against 64 and 110 on one.
_NS_PER_ELEMENT = (0.5, 0.7)


@numba_kernel("batchnorm_fwd", impl="numba_v1", default=True)
def batchnorm_fwd_numba(x, w, b, eps):
    if x.ndim != 3 or x.size == 0 or not is_cpu_float(x):
        return NotImplemented
    C = x.shape[1]
    w, b = _affine(w, C, 1, x.dtype), _affine(b, C, 0, x.dtype)
    if w.shape != (C,) or b.shape != (C,) or not is_cpu_float(x, w, b):
        return NotImplemented
    y = np.empty_like(x)
    mean, var = np.empty(C, x.dtype), np.empty(C, x.dtype)
    eps = x.dtype.type(eps)
    kernel_over_ranges(_fwd_channels, (x, w, b, eps, y, mean, var), C, x.size,
                       _NS_PER_ELEMENT[0], _fwd_channels_parallel)
    return y, mean, var


@numba_kernel("batchnorm_bwd", impl="numba_v1", default=True)
def batchnorm_bwd_numba(gy, x, w, mean, rstd):
    gy = contiguous_grad(gy, x)
    if x.ndim != 3 or x.size == 0 or gy.shape != x.shape or not is_cpu_float(x):
        return NotImplemented
    C = x.shape[1]
    w = _affine(w, C, 1, x.dtype)
    if (w.shape != (C,) or mean.shape != (C,) or rstd.shape != (C,)
            or not is_cpu_float(x, gy, w, mean, rstd)):
        return NotImplemented
    gx = np.empty_like(x)
    gw, gb = np.empty(C, x.dtype), np.empty(C, x.dtype)
    kernel_over_ranges(_bwd_channels, (gy, x, w, mean, rstd, gx, gw, gb), C, x.size,
                       _NS_PER_ELEMENT[1], _bwd_channels_parallel)
    return gx, gw, gb
