"""Elementwise addition of large arrays over tinygen's threads: the residual adds, the per-channel
broadcasts (a time embedding (N, C, 1, 1) added to (N, C, H, W)) and the gradient sums of the
image models, which NumPy runs on one thread.

  add(a, b)   a + b with NumPy's broadcasting and type promotion

Versions (CPU):
  reference  a + b
  numba_v1   for two C-contiguous float arrays of one dtype where one has the other's shape, or
             its leading dims followed by ones (each of its values then adds to a contiguous run
             of the other's): the same IEEE additions as NumPy (no fastmath: the same bits), in
             ranges over threads (_threads.kernel_over_ranges) when long enough. Measured on
             the 2-core Xeon VM, 2 threads, arrays fresh from memory: 64x32x28x28 float32
             0.81 -> 0.48 ms, 256x32x28x28 3.42 -> 1.97 ms; at 64x64x14x14 (800k values)
             0.33 -> 0.30 ms. By rows, the same way: two arrays of one shape whose images
             (first index) are each contiguous, however far apart (channels cut from a larger
             tensor: Cat's gradient in the U-Net), and an array repeated over the other's
             leading axes (x + a positional embedding). Anything else: NotImplemented (the
             reference runs).                                                    <- default
ops/binary.py's Add calls it only from _KERNEL_MIN_ELEMENTS on: below, the table's dispatch
costs more than a thread could save.
"""
from __future__ import annotations

import math

import numpy as np

from ._numba import is_cpu_float, jit, jit_exact, numba_kernel, piece, prange
from ._threads import kernel_over_ranges
from .registry import reference

# Add's own threshold (ops/binary.py reads it): 2^17 values. Below, the table's dispatch costs
# more than a split could save; above, the kernel splits as its loop's work says (on the one pool
# from _threads.ONE_POOL_MIN_NS, ~125k values: the U-Net's 64x64x7x7 residual adds, 200k values,
# took 178 us each in its step on one thread)
KERNEL_MIN_ELEMENTS = 1 << 17
_NS_PER_ELEMENT = 0.4          # an addition from memory, one thread (the arrays above)


def _example(rng, which):
    shape = (64, 32, 28, 28) if which == "bench" else (3, 5, 4, 7)
    a = rng.standard_normal(shape).astype("float32")
    b = rng.standard_normal(shape[:2] + (1, 1)).astype("float32")   # a per-(image, channel) run
    return (a, b), {}


@reference("add", example=_example, rtol=0, atol=0)
def add(a, b):
    """a + b (NumPy's broadcasting and promotion).

    add(ones((2, 3)), full((2, 1), 2.0)) is 3 everywhere."""
    return a + b


@jit_exact
def _add_flat(a, b, out):
    for i in range(out.shape[0]):
        out[i] = a[i] + b[i]


@jit_exact
def _add_runs(a, b, run, out):
    # out[r * run + j] = a[r * run + j] + b[r]: b's r-th value over the r-th run of a. The inner
    # loop runs over slices from 0: written over range(r * run, (r + 1) * run) LLVM made it
    # half as wide and it took 1.7-1.9x as long (64x32x28x28 plus (64, 32, 1, 1), one thread:
    # 777-853 -> 442-453 us, as fast as an addition of two arrays)
    for r in range(b.shape[0]):
        v = b[r]
        a_run, out_run = a[r * run:(r + 1) * run], out[r * run:(r + 1) * run]
        for j in range(run):
            out_run[j] = a_run[j] + v


# the loops over a range of out (or of b's runs), as kernel_over_ranges runs them off the one pool
@jit_exact
def _add_flat_range(lo, hi, a, b, out):
    _add_flat(a[lo:hi], b[lo:hi], out[lo:hi])


@jit_exact
def _add_runs_range(lo, hi, a, b, run, out):
    _add_runs(a[lo * run:hi * run], b[lo:hi], run, out[lo * run:hi * run])


@jit_exact
def _add_rows_range(lo, hi, a, b, out):
    # rows lo:hi of (rows, L) arrays whose rows are contiguous, at any distance from each other
    for r in range(lo, hi):
        a_row, b_row, out_row = a[r], b[r], out[r]
        for j in range(out.shape[1]):
            out_row[j] = a_row[j] + b_row[j]


# their prange twins (_threads.kernel_over_ranges in one_pool())
@jit
def _add_flat_parallel(n, pieces, a, b, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _add_flat_range(lo, hi, a, b, out)


@jit
def _add_runs_parallel(n, pieces, a, b, run, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _add_runs_range(lo, hi, a, b, run, out)


@jit
def _add_rows_parallel(n, pieces, a, b, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _add_rows_range(lo, hi, a, b, out)


def _rows(x):
    """x as a (rows, row length) view when each x[i] is C-contiguous, with rows at least a row
    apart (a slice of channels out of a larger batch), else None."""
    if x.ndim < 2 or x.strides[0] % x.itemsize:
        return None
    length = x.itemsize
    for d in range(x.ndim - 1, 0, -1):
        if x.shape[d] != 1 and x.strides[d] != length:
            return None
        length *= x.shape[d]
    return x.reshape(x.shape[0], -1) if x.strides[0] >= length else None


def _add_by_rows(a, b):
    """a + b for float arrays of one shape and dtype, not both C-contiguous, by rows, else
    NotImplemented."""
    a2, b2 = _rows(a), _rows(b)
    if a2 is None or b2 is None or a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        return NotImplemented
    return _add_rows(a2, b2, a.shape)


def _add_rows(a2, b2, shape):
    out = np.empty(shape, a2.dtype)
    kernel_over_ranges(_add_rows_range, (a2, b2, out.reshape(a2.shape)), a2.shape[0], out.size,
                       _NS_PER_ELEMENT, _add_rows_parallel)
    return out


def _repeated_over_leading(big, small):
    """The length of `small` when it repeats over `big`'s leading axes (its shape, leading ones
    aside, is big's last axes: a positional embedding added to a batch), else 0."""
    if small.ndim > big.ndim:
        return 0
    shape = small.shape
    while shape and shape[0] == 1:
        shape = shape[1:]
    return small.size if shape and big.shape[big.ndim - len(shape):] == shape else 0


def _runs_of(big, small):
    """The run length when `small`'s shape is `big`'s leading dims then ones (1 when equal),
    else 0."""
    if small.ndim != big.ndim:
        return 0
    k = small.ndim
    while k and small.shape[k - 1] == 1 and big.shape[k - 1] != 1:
        k -= 1
    return math.prod(big.shape[k:]) if small.shape[:k] == big.shape[:k] else 0


@numba_kernel("add", impl="numba_v1", default=True)
def add_numba(a, b):
    """numba_v1: the additions in ranges over tinygen's threads (see the module docstring)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.size == 0:
        return NotImplemented
    if not is_cpu_float(a, b):
        return _add_by_rows(a, b) if a.shape == b.shape else NotImplemented
    big, small = (a, b) if a.size >= b.size else (b, a)   # a + b == b + a, bit for bit
    run = _runs_of(big, small)
    if not run:
        length = _repeated_over_leading(big, small)
        if not length:
            return NotImplemented
        rows = big.size // length                   # small read again for every row of big
        return _add_rows(big.reshape(rows, length),
                         np.broadcast_to(small.reshape(1, length), (rows, length)), big.shape)
    out = np.empty_like(big)
    x, y, o = big.reshape(-1), small.reshape(-1), out.reshape(-1)
    if run == 1:
        kernel_over_ranges(_add_flat_range, (x, y, o), o.shape[0], o.shape[0], _NS_PER_ELEMENT,
                           _add_flat_parallel)
    else:
        kernel_over_ranges(_add_runs_range, (x, y, run, o), y.shape[0], o.shape[0],
                           _NS_PER_ELEMENT, _add_runs_parallel)
    return out
