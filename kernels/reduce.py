"""Sums over every axis but the channels: a convolution's bias gradient, and the gradient of any
per-channel tensor broadcast over a batch (a bias (1, C, 1, 1) added to an image batch).

  channel_sum(x)   x (N, C, *rest) -> (C,): x summed over axis 0 and every axis after 1

Versions (CPU):
  reference  NumPy's x.sum(axis=(0, 2, ...)) accumulated in float64 and rounded once: over
             non-contiguous axes NumPy adds sequentially, and a float32 accumulator over the
             U-Net's 64x32x28x28 bias gradient missed a sum of -0.40212 by 3.5e-5. Over those
             axes NumPy reduces slowly too (0.280 ms there, benchmarks/results/kernels_cpu.md)
  numba_v1   one float64 accumulator per (image, channel) row, the rows of a channel added in
             order, channels over tinygen's threads (_threads.over_ranges): 0.135 ms on that
             array (PyTorch's float32 sum: 0.053); float64 sums rounded once, as the
             reference's.                                                      <- default
"""
from __future__ import annotations

import numpy as np

from ._numba import is_cpu_float, jit_serial, numba_kernel
from ._threads import over_ranges
from ._xp import array_module
from .registry import reference


def _example(rng, which):
    shape = (64, 32, 28, 28) if which == "bench" else (3, 5, 4, 7)
    return (rng.standard_normal(shape).astype("float32"),), {}


@reference("channel_sum", example=_example, rtol=1e-5, atol=1e-5)
def channel_sum(x):
    """x (N, C, *rest) summed over every axis but axis 1 -> (C,), in x's dtype.

    channel_sum(ones((2, 3, 4))) is [8, 8, 8]."""
    axes = (0, *range(2, x.ndim))
    if x.dtype.kind != "f":
        return x.sum(axis=axes)
    return x.sum(axis=axes, dtype=array_module(x).float64).astype(x.dtype)


@jit_serial
def _channel_sums(x, lo, hi, out):
    # x (N, C, L): out[c] = sum over n, l of x[n, c, l] for c in lo:hi
    for c in range(lo, hi):
        total = 0.0
        for n in range(x.shape[0]):
            row = x[n, c]
            s = 0.0
            for i in range(row.shape[0]):
                s += row[i]
            total += s
        out[c] = total


@numba_kernel("channel_sum", impl="numba_v1", default=True)
def channel_sum_numba(x):
    """numba_v1: float64 sums per row, channels in parallel (see the module docstring)."""
    if x.ndim < 2 or not is_cpu_float(x):
        return NotImplemented
    N, C = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(N, C, -1)
    out = np.empty(C, np.float64)
    over_ranges(lambda lo, hi: _channel_sums(x3, lo, hi, out), C, x3.size, ns_per_element=0.06)
    return out.astype(x.dtype)
