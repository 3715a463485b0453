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
  numba_v1  the channels in ranges over tinygen's threads (_threads.over_ranges; below 32768
            elements no threads); forward: two passes for the statistics (mean, then squared
            deviations: no cancellation) accumulated in float64, one for the output; backward:
            one pass for both sums, one for gx. The composition of Tensor ops it replaces made
            about 8 passes forward and 15 backward, each allocating its result       <- default
"""
from __future__ import annotations

import math

import numpy as np

from ._numba import contiguous_grad, is_cpu_float, jit_serial, numba_kernel
from ._threads import over_ranges
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
@jit_serial
def _fwd_channels(x, w, b, eps, y, mean, var, lo, hi):
    N, C, S = x.shape
    count = N * S
    for c in range(lo, hi):
        total = 0.0                                   # float64 accumulators
        for n in range(N):
            for i in range(S):
                total += x[n, c, i]
        m = total / count
        squares = 0.0
        for n in range(N):
            for i in range(S):
                d = x[n, c, i] - m
                squares += d * d
        v = squares / count
        scale = w[c] / math.sqrt(v + eps)
        shift = b[c] - m * scale
        for n in range(N):
            for i in range(S):
                y[n, c, i] = x[n, c, i] * scale + shift
        mean[c] = m
        var[c] = v


@jit_serial
def _bwd_channels(gy, x, w, mean, rstd, gx, gw, gb, lo, hi):
    N, C, S = x.shape
    count = N * S
    for c in range(lo, hi):
        m, r = mean[c], rstd[c]
        sum_g = 0.0
        sum_gx = 0.0
        for n in range(N):
            for i in range(S):
                g = gy[n, c, i]
                sum_g += g
                sum_gx += g * (x[n, c, i] - m)
        sum_gx *= r                                   # sum of gy * xhat
        gb[c] = sum_g
        gw[c] = sum_gx
        scale = w[c] * r
        a, q = sum_g / count, sum_gx / count
        for n in range(N):
            for i in range(S):
                gx[n, c, i] = scale * (gy[n, c, i] - a - (x[n, c, i] - m) * r * q)


def _affine(v, n, fill, dtype):
    return np.full(n, fill, dtype) if v is None else v


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
    over_ranges(lambda lo, hi: _fwd_channels(x, w, b, eps, y, mean, var, lo, hi), C, x.size)
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
    over_ranges(lambda lo, hi: _bwd_channels(gy, x, w, mean, rstd, gx, gw, gb, lo, hi), C,
                x.size)
    return gx, gw, gb
