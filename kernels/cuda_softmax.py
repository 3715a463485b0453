"""Softmax, log-softmax and cross-entropy on the GPU (numba.cuda), against kernels/softmax.py.

Same names, signatures and edge cases as the references there (a fully masked row gives zeros
from softmax and -inf from log_softmax; ignored cross-entropy rows give 0 loss and 0 gradient).
Rows of any length: each block walks its row with a stride of blockDim.x, so the row never has to
fit in registers or shared memory.

Versions (device="cuda"):
  numba_cuda_v1  one block per row (grid-stride over rows). Forward: one read pass keeping an
                 online max and sum per thread (Milakov & Gimelshein 2018: when the max grows from
                 m to m', the sum so far is rescaled by exp(m - m')), one block reduction of both,
                 then a second read pass that writes. Arithmetic in float64 (the kernel is
                 memory-bound; one compiled kernel serves both dtypes)               <- default
  (next, for issue 9: float32 reductions and the row held in registers for rows up to ~16K, so
  the second pass reads no memory: 2 N bytes per row instead of 3 N)

Global memory per row of C floats: forward reads 2 C and writes C; backward reads 2 C twice and
writes C. The simulator runs the same kernels with shared-memory tree reductions (it has no warp
shuffles).
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

from . import softmax as _ref
from ._xp import array_module
from .cuda_common import block_reducers, float_inputs, numba_cuda, row_threads, rows_view, usable
from .registry import kernel

_REDUCE_BUF = 256          # >= the largest block of row_threads()
_MAX_BLOCKS = 65535


cuda = None      # numba.cuda once _kernels() runs (a module global: see cuda_common)


@functools.cache
def _kernels():
    global cuda
    cuda = numba_cuda()
    red = block_reducers(globals())
    block_sum, block_max = red.block_sum, red.block_max

    @cuda.jit(device=True)
    def row_max_and_sum(x, row, buf):
        """(max over the row, sum of exp(x - max)); max = -inf and sum = 0 for a masked row."""
        tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
        C = x.shape[1]
        m = -np.inf
        s = 0.0
        for j in range(tid, C, nthreads):
            v = x[row, j]
            if v > m:                              # new running max: rescale the sum so far
                s = s * math.exp(m - v) + 1.0
                m = v
            elif v != -np.inf:
                s += math.exp(v - m)
        row_m = block_max(buf, m)
        if row_m != -np.inf and m != -np.inf:
            s *= math.exp(m - row_m)               # bring this thread's sum to the row's max
        row_s = block_sum(buf, s)
        return row_m, row_s

    @cuda.jit
    def softmax_rows(x, y, log):
        """y[i] = softmax(x[i]) (or log_softmax). x, y: (M, C) C-contiguous."""
        buf = cuda.shared.array(_REDUCE_BUF, dtype=np.float64)
        tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
        M, C = x.shape
        for row in range(cuda.blockIdx.x, M, cuda.gridDim.x):
            m, s = row_max_and_sum(x, row, buf)
            if m == -np.inf:
                m = 0.0                            # masked row: shift by 0, as the reference
            if log:
                log_s = math.log(s) if s > 0 else 0.0
                for j in range(tid, C, nthreads):
                    y[row, j] = x[row, j] - m - log_s
            else:
                r = 1.0 / s if s > 0 else 1.0
                for j in range(tid, C, nthreads):
                    y[row, j] = math.exp(x[row, j] - m) * r

    @cuda.jit
    def softmax_bwd_rows(y, gy, gx, log):
        """softmax: gx = y (gy - sum(gy y)); log_softmax: gx = gy - exp(y) sum(gy). (M, C)."""
        buf = cuda.shared.array(_REDUCE_BUF, dtype=np.float64)
        tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
        M, C = y.shape
        for row in range(cuda.blockIdx.x, M, cuda.gridDim.x):
            part = 0.0
            for j in range(tid, C, nthreads):
                if log:
                    part += gy[row, j]
                else:
                    part += gy[row, j] * y[row, j]
            total = block_sum(buf, part)
            for j in range(tid, C, nthreads):
                if log:
                    gx[row, j] = gy[row, j] - math.exp(y[row, j]) * total
                else:
                    gx[row, j] = y[row, j] * (gy[row, j] - total)

    @cuda.jit
    def cross_entropy_rows(x, target, ignore_index, smoothing, loss, lse, bad):
        """Per-row loss and log-sum-exp of x (N, C); bad[0] counts out-of-range targets."""
        buf = cuda.shared.array(_REDUCE_BUF, dtype=np.float64)
        tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
        N, C = x.shape
        for row in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            m, s = row_max_and_sum(x, row, buf)
            part = 0.0
            if smoothing != 0.0:
                for j in range(tid, C, nthreads):
                    part += x[row, j]
            total = block_sum(buf, part)
            if tid == 0:
                shift = m if m != -np.inf else 0.0
                row_lse = shift + math.log(s) if s > 0 else -np.inf
                lse[row] = row_lse
                t = target[row]
                if t == ignore_index:
                    loss[row] = 0.0
                elif t < 0 or t >= C:
                    cuda.atomic.add(bad, 0, 1)
                    loss[row] = np.nan
                else:
                    loss[row] = row_lse - (1.0 - smoothing) * x[row, t] - smoothing / C * total

    @cuda.jit
    def cross_entropy_bwd_rows(x, target, lse, gloss, ignore_index, smoothing, gx):
        """gx[i] = gloss[i] (softmax(x[i]) - (1 - e) onehot(t) - e / C); 0 on ignored rows."""
        tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
        N, C = x.shape
        for row in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            t = target[row]
            g = gloss[row] if t != ignore_index else 0.0
            off = smoothing / C
            for j in range(tid, C, nthreads):
                v = g * (math.exp(x[row, j] - lse[row]) - off)
                if j == t:
                    v -= g * (1.0 - smoothing)
                gx[row, j] = v

    return SimpleNamespace(softmax_rows=softmax_rows, softmax_bwd_rows=softmax_bwd_rows,
                           cross_entropy_rows=cross_entropy_rows,
                           cross_entropy_bwd_rows=cross_entropy_bwd_rows)


def _launch(rows, n):
    return max(1, min(rows, _MAX_BLOCKS)), row_threads(n)


def _fwd(x, axis, log):
    if x.ndim == 0 or x.size == 0 or not usable(x) or not float_inputs(x):
        return NotImplemented
    x2, restore = rows_view(x, axis)
    y2 = array_module(x).empty_like(x2)
    _kernels().softmax_rows[_launch(*x2.shape)](x2, y2, log)
    return restore(y2)


def _bwd(y, gy, axis, log):
    if (y.ndim == 0 or y.size == 0 or gy.shape != y.shape or not usable(y, gy)
            or not float_inputs(y, gy)):
        return NotImplemented
    y2, restore = rows_view(y, axis)
    gy2, _ = rows_view(gy, axis)
    gx2 = array_module(y).empty_like(y2)
    _kernels().softmax_bwd_rows[_launch(*y2.shape)](y2, gy2, gx2, log)
    return restore(gx2)


@kernel("softmax_fwd", device="cuda", impl="numba_cuda_v1", default=True)
def softmax_fwd_cuda(x, axis=-1):
    return _fwd(x, axis, False)


@kernel("log_softmax_fwd", device="cuda", impl="numba_cuda_v1", default=True)
def log_softmax_fwd_cuda(x, axis=-1):
    return _fwd(x, axis, True)


@kernel("softmax_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def softmax_bwd_cuda(y, gy, axis=-1):
    return _bwd(y, gy, axis, False)


@kernel("log_softmax_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def log_softmax_bwd_cuda(y, gy, axis=-1):
    return _bwd(y, gy, axis, True)


def _ce_ok(logits, target):
    return (logits.ndim == 2 and logits.size > 0 and usable(logits, target)
            and float_inputs(logits) and target.dtype == np.int64
            and target.shape == logits.shape[:1])


@kernel("cross_entropy_fwd", device="cuda", impl="numba_cuda_v1", default=True)
def cross_entropy_fwd_cuda(logits, target, ignore_index=-100, label_smoothing=0.0):
    if not _ce_ok(logits, target):
        return NotImplemented
    xp = array_module(logits)
    logits, target = xp.ascontiguousarray(logits), xp.ascontiguousarray(target)
    N, C = logits.shape
    loss = xp.empty(N, logits.dtype)
    lse = xp.empty(N, logits.dtype)
    bad = xp.zeros(1, np.int32)
    _kernels().cross_entropy_rows[_launch(N, C)](
        logits, target, int(ignore_index), float(label_smoothing), loss, lse, bad)
    n_bad = int(bad[0])                       # one small device-to-host copy: errors are loud
    if n_bad:
        _ref._check_target(logits, target, ignore_index, n_bad)
    return loss, lse


@kernel("cross_entropy_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def cross_entropy_bwd_cuda(logits, target, lse, gloss, ignore_index=-100, label_smoothing=0.0):
    if not _ce_ok(logits, target) or not float_inputs(logits, lse):
        return NotImplemented
    xp = array_module(logits)
    N, C = logits.shape
    logits, target = xp.ascontiguousarray(logits), xp.ascontiguousarray(target)
    gloss_rows = xp.empty(N, logits.dtype)
    gloss_rows[...] = gloss                  # (N,) or a scalar, broadcast
    gx = xp.empty_like(logits)
    _kernels().cross_entropy_bwd_rows[_launch(N, C)](
        logits, target, xp.ascontiguousarray(lse), gloss_rows, int(ignore_index),
        float(label_smoothing), gx)
    return gx
