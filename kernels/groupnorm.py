"""Group normalisation (Wu & He 2018), forward and backward, with the per-channel affine fused in.

  groupnorm_fwd(x (N, G, Cg, S), w (C,) | None, b (C,) | None, eps)
      -> (y (N, G, Cg, S), mean (N, G), rstd (N, G))
      per sample and group over (Cg, S): y = (x - mean) * rstd * w[c] + b[c],
      rstd = 1 / sqrt(var + eps) with the biased variance, c = g * Cg + channel
  groupnorm_bwd(gy (N, G, Cg, S), x, w | None, mean, rstd) -> (gx, gw (C,), gb (C,))
      xhat = (x - mean) * rstd,  wdy = w[c] * gy
      gx = rstd * (wdy - mean(wdy) - xhat * mean(wdy * xhat)),  means over (Cg, S)
      gw = sum over (N, S) of gy * xhat,  gb = sum over (N, S) of gy

C = G * Cg channels, S the product of the spatial sizes; the op layer (tinygen/ops/norm.py)
reshapes (N, C, *) to (N, G, Cg, S). mean and rstd keep x's dtype. w = None means w = 1 and
b = None means b = 0; gw and gb are always returned (the caller drops what it does not need).

Why a family of its own: group norm used to be the batch-norm kernel on (1, N * G, Cg * S), which
has no per-channel affine, then a multiply and an add by (1, C, 1, 1) vectors: two more passes
over the activations forward, and backward two products, two broadcast sums and their temporaries
(the diffusion U-Net runs 18 group norms per step, most on 64 x 32 x 28 x 28).

Versions (CPU):
  numba_v1  the (sample, group) blocks in ranges over threads (_threads.kernel_over_ranges);
            forward: the statistics in two passes (mean, then squared deviations) summed in
            float32 runs added in float64 (_RUN), one pass for the output with the affine;
            backward: one pass for the block's two sums and each channel's share of gw and gb
            (written to an (N, C) table, so no two blocks write the same element, and summed
            over N after), one for gx                                            <- default
"""
from __future__ import annotations

import math

import numpy as np

from ._numba import contiguous_grad, is_cpu_float, jit, jit_serial, numba_kernel, piece, prange
from .batchnorm import _affine  # w = None -> ones, b = None -> zeros, as batch norm's
from ._threads import kernel_over_ranges
from ._xp import array_module
from .registry import reference


# ---------------------------------------------------------------- examples
def _shape(which):
    return (64, 8, 4, 784) if which == "bench" else (3, 2, 3, 5)


def _example_fwd(rng, which):
    shape = _shape(which)
    C = shape[1] * shape[2]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype("float32")
    w = rng.standard_normal(C).astype("float32")
    b = rng.standard_normal(C).astype("float32")
    return (x, w, b, 1e-5), {}


def _example_bwd(rng, which):
    (x, w, b, eps), _ = _example_fwd(rng, which)
    _, mean, rstd = groupnorm_fwd(x, w, b, eps)
    gy = rng.standard_normal(x.shape).astype("float32")
    return (gy, x, w, mean, rstd), {}


# ---------------------------------------------------------------- references
def _per_channel(v, x):
    return v.reshape(1, x.shape[1], x.shape[2], 1)


@reference("groupnorm_fwd", example=_example_fwd, rtol=1e-4, atol=1e-5)
def groupnorm_fwd(x, w, b, eps):
    """Group norm. x (N, G, Cg, S), w, b (G * Cg,) or None -> (y, mean (N, G), rstd (N, G)).

    groupnorm_fwd(array([[[[1., 3.]]]]), None, None, 0.0) gives y [[[[-1, 1]]]], mean [[2]],
    rstd [[1]]."""
    xp = array_module(x)
    mean = x.mean(axis=(2, 3))
    xc = x - mean[:, :, None, None]
    rstd = 1 / xp.sqrt((xc * xc).mean(axis=(2, 3)) + x.dtype.type(eps))
    y = xc * rstd[:, :, None, None]
    if w is not None:
        y = y * _per_channel(w, x)
    if b is not None:
        y = y + _per_channel(b, x)
    return y.astype(x.dtype), mean.astype(x.dtype), rstd.astype(x.dtype)


@reference("groupnorm_bwd", example=_example_bwd, rtol=1e-4, atol=1e-4)
def groupnorm_bwd(gy, x, w, mean, rstd):
    """Gradients of groupnorm_fwd. gy, x (N, G, Cg, S), w (G * Cg,) or None, mean, rstd (N, G)
    -> (gx (N, G, Cg, S), gw (G * Cg,), gb (G * Cg,))."""
    r = rstd[:, :, None, None]
    xhat = (x - mean[:, :, None, None]) * r
    gb = gy.sum(axis=(0, 3)).reshape(-1)
    gw = (gy * xhat).sum(axis=(0, 3)).reshape(-1)
    wdy = gy if w is None else gy * _per_channel(w, x)
    gx = r * (wdy - wdy.mean(axis=(2, 3), keepdims=True)
              - xhat * (wdy * xhat).mean(axis=(2, 3), keepdims=True))
    return gx.astype(x.dtype), gw.astype(x.dtype), gb.astype(x.dtype)


# ---------------------------------------------------------------- numba_v1
# Sums run in float32 over runs of at most _RUN values and the runs add up in float64: a float64
# sum straight through is a chain of dependent adds per row of S values, each row ended by a
# horizontal reduction (the same loop in kernels/batchnorm.py: 163 against 29 us on 49-value rows).
_RUN = 2048


@jit_serial
def _run_sums(u, m):
    """(sum of u - m, sum of (u - m)^2) over the 1-D u, in float32 runs, float64 across."""
    s1, s2 = 0.0, 0.0
    for r0 in range(0, u.shape[0], _RUN):
        run = u[r0:r0 + _RUN]
        a = b = u.dtype.type(0)
        for i in range(run.shape[0]):
            d = run[i] - m
            a += d
            b += d * d
        s1 += a
        s2 += b
    return s1, s2


@jit_serial
def _fwd_blocks(lo, hi, x, w, b, eps, y, mean, rstd):
    N, G, Cg, S = x.shape
    count = Cg * S
    zero = x.dtype.type(0)
    for q in range(lo, hi):
        n, g = q // G, q % G
        block = x[n, g].reshape(count)
        m = _run_sums(block, zero)[0] / count
        squares = _run_sums(block, x.dtype.type(m))[1]        # two passes: no cancellation
        r = 1.0 / math.sqrt(squares / count + eps)
        for c in range(Cg):
            scale = w[g * Cg + c] * r
            shift = b[g * Cg + c] - m * scale
            for i in range(S):
                y[n, g, c, i] = x[n, g, c, i] * scale + shift
        mean[n, g] = m
        rstd[n, g] = r


@jit_serial
def _bwd_blocks(lo, hi, gy, x, w, mean, rstd, gx, gw_parts, gb_parts):
    N, G, Cg, S = x.shape
    count = Cg * S
    for q in range(lo, hi):
        n, g = q // G, q % G
        m, r = mean[n, g], rstd[n, g]
        sum_wdy = 0.0                                  # sums of w gy and w gy xhat over the block
        sum_wdy_xhat = 0.0
        for c in range(Cg):
            sum_g, sum_gx = 0.0, 0.0
            grow, xrow = gy[n, g, c], x[n, g, c]
            for r0 in range(0, S, _RUN):               # float32 runs, as _run_sums
                gr, xr = grow[r0:r0 + _RUN], xrow[r0:r0 + _RUN]
                a = v = x.dtype.type(0)
                for i in range(gr.shape[0]):
                    a += gr[i]
                    v += gr[i] * (xr[i] - m)
                sum_g += a
                sum_gx += v
            wc = w[g * Cg + c]
            gb_parts[n, g * Cg + c] = sum_g
            gw_parts[n, g * Cg + c] = sum_gx * r
            sum_wdy += wc * sum_g
            sum_wdy_xhat += wc * sum_gx * r
        a, k = sum_wdy / count, sum_wdy_xhat / count
        for c in range(Cg):
            wc = w[g * Cg + c]
            for i in range(S):
                gx[n, g, c, i] = r * (wc * gy[n, g, c, i] - a - (x[n, g, c, i] - m) * r * k)


# the prange twins (_threads.kernel_over_ranges in one_pool()): ranges of (sample, group) blocks
@jit
def _fwd_blocks_parallel(n, pieces, x, w, b, eps, y, mean, rstd):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _fwd_blocks(lo, hi, x, w, b, eps, y, mean, rstd)


@jit
def _bwd_blocks_parallel(n, pieces, gy, x, w, mean, rstd, gx, gw_parts, gb_parts):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _bwd_blocks(lo, hi, gy, x, w, mean, rstd, gx, gw_parts, gb_parts)


# The loops' cost per float32 value on one thread (forward, backward), what the split decision
# weighs (_threads.parallel_work). Measured on the U-Net's shapes (8 groups, 2-core Xeon VM):
# 0.34-0.43 and 0.54-0.66 ns. At the 1 ns assumed before, 64x64x7x7 split over two threads and
# took 163 and 210 us against 86 and 133 on one.
_NS_PER_ELEMENT = (0.4, 0.6)


@numba_kernel("groupnorm_fwd", impl="numba_v1", default=True)
def groupnorm_fwd_numba(x, w, b, eps):
    if x.ndim != 4 or x.size == 0 or not is_cpu_float(x):
        return NotImplemented
    N, G, Cg, _ = x.shape
    w, b = _affine(w, G * Cg, 1, x.dtype), _affine(b, G * Cg, 0, x.dtype)
    if w.shape != (G * Cg,) or b.shape != (G * Cg,) or not is_cpu_float(x, w, b):
        return NotImplemented
    y = np.empty_like(x)
    mean, rstd = np.empty((N, G), x.dtype), np.empty((N, G), x.dtype)
    eps = x.dtype.type(eps)
    kernel_over_ranges(_fwd_blocks, (x, w, b, eps, y, mean, rstd), N * G, x.size,
                       _NS_PER_ELEMENT[0], _fwd_blocks_parallel)
    return y, mean, rstd


@numba_kernel("groupnorm_bwd", impl="numba_v1", default=True)
def groupnorm_bwd_numba(gy, x, w, mean, rstd):
    gy = contiguous_grad(gy, x)
    if x.ndim != 4 or x.size == 0 or gy.shape != x.shape or not is_cpu_float(x):
        return NotImplemented
    N, G, Cg, _ = x.shape
    w = _affine(w, G * Cg, 1, x.dtype)
    if (w.shape != (G * Cg,) or mean.shape != (N, G) or rstd.shape != (N, G)
            or not is_cpu_float(x, gy, w, mean, rstd)):
        return NotImplemented
    gx = np.empty_like(x)
    gw_parts, gb_parts = np.empty((N, G * Cg), np.float64), np.empty((N, G * Cg), np.float64)
    kernel_over_ranges(_bwd_blocks, (gy, x, w, mean, rstd, gx, gw_parts, gb_parts), N * G,
                       x.size, _NS_PER_ELEMENT[1], _bwd_blocks_parallel)
    return gx, gw_parts.sum(axis=0).astype(x.dtype), gb_parts.sum(axis=0).astype(x.dtype)
