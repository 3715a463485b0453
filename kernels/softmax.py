"""Softmax, log-softmax and cross-entropy over the last axis, forward and backward.

  softmax_fwd(x, axis=-1) -> y              y = exp(x - max) / sum(exp(x - max))
  softmax_bwd(y, gy, axis=-1) -> gx         gx = y * (gy - sum(gy * y))
  log_softmax_fwd(x, axis=-1) -> y          y = x - max - log(sum(exp(x - max)))
  log_softmax_bwd(y, gy, axis=-1) -> gx     gx = gy - exp(y) * sum(gy)
  cross_entropy_fwd(logits (N, C), target (N,) int, ignore_index=-100, label_smoothing=0.0)
      -> (loss (N,), lse (N,))              per-row loss (0 on ignored rows), row log-sum-exp
  cross_entropy_bwd(logits, target, lse, gloss (N,), ignore_index, label_smoothing) -> (N, C)

A fully masked row (all -inf) gives zeros from softmax and -inf from log_softmax, not NaN (PyTorch
gives NaN); its gradients are 0 and gy. Cross-entropy with label smoothing e over C classes:
loss = (1 - e) * (lse - x[t]) + e/C * sum_c (lse - x[c]) = lse - (1 - e) x[t] - e/C sum_c x[c],
dloss/dx[c] = softmax(x)[c] - (1 - e) [c == t] - e/C; both fused, no one-hot is ever built.
A target outside [0, C) that is not ignore_index raises IndexError.

Versions (CPU):
  numba_v1  one block of rows per tinygen thread (_threads.over_ranges; below 32768 elements
            no threads), a serial loop over the block's rows;
            per row a max pass (8 lanes), then exp + sum, then scale; float32 exp is the
            vectorised polynomial of _numba.exp                                    <- default
"""
from __future__ import annotations

import numpy as np

from ._numba import contiguous_grad, exp, is_cpu_float, jit_serial, numba_kernel
from ._threads import over_ranges
from ._xp import array_module
from .registry import reference


# ---------------------------------------------------------------- examples
def _logits(rng, which, masked=True):
    shape = (4096, 1024) if which == "bench" else (6, 37)
    x = rng.standard_normal(shape).astype("float32") * 3
    if masked and which == "test":
        x[1, ::3] = -np.inf          # a partly masked row
        x[4, :] = -np.inf            # a fully masked row
    return x


def _example_fwd(rng, which):
    return (_logits(rng, which),), {}


def _example_softmax_bwd(rng, which):
    y = softmax_fwd(_logits(rng, which))
    return (y, rng.standard_normal(y.shape).astype("float32")), {}


def _example_log_softmax_bwd(rng, which):
    y = log_softmax_fwd(_logits(rng, which))
    return (y, rng.standard_normal(y.shape).astype("float32")), {}


def _example_ce(rng, which):
    n, c = (8192, 65) if which == "bench" else (9, 13)
    logits = (rng.standard_normal((n, c)) * 3).astype("float32")
    target = rng.integers(0, c, size=n).astype("int64")
    target[::4] = -100                                   # some ignored rows
    return (logits, target), {"ignore_index": -100, "label_smoothing": 0.1}


def _example_ce_bwd(rng, which):
    (logits, target), kw = _example_ce(rng, which)
    _, lse = cross_entropy_fwd(logits, target, **kw)
    gloss = rng.standard_normal(len(target)).astype(logits.dtype)
    return (logits, target, lse, gloss), kw


# ---------------------------------------------------------------- references
def _shift(xp, x, axis):
    """The row max, or 0 where it is -inf (a fully masked row would give -inf - -inf). A NaN or
    +inf max is kept: the row turns NaN, as PyTorch's (inf - inf)."""
    m = x.max(axis=axis, keepdims=True)
    return xp.where(m == -xp.inf, x.dtype.type(0), m)


@reference("softmax_fwd", example=_example_fwd, rtol=1e-5, atol=1e-6)
def softmax_fwd(x, axis=-1):
    """Softmax along `axis`. x (..., C) -> (..., C); a fully masked row gives zeros."""
    xp = array_module(x)
    if x.size == 0:
        return x.copy()
    e = xp.exp(x - _shift(xp, x, axis))            # shift by the max: exp never overflows
    s = e.sum(axis=axis, keepdims=True)
    return e / xp.where(s == 0, x.dtype.type(1), s)


@reference("softmax_bwd", example=_example_softmax_bwd, rtol=1e-5, atol=1e-6)
def softmax_bwd(y, gy, axis=-1):
    """Vector-Jacobian product of softmax: y, gy (..., C) -> gx = y * (gy - sum(gy * y))."""
    return y * (gy - (gy * y).sum(axis=axis, keepdims=True))


@reference("log_softmax_fwd", example=_example_fwd, rtol=1e-5, atol=1e-5)
def log_softmax_fwd(x, axis=-1):
    """log(softmax(x)) along `axis`; a fully masked row gives -inf (log of softmax's zeros)."""
    xp = array_module(x)
    if x.size == 0:
        return x.copy()
    z = x - _shift(xp, x, axis)
    s = xp.exp(z).sum(axis=axis, keepdims=True)
    return z - xp.log(xp.where(s == 0, x.dtype.type(1), s))


@reference("log_softmax_bwd", example=_example_log_softmax_bwd, rtol=1e-5, atol=1e-5)
def log_softmax_bwd(y, gy, axis=-1):
    """Vector-Jacobian product of log_softmax: gx = gy - exp(y) * sum(gy)."""
    xp = array_module(y)
    return gy - xp.exp(y) * gy.sum(axis=axis, keepdims=True)


def _check_target(logits, target, ignore_index, bad_rows=None):
    """IndexError naming the op when a non-ignored target is outside [0, C)."""
    xp = array_module(target)
    C = logits.shape[1]
    if bad_rows is None:
        bad_rows = int(((target != ignore_index) & ((target < 0) | (target >= C))).sum())
    if bad_rows:
        bad = target[(target != ignore_index) & ((target < 0) | (target >= C))]
        raise IndexError(f"cross_entropy: {bad_rows} target(s) out of range for {C} classes "
                         f"(expected 0 <= target < {C} or target == ignore_index={ignore_index}), "
                         f"got e.g. {int(xp.asarray(bad[0]))}")


def _check_ce_shapes(logits, target):
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy kernel: expected logits (N, C) and target (N,), got "
                         f"{tuple(logits.shape)} and {tuple(target.shape)}")


@reference("cross_entropy_fwd", example=_example_ce, rtol=1e-5, atol=1e-5)
def cross_entropy_fwd(logits, target, ignore_index=-100, label_smoothing=0.0):
    """Per-row cross-entropy. logits (N, C) float, target (N,) int -> (loss (N,), lse (N,)).

    loss[i] = lse[i] - (1 - e) logits[i, t] - e/C sum_c logits[i, c], 0 where t == ignore_index.
    cross_entropy_fwd(zeros((1, 4)), [2]) gives loss [log 4]."""
    xp = array_module(logits)
    _check_ce_shapes(logits, target)
    _check_target(logits, target, ignore_index)
    C = logits.shape[1]
    m = _shift(xp, logits, 1)
    lse = (m + xp.log(xp.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    valid = target != ignore_index
    picked = xp.take_along_axis(logits, xp.where(valid, target, 0)[:, None], axis=1)[:, 0]
    eps = label_smoothing
    loss = lse - (1 - eps) * picked
    if eps:
        loss = loss - (eps / C) * logits.sum(axis=1)
    return xp.where(valid, loss, logits.dtype.type(0)).astype(logits.dtype), lse


@reference("cross_entropy_bwd", example=_example_ce_bwd, rtol=1e-5, atol=1e-6)
def cross_entropy_bwd(logits, target, lse, gloss, ignore_index=-100, label_smoothing=0.0):
    """Gradient of the per-row loss: (N, C) = gloss[:, None] * (softmax - (1-e) onehot - e/C),
    zero rows where target == ignore_index. gloss (N,) (or a scalar, broadcast)."""
    xp = array_module(logits)
    N, C = logits.shape
    valid = target != ignore_index
    g = xp.exp(logits - lse[:, None])
    if label_smoothing:
        g = g - label_smoothing / C
    rows = xp.arange(N)[valid]
    g[rows, target[valid]] -= 1 - label_smoothing
    gloss = xp.broadcast_to(xp.asarray(gloss, dtype=logits.dtype), (N,))
    return (g * xp.where(valid, gloss, 0)[:, None]).astype(logits.dtype)


# ---------------------------------------------------------------- numba_v1
# Layout of every kernel below: a serial function on a block of rows, one block per thread
# (`_by_rows`). Loops with a flag tested inside them did not vectorise (numba's pipeline does not
# unswitch loops).
@jit_serial
def _row_max(row):
    """max(row) with 8 independent running maxima, which LLVM packs into one vector register: a
    single select-based max reduction vectorises only under 'nnan', which masked rows (-inf) rule
    out (3.3x slower on 4096x1024; a 16-lane scratch array was in between). A NaN is skipped
    here, and then turns the whole row NaN through exp."""
    C = row.shape[0]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row[0]
    j = 0
    while j + 8 <= C:
        v0, v1, v2, v3 = row[j], row[j + 1], row[j + 2], row[j + 3]
        v4, v5, v6, v7 = row[j + 4], row[j + 5], row[j + 6], row[j + 7]
        m0 = v0 if v0 > m0 else m0
        m1 = v1 if v1 > m1 else m1
        m2 = v2 if v2 > m2 else m2
        m3 = v3 if v3 > m3 else m3
        m4 = v4 if v4 > m4 else m4
        m5 = v5 if v5 > m5 else m5
        m6 = v6 if v6 > m6 else m6
        m7 = v7 if v7 > m7 else m7
        j += 8
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    m4 = m5 if m5 > m4 else m4
    m6 = m7 if m7 > m6 else m6
    m0 = m2 if m2 > m0 else m0
    m4 = m6 if m6 > m4 else m4
    m = m4 if m4 > m0 else m0
    for k in range(j, C):
        m = row[k] if row[k] > m else m
    return m


@jit_serial
def _softmax_block(x, out, log):
    """Row-wise (log-)softmax of x (rows, C) into out."""
    zero, one = x.dtype.type(0), x.dtype.type(1)
    C = x.shape[1]
    for i in range(x.shape[0]):
        row, o = x[i], out[i]
        m = _row_max(row)
        if m == -np.inf:
            m = zero                                  # masked (-inf) row: shift by 0
        s = zero
        if log:
            for j in range(C):
                s += exp(row[j] - m)
            # s == 0: the row stays -inf; a NaN s (NaN or +inf in the row) makes it all NaN
            shift = m + (zero if s == zero else np.log(s))
            for j in range(C):
                o[j] = row[j] - shift
        else:
            for j in range(C):
                e = exp(row[j] - m)
                o[j] = e
                s += e
            r = one if s == zero else one / s         # s == 0: zeros stay zeros; NaN spreads
            for j in range(C):
                o[j] *= r


@jit_serial
def _softmax_bwd_block(y, gy, out, log):
    """Row-wise VJP: softmax (log=False) or log_softmax (log=True); all (rows, C)."""
    zero = y.dtype.type(0)
    C = y.shape[1]
    for i in range(y.shape[0]):
        yr, gr, o = y[i], gy[i], out[i]
        s = zero
        if log:
            for j in range(C):
                s += gr[j]
            for j in range(C):
                o[j] = gr[j] - exp(yr[j]) * s
        else:
            for j in range(C):
                s += gr[j] * yr[j]
            for j in range(C):
                o[j] = yr[j] * (gr[j] - s)


def _by_rows(block, rows, cols):
    """[block(lo, hi)] over blocks of rows of a (rows, cols) array (_threads.over_ranges; about
    0.9 ns an element, float32 on one thread)."""
    return over_ranges(block, rows, rows * cols, ns_per_element=0.9)


def _rows(x, axis):
    """x viewed as (M, C) when the kernels handle it (last axis, contiguous float), else None."""
    if x.ndim == 0 or axis not in (-1, x.ndim - 1) or x.size == 0 or not is_cpu_float(x):
        return None
    return x.reshape(-1, x.shape[-1])


def _forward(x2, out2, log):
    _by_rows(lambda lo, hi: _softmax_block(x2[lo:hi], out2[lo:hi], log), *x2.shape)


@numba_kernel("softmax_fwd", impl="numba_v1", default=True)
def softmax_fwd_numba(x, axis=-1):
    x2 = _rows(x, axis)
    if x2 is None:
        return NotImplemented
    out = np.empty_like(x)
    _forward(x2, out.reshape(x2.shape), False)
    return out


@numba_kernel("log_softmax_fwd", impl="numba_v1", default=True)
def log_softmax_fwd_numba(x, axis=-1):
    x2 = _rows(x, axis)
    if x2 is None:
        return NotImplemented
    out = np.empty_like(x)
    _forward(x2, out.reshape(x2.shape), True)
    return out


def _bwd(y, gy, axis, log):
    y2 = _rows(y, axis)
    gy = contiguous_grad(gy, y)
    if y2 is None or gy.shape != y.shape or not is_cpu_float(y, gy):
        return NotImplemented
    out = np.empty_like(y)
    gy2, out2 = gy.reshape(y2.shape), out.reshape(y2.shape)
    _by_rows(lambda lo, hi: _softmax_bwd_block(y2[lo:hi], gy2[lo:hi], out2[lo:hi], log),
             *y2.shape)
    return out


@numba_kernel("softmax_bwd", impl="numba_v1", default=True)
def softmax_bwd_numba(y, gy, axis=-1):
    return _bwd(y, gy, axis, False)


@numba_kernel("log_softmax_bwd", impl="numba_v1", default=True)
def log_softmax_bwd_numba(y, gy, axis=-1):
    return _bwd(y, gy, axis, True)


@jit_serial
def _cross_entropy_block(x, target, ignore_index, keep, spread, loss, lse):
    """Per-row loss and log-sum-exp of x (rows, C), keep = 1 - e, spread = e / C.
    Returns the number of out-of-range targets (their loss is NaN)."""
    C = x.shape[1]
    zero = x.dtype.type(0)
    bad = 0
    for i in range(x.shape[0]):
        row = x[i]
        m = _row_max(row)
        if m == -np.inf:                              # +inf, NaN: the loss is NaN, as PyTorch's
            m = zero
        s = zero
        total = zero
        for j in range(C):
            v = row[j]
            s += exp(v - m)
            total += v
        row_lse = m + np.log(s)
        lse[i] = row_lse
        t = target[i]
        if t == ignore_index:
            loss[i] = zero
        elif t < 0 or t >= C:
            bad += 1
            loss[i] = np.nan
        elif spread == zero:        # no smoothing: a -inf logit's 0 * -inf would be NaN
            loss[i] = row_lse - keep * row[t]
        else:
            loss[i] = row_lse - keep * row[t] - spread * total
    return bad


@jit_serial
def _cross_entropy_bwd_block(x, target, lse, gloss, ignore_index, keep, spread, out):
    C = x.shape[1]
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        row, o = x[i], out[i]
        t = target[i]
        if t == ignore_index:
            for j in range(C):
                o[j] = zero
            continue
        g, row_lse = gloss[i], lse[i]
        for j in range(C):
            o[j] = g * (exp(row[j] - row_lse) - spread)
        if 0 <= t < C:
            o[t] -= g * keep


def _ce_inputs_ok(logits, target):
    return (logits.ndim == 2 and logits.size > 0 and is_cpu_float(logits)
            and type(target) is np.ndarray and target.dtype == np.int64
            and target.shape == logits.shape[:1] and target.flags.c_contiguous)


@numba_kernel("cross_entropy_fwd", impl="numba_v1", default=True)
def cross_entropy_fwd_numba(logits, target, ignore_index=-100, label_smoothing=0.0):
    if not _ce_inputs_ok(logits, target):
        return NotImplemented
    N = logits.shape[0]
    loss = np.empty(N, logits.dtype)
    lse = np.empty(N, logits.dtype)
    dt = logits.dtype.type
    scalars = (int(ignore_index), dt(1 - label_smoothing), dt(label_smoothing / logits.shape[1]))
    bad = sum(_by_rows(lambda lo, hi: _cross_entropy_block(
        logits[lo:hi], target[lo:hi], *scalars, loss[lo:hi], lse[lo:hi]), *logits.shape))
    if bad:
        _check_target(logits, target, ignore_index, bad)
    return loss, lse


@numba_kernel("cross_entropy_bwd", impl="numba_v1", default=True)
def cross_entropy_bwd_numba(logits, target, lse, gloss, ignore_index=-100, label_smoothing=0.0):
    if not _ce_inputs_ok(logits, target) or not is_cpu_float(logits, lse):
        return NotImplemented
    N = logits.shape[0]
    gloss = np.ascontiguousarray(np.broadcast_to(np.asarray(gloss, dtype=logits.dtype), (N,)))
    out = np.empty_like(logits)
    dt = logits.dtype.type
    scalars = (int(ignore_index), dt(1 - label_smoothing), dt(label_smoothing / logits.shape[1]))
    _by_rows(lambda lo, hi: _cross_entropy_bwd_block(
        logits[lo:hi], target[lo:hi], lse[lo:hi], gloss[lo:hi], *scalars, out[lo:hi]),
        *logits.shape)
    return out
