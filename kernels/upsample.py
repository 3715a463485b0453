"""Nearest-neighbour upsampling of images by integer factors, and its gradient.

  upsample_nearest_fwd(x (N, C, H, W), sh, sw) -> y (N, C, H * sh, W * sw)
      y[n, c, i, j] = x[n, c, i // sh, j // sw]          (each pixel becomes an sh x sw block)
  upsample_nearest_bwd(gy (N, C, H * sh, W * sw), sh, sw) -> gx (N, C, H, W)
      gx[n, c, i, j] = sum of gy's sh x sw block at (i, j)    (the adjoint of the forward)

This is interpolate(mode='nearest') whenever the output size is a whole multiple of the input's
(the U-Net's and the DCGAN-style decoders' 2x upsampling). The general path (tinygen/ops/pool.py,
_resample) expands and reshapes, and its gradient is a sum over two broadcast axes of a
six-dimensional view: on the diffusion U-Net's 64 x 32 x 14 x 14 -> 28 x 28 layer, 11.5 ms
backward (one thread), against 2 ms for PyTorch's upsample_nearest2d_backward.

Versions (CPU):
  numba_v1  the (image, channel) planes in ranges over tinygen's threads (_threads.over_ranges);
            forward: each input row spread into one output row, copied sh - 1 times; backward:
            each block summed                                                    <- default
"""
from __future__ import annotations

import numpy as np

from ._numba import jit_serial, numba_kernel
from ._threads import over_ranges
from .registry import reference


def _example_fwd(rng, which):
    shape = (64, 32, 14, 14) if which == "bench" else (2, 3, 4, 5)
    return (rng.standard_normal(shape).astype("float32"), 2, 3 if which == "test" else 2), {}


def _example_bwd(rng, which):
    (x, sh, sw), _ = _example_fwd(rng, which)
    N, C, H, W = x.shape
    return (rng.standard_normal((N, C, H * sh, W * sw)).astype("float32"), sh, sw), {}


@reference("upsample_nearest_fwd", example=_example_fwd, rtol=0, atol=0)
def upsample_nearest_fwd(x, sh, sw):
    """x (N, C, H, W) -> (N, C, H * sh, W * sw), each pixel repeated into an sh x sw block.

    upsample_nearest_fwd(array([[[[1., 2.]]]]), 1, 2) is [[[[1, 1, 2, 2]]]]."""
    N, C, H, W = x.shape
    wide = x[:, :, :, None, :, None]
    return wide.repeat(sh, axis=3).repeat(sw, axis=5).reshape(N, C, H * sh, W * sw)


@reference("upsample_nearest_bwd", example=_example_bwd, rtol=1e-6, atol=1e-6)
def upsample_nearest_bwd(gy, sh, sw):
    """gy (N, C, H * sh, W * sw) -> (N, C, H, W): the sum of each sh x sw block."""
    N, C, Hs, Ws = gy.shape
    return gy.reshape(N, C, Hs // sh, sh, Ws // sw, sw).sum(axis=(3, 5))


@jit_serial
def _fwd_planes(x, sh, sw, y, lo, hi):
    N, C, H, W = x.shape
    for p in range(lo, hi):
        n, c = p // C, p % C
        for i in range(H):
            r = i * sh
            for j in range(W):
                v = x[n, c, i, j]
                for b in range(sw):
                    y[n, c, r, j * sw + b] = v
            for a in range(1, sh):                   # the row's copies below it
                for k in range(W * sw):
                    y[n, c, r + a, k] = y[n, c, r, k]


@jit_serial
def _bwd_planes(gy, sh, sw, gx, lo, hi):
    N, C, H, W = gx.shape
    for p in range(lo, hi):
        n, c = p // C, p % C
        for i in range(H):
            for j in range(W):
                total = gy.dtype.type(0)
                for a in range(sh):
                    for b in range(sw):
                        total += gy[n, c, i * sh + a, j * sw + b]
                gx[n, c, i, j] = total


def _is_float_array(a):
    return type(a) is np.ndarray and a.ndim == 4 and a.dtype in (np.float32, np.float64)


@numba_kernel("upsample_nearest_fwd", impl="numba_v1", default=True)
def upsample_nearest_fwd_numba(x, sh, sw):
    if not _is_float_array(x) or x.size == 0:
        return NotImplemented
    x = np.ascontiguousarray(x)
    N, C, H, W = x.shape
    y = np.empty((N, C, H * sh, W * sw), x.dtype)
    over_ranges(lambda lo, hi: _fwd_planes(x, sh, sw, y, lo, hi), N * C, y.size)
    return y


@numba_kernel("upsample_nearest_bwd", impl="numba_v1", default=True)
def upsample_nearest_bwd_numba(gy, sh, sw):
    if not _is_float_array(gy) or gy.size == 0:
        return NotImplemented
    gy = np.ascontiguousarray(gy)
    N, C, Hs, Ws = gy.shape
    gx = np.empty((N, C, Hs // sh, Ws // sw), gy.dtype)
    over_ranges(lambda lo, hi: _bwd_planes(gy, sh, sw, gx, lo, hi), N * C, gy.size)
    return gx
