"""Scaled dot-product attention as one fused kernel: forward (output and row log-sum-exp) and
backward, the contract of the flash-attention kernels (Dao et al. 2022, Dao 2023).

  flash_attention_fwd(q (..., T, D), k (..., S, D), v (..., S, Dv), causal=False, scale=None,
                      bias=None) -> (o (..., T, Dv), lse (..., T) float32)
      P = softmax(q k^T * scale + bias + mask),  o = P v,  lse[i] = log sum_j exp(s_ij)
  flash_attention_bwd(q, k, v, o, lse, do, causal=False, scale=None, bias=None) -> (dq, dk, dv)
      dv = P^T do,  dP = do v^T,  dS = P * (dP - rowsum(do * o)),  dq = dS k * scale,
      dk = dS^T q * scale

scale defaults to 1 / sqrt(D). causal masks the upper triangle aligned top-left, as PyTorch's
is_causal: query i sees keys j <= i (every row sees key 0). bias, where given, is an additive
mask broadcasting to (..., T, S) without adding dims (no gradient is taken for it): -inf where a
key is not attended; a query with no key to attend gets o = 0, lse = -inf and no gradient
(PyTorch gives NaN there). Only the reference and cpu blas_v1 take a bias (the others decline it
and the reference runs); the CUDA kernels' signature has none. o, dq, dk, dv keep
the inputs' dtype; float16 (and bfloat16, where the array library has it) are computed in float32
and rounded once at the end; lse is always float32 (float64 for float64 inputs). The backward
needs only lse, not P: it recomputes P = exp(s - lse) block by block, which is what keeps the
flash kernels' memory linear in T.

Versions:
  reference       plain NumPy/CuPy: the (T, S) score matrix in memory, O(T S) memory
  cpu numpy_tiled_v1  the flash algorithm on the CPU: query blocks of 128 rows against key blocks
                  of 128, the online softmax keeps a running max m, sum l and unnormalised output
                  per row (when the max grows from m to m', l and o are rescaled by exp(m - m'));
                  memory O(T (D + block)). Backward by key blocks, recomputing P from lse.
                  Same results as the reference to float32 rounding.
  cpu numba_v1    the same flash algorithm in numba: batch * heads in ranges over tinygen's
                  threads (_threads.over_ranges; serial below PARALLEL_MIN_ELEMENTS), per head
                  query blocks of NUMBA_BLOCK = 64 rows against key blocks of 64 (causal: blocks
                  above the diagonal skipped, rows cut at j <= i),
                  online softmax per row, scores as dot products over D, P v as row updates over
                  Dv; accumulates in float32 (float64 for float64). Backward by key blocks, P
                  recomputed from lse, dq/dk/dv accumulated per head. Faster on small heads,
                  slower than the BLAS tiles at T 512 (2 cores, OpenBLAS 1 thread, medians,
                  float32 causal: (12,4,64,32) fwd 1.07 vs 2.48 ms, bwd 2.34 vs 3.42 ms;
                  (2,4,512,64) fwd 10.6 vs 7.4 ms, bwd 30.6 vs 17.7 ms, numba vs numpy_tiled_v1),
                  so heads of more than NUMBA_MAX_SCORES = 128 x 128 scores run numpy_tiled_v1
                  instead: chosen by shape
  cpu blas_v1     not flash: heads of at most BLAS_MAX_SCORES = 256 x 256 scores keep them in
                  memory, a chunk of heads at a time (BLAS_CHUNK_SCORES), chunks over tinygen's
                  threads: q k^T and P v (backward: q k^T, P^T dO, dO V^T, dS K, dS^T Q) as BLAS
                  products on stacks of heads, one BLAS thread each, and the softmax (backward:
                  P from lse, then dS) as one numba pass over the scores (the forward's kept
                  keys by rows, K Q^T, so that it vectorises across queries); larger heads run
                  numpy_tiled_v1. Faster than numba_v1 at every size measured (see its
                  docstring: the baby GPT's fwd + bwd 1.62 -> 0.93 ms). In _threads.one_pool()
                  the heads run as one prange loop instead, each calling BLAS by address
                  (_numba.cblas_gemm) on its strided views: (12, 4, 64, 32) causal on 2
                  threads, fwd 405 -> 205 us, bwd 814 -> 424. o, dq, dk, dv are laid out as
                  the inputs are (_laid_out_as, _grads_laid_out); a bias is added to the scores
                  in the softmax's pass (_softmax_keys, _probabilities)      <- cpu default
  cuda cuda_c_v1  kernels/flash_attention.cu through kernels/cuda_attention.py
"""
from __future__ import annotations

import math

import numpy as np

from . import _numba as _numba_mod
from ._numba import exp, jit, jit_serial, num_threads, numba_kernel, prange
from ._threads import (_one_blas_thread, one_pool, over_ranges, parallel_work, run_split,
                       split_threads)
from ._xp import array_module
from .registry import kernel, reference

BLOCK = 128      # rows (queries) and columns (keys) per tile of the CPU tiled version


# ---------------------------------------------------------------- examples
def _shapes(which):
    # (B, H, T, S, D): the bench shape is issue 9's target (batch 8, 16 heads, T 1024, D 64)
    return (8, 16, 1024, 1024, 64) if which == "bench" else (2, 3, 37, 37, 16)


def _example_fwd(rng, which):
    B, H, T, S, D = _shapes(which)
    q = rng.standard_normal((B, H, T, D)).astype("float32")
    k = rng.standard_normal((B, H, S, D)).astype("float32")
    v = rng.standard_normal((B, H, S, D)).astype("float32")
    return (q, k, v), {"causal": True, "scale": None}


def _example_bwd(rng, which):
    (q, k, v), kw = _example_fwd(rng, which)
    o, lse = flash_attention_fwd(q, k, v, **kw)
    do = rng.standard_normal(o.shape).astype(o.dtype)
    return (q, k, v, o, lse, do), kw


# ---------------------------------------------------------------- helpers
def _compute_dtype(dtype):
    """float64 stays float64; everything else (float16, bfloat16, float32) computes in float32."""
    return np.dtype("float64") if dtype == np.float64 else np.dtype("float32")


def _check(op, q, k, v):
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"{op}: expected q (..., T, D), k (..., S, D), v (..., S, Dv) of the same "
                         f"rank, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2] or q.shape[:-2] != k.shape[:-2] \
            or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"{op}: shapes do not match: q {tuple(q.shape)} (..., T, D), k "
                         f"{tuple(k.shape)} (..., S, D), v {tuple(v.shape)} (..., S, Dv)")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{op}: q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")


def _scale(scale, D):
    return 1.0 / math.sqrt(D) if scale is None else float(scale)


def _shifted_bias(xp, b):
    """b less each of its rows' largest finite entry (0 for a row with none): the same softmax, a
    per-row constant cancelling, with scores of the size of q k^T. Why: a query whose every key
    is masked by a large finite value (Hugging Face's torch.finfo(dtype).min) has a row maximum
    near -3.4e38, where float32 and float64 are spaced far above 1, so lse = m + log(l) lost
    log(l) and the backward's P = exp(s - lse) came out ~1 a key instead of 1 / S: gradients S
    times too large, silently (PyTorch's CPU flash kernel has the same flaw). Shifted, such a row
    gets the softmax of its scores (the constant cancels), where PyTorch's math path rounds the
    scores away and gives uniform weights; a row with a 0 in it (a key left unmasked) is
    unchanged. The row is the bias's, over every key (the causal flag's keys too: the ops never
    give both). blas_v1 takes it from shift_bias_rows (one numba pass)."""
    top = b.max(axis=-1, keepdims=True) if b.shape[-1] else xp.zeros(b.shape[:-1] + (1,), b.dtype)
    return b - xp.where(xp.isfinite(top), top, b.dtype.type(0))


def _causal_keep(xp, t0, t1, s0, s1):
    """Boolean (t1 - t0, s1 - s0): True where key j may be seen by query i (j <= i)."""
    rows = xp.arange(t0, t1)[:, None]
    cols = xp.arange(s0, s1)[None, :]
    return cols <= rows


# ---------------------------------------------------------------- references
@reference("flash_attention_fwd", example=_example_fwd, rtol=1e-4, atol=1e-5)
def flash_attention_fwd(q, k, v, causal=False, scale=None, bias=None):
    """softmax(q k^T * scale (+ bias) (+ causal mask)) v, and the row log-sum-exp of the scores.

    q (..., T, D), k (..., S, D), v (..., S, Dv) -> (o (..., T, Dv), lse (..., T)); bias, where
    given, an additive mask broadcasting to (..., T, S) (-inf: not attended), each of its rows
    less its largest finite entry (_shifted_bias: the same softmax; lse is that of the scores so
    shifted). A row with no key to attend (all -inf) gives o = 0 and lse = -inf. With T = S = 1:
    o = v and lse = q.k * scale."""
    _check("flash_attention_fwd", q, k, v)
    xp = array_module(q)
    ct = _compute_dtype(q.dtype)
    qc, kc, vc = q.astype(ct), k.astype(ct), v.astype(ct)
    T, S = q.shape[-2], k.shape[-2]
    s = (qc @ xp.swapaxes(kc, -1, -2)) * ct.type(_scale(scale, q.shape[-1]))   # (..., T, S)
    if bias is not None:
        s = s + _shifted_bias(xp, bias.astype(ct))
    if causal:
        s = xp.where(_causal_keep(xp, 0, T, 0, S), s, ct.type(-np.inf))
    m = s.max(axis=-1, keepdims=True)
    m = xp.where(m == -np.inf, ct.type(0), m)                 # an empty row: p = 0 below
    p = xp.exp(s - m)
    denom = p.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        o = (p / xp.where(denom == 0, ct.type(1), denom)) @ vc                 # (..., T, Dv)
        lse = (m + xp.log(denom))[..., 0]
    return o.astype(q.dtype), lse


@reference("flash_attention_bwd", example=_example_bwd, rtol=1e-4, atol=1e-4)
def flash_attention_bwd(q, k, v, o, lse, do, causal=False, scale=None, bias=None):
    """Gradients of flash_attention_fwd's o with respect to q, k, v, given do = dL/do (not to
    bias: a mask).

    q (..., T, D), k (..., S, D), v (..., S, Dv), o, do (..., T, Dv), lse (..., T)
    -> (dq (..., T, D), dk (..., S, D), dv (..., S, Dv))."""
    _check("flash_attention_bwd", q, k, v)
    xp = array_module(q)
    ct = _compute_dtype(q.dtype)
    qc, kc, vc, oc, doc = (a.astype(ct) for a in (q, k, v, o, do))
    T, S = q.shape[-2], k.shape[-2]
    sc = ct.type(_scale(scale, q.shape[-1]))
    s = (qc @ xp.swapaxes(kc, -1, -2)) * sc
    if bias is not None:
        s = s + _shifted_bias(xp, bias.astype(ct))
    lse = lse.astype(ct)[..., None]
    p = xp.exp(s - xp.where(lse == -np.inf, ct.type(np.inf), lse))   # P from lse (0: no key)
    if causal:
        p = xp.where(_causal_keep(xp, 0, T, 0, S), p, ct.type(0))
    dv = xp.swapaxes(p, -1, -2) @ doc
    dp = doc @ xp.swapaxes(vc, -1, -2)
    delta = (doc * oc).sum(axis=-1, keepdims=True)              # rowsum(do * o) = rowsum(P * dP)
    ds = p * (dp - delta)
    dq = (ds @ kc) * sc
    dk = (xp.swapaxes(ds, -1, -2) @ qc) * sc
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)


# ---------------------------------------------------------------- numpy_tiled_v1
def _tiled_ok(q, k, v):
    return (type(q) is np.ndarray and q.dtype in (np.float32, np.float64)
            and q.dtype == k.dtype == v.dtype and q.shape[-2] > 0 and k.shape[-2] > 0)


@kernel("flash_attention_fwd", device="cpu", impl="numpy_tiled_v1", default=True)
def flash_attention_fwd_tiled(q, k, v, causal=False, scale=None, bias=None):
    _check("flash_attention_fwd", q, k, v)
    if not _tiled_ok(q, k, v) or bias is not None:
        return NotImplemented
    lead, (T, D), S, Dv = q.shape[:-2], q.shape[-2:], k.shape[-2], v.shape[-1]
    sc = q.dtype.type(_scale(scale, D))
    q3, k3, v3 = (a.reshape(-1, *a.shape[-2:]) for a in (q, k, v))   # (BH, T|S, D|Dv)
    o = np.empty((q3.shape[0], T, Dv), q.dtype)
    lse = np.empty((q3.shape[0], T), q.dtype)
    for t0 in range(0, T, BLOCK):
        t1 = min(t0 + BLOCK, T)
        qb = q3[:, t0:t1] * sc                                       # (BH, bt, D)
        m = np.full((q3.shape[0], t1 - t0, 1), -np.inf, q.dtype)     # running row max
        row_sum = np.zeros_like(m)                                   # running row sum l
        acc = np.zeros((q3.shape[0], t1 - t0, Dv), q.dtype)          # unnormalised output
        s_end = min(S, t1) if causal else S                          # keys past t1 are masked
        for s0 in range(0, s_end, BLOCK):
            s1 = min(s0 + BLOCK, s_end)
            s = qb @ k3[:, s0:s1].transpose(0, 2, 1)                 # (BH, bt, bs)
            if causal and s1 - 1 > t0:                               # tile crosses the diagonal
                s = np.where(_causal_keep(np, t0, t1, s0, s1), s, -np.inf)
            m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
            p = np.exp(s - m_new)
            alpha = np.exp(m - m_new)                                # rescale what came before
            row_sum = row_sum * alpha + p.sum(axis=-1, keepdims=True)
            acc = acc * alpha + p @ v3[:, s0:s1]
            m = m_new
        o[:, t0:t1] = acc / row_sum
        lse[:, t0:t1] = (m + np.log(row_sum))[..., 0]
    return o.reshape(*lead, T, Dv), lse.reshape(*lead, T)


@kernel("flash_attention_bwd", device="cpu", impl="numpy_tiled_v1", default=True)
def flash_attention_bwd_tiled(q, k, v, o, lse, do, causal=False, scale=None, bias=None):
    _check("flash_attention_bwd", q, k, v)
    if not _tiled_ok(q, k, v) or o.dtype != q.dtype or do.dtype != q.dtype or bias is not None:
        return NotImplemented
    lead, (T, D), S = q.shape[:-2], q.shape[-2:], k.shape[-2]
    sc = q.dtype.type(_scale(scale, D))
    q3, k3, v3, o3, do3 = (a.reshape(-1, *a.shape[-2:]) for a in (q, k, v, o, do))
    lse3 = lse.reshape(-1, T, 1).astype(q.dtype)
    delta = (do3 * o3).sum(axis=-1, keepdims=True)                   # (BH, T, 1)
    dq = np.zeros_like(q3)
    dk = np.empty_like(k3)
    dv = np.empty_like(v3)
    for s0 in range(0, S, BLOCK):                                    # one key block at a time
        s1 = min(s0 + BLOCK, S)
        kb, vb = k3[:, s0:s1], v3[:, s0:s1]
        dk_acc = np.zeros_like(kb)
        dv_acc = np.zeros_like(vb)
        t_start = (s0 // BLOCK) * BLOCK if causal else 0             # earlier queries see none
        for t0 in range(min(t_start, T), T, BLOCK):
            t1 = min(t0 + BLOCK, T)
            s = (q3[:, t0:t1] @ kb.transpose(0, 2, 1)) * sc          # (BH, bt, bs)
            p = np.exp(s - lse3[:, t0:t1])
            if causal and s1 - 1 > t0:
                p = np.where(_causal_keep(np, t0, t1, s0, s1), p, 0)
            dv_acc += p.transpose(0, 2, 1) @ do3[:, t0:t1]
            dp = do3[:, t0:t1] @ vb.transpose(0, 2, 1)
            ds = p * (dp - delta[:, t0:t1])
            dq[:, t0:t1] += (ds @ kb) * sc
            dk_acc += (ds.transpose(0, 2, 1) @ q3[:, t0:t1]) * sc
        dk[:, s0:s1] = dk_acc
        dv[:, s0:s1] = dv_acc
    return (dq.reshape(q.shape), dk.reshape(*lead, S, D), dv.reshape(*lead, S, v.shape[-1]))


# ---------------------------------------------------------------- numba_v1
NUMBA_BLOCK = 64     # query rows and key columns per tile of the numba version
NUMBA_MAX_SCORES = 128 * 128   # larger heads (T * S scores) run numpy_tiled_v1: BLAS wins there


@jit_serial
def _fwd_head(q, k, v, o, lse, sc, causal, s_buf, m_buf, l_buf):
    """One head: q (T, D), k (S, D), v (S, Dv) -> o (T, Dv), lse (T,). s_buf, m_buf, l_buf
    (NUMBA_BLOCK,) scratch: one row of scores, the running max and sum of a query block."""
    T, D = q.shape
    S, Dv = v.shape
    zero, one = q.dtype.type(0), q.dtype.type(1)
    ninf = q.dtype.type(-np.inf)
    for i0 in range(0, T, NUMBA_BLOCK):
        i1 = min(i0 + NUMBA_BLOCK, T)
        for i in range(i0, i1):
            m_buf[i - i0] = ninf
            l_buf[i - i0] = zero
            oi = o[i]
            for d in range(Dv):
                oi[d] = zero
        s_end = min(S, i1) if causal else S              # keys past the block's last row: masked
        for j0 in range(0, s_end, NUMBA_BLOCK):
            j1 = min(j0 + NUMBA_BLOCK, s_end)
            for i in range(i0, i1):
                je = min(j1, i + 1) if causal else j1     # query i sees keys j <= i
                if je <= j0:
                    continue
                n = je - j0
                qi, oi = q[i], o[i]
                mx = ninf
                for j in range(j0, je):
                    kj = k[j]
                    acc = zero
                    for d in range(D):
                        acc += qi[d] * kj[d]
                    acc *= sc
                    s_buf[j - j0] = acc
                    mx = max(mx, acc)
                m_old = m_buf[i - i0]
                m_new = max(m_old, mx)
                alpha = exp(m_old - m_new)                   # rescales what came before
                rs = zero
                for jj in range(n):
                    p = exp(s_buf[jj] - m_new)
                    s_buf[jj] = p
                    rs += p
                m_buf[i - i0] = m_new
                l_buf[i - i0] = l_buf[i - i0] * alpha + rs
                for d in range(Dv):
                    oi[d] *= alpha
                for j in range(j0, je):
                    p = s_buf[j - j0]
                    vj = v[j]
                    for d in range(Dv):
                        oi[d] += p * vj[d]
        for i in range(i0, i1):
            l = l_buf[i - i0]
            inv = one / l
            oi = o[i]
            for d in range(Dv):
                oi[d] *= inv
            lse[i] = m_buf[i - i0] + np.log(l)


@jit_serial
def _bwd_head(q, k, v, o, lse, do, dq, dk, dv, sc, causal, p_buf, ds_buf, delta):
    """One head's dq (T, D), dk (S, D), dv (S, Dv), by key blocks, P recomputed from lse.
    p_buf, ds_buf (NUMBA_BLOCK,), delta (T,) scratch."""
    T, D = q.shape
    S, Dv = v.shape
    zero = q.dtype.type(0)
    for i in range(T):
        doi, oi, dqi = do[i], o[i], dq[i]
        acc = zero
        for d in range(Dv):
            acc += doi[d] * oi[d]
        delta[i] = acc                                    # rowsum(do * o) = rowsum(P * dP)
        for d in range(D):
            dqi[d] = zero
    for j in range(S):
        dkj, dvj = dk[j], dv[j]
        for d in range(D):
            dkj[d] = zero
        for d in range(Dv):
            dvj[d] = zero
    for j0 in range(0, S, NUMBA_BLOCK):
        j1 = min(j0 + NUMBA_BLOCK, S)
        for i in range(j0 if causal else 0, T):          # earlier queries see none of the block
            je = min(j1, i + 1) if causal else j1
            n = je - j0
            qi, doi, dqi = q[i], do[i], dq[i]
            li, di = lse[i], delta[i]
            for j in range(j0, je):
                kj = k[j]
                acc = zero
                for d in range(D):
                    acc += qi[d] * kj[d]
                p_buf[j - j0] = acc
            for jj in range(n):
                p_buf[jj] = exp(p_buf[jj] * sc - li)
            for j in range(j0, je):
                vj = v[j]
                acc = zero
                for d in range(Dv):
                    acc += doi[d] * vj[d]
                ds_buf[j - j0] = acc
            for jj in range(n):
                ds_buf[jj] = p_buf[jj] * (ds_buf[jj] - di) * sc   # dS, times the scale
            for j in range(j0, je):
                p, ds = p_buf[j - j0], ds_buf[j - j0]
                kj, dkj, dvj = k[j], dk[j], dv[j]
                for d in range(Dv):
                    dvj[d] += p * doi[d]
                for d in range(D):
                    dkj[d] += ds * qi[d]
                    dqi[d] += ds * kj[d]


@jit_serial
def _fwd_heads(q, k, v, o, lse, sc, causal, s_buf, m_buf, l_buf):
    for h in range(q.shape[0]):
        _fwd_head(q[h], k[h], v[h], o[h], lse[h], sc, causal, s_buf[0], m_buf[0], l_buf[0])


@jit_serial
def _bwd_heads(q, k, v, o, lse, do, dq, dk, dv, sc, causal, p_buf, ds_buf, delta):
    for h in range(q.shape[0]):
        _bwd_head(q[h], k[h], v[h], o[h], lse[h], do[h], dq[h], dk[h], dv[h], sc, causal,
                  p_buf[0], ds_buf[0], delta[0])


def _numba_ok(*arrays):
    """NumPy float32/float64 arrays of q's dtype, rank >= 2, none empty."""
    dtype = getattr(arrays[0], "dtype", None)
    return dtype in (np.float32, np.float64) and all(
        type(a) is np.ndarray and a.ndim >= 2 and a.dtype == dtype and a.size for a in arrays)


def _bwd_ok(q, k, v, o, lse, do):
    """The backward's arrays as the CPU kernels take them (_numba_ok, and o, do, lse shaped
    to q and v)."""
    return (_numba_ok(q, k, v, o, do) and type(lse) is np.ndarray and o.shape == do.shape
            and o.shape == (*q.shape[:-1], v.shape[-1]) and lse.shape == q.shape[:-1])


def _heads(a):
    """a (..., N, M) as a C-contiguous (BH, N, M)."""
    return np.ascontiguousarray(a.reshape(-1, *a.shape[-2:]))


def _stacks(a):
    """a (..., N, M) as (U, h, N, M): U its first leading dim, h the product of the others (1 for
    a 3-D a). A view, without the copy _heads makes, where the leading dims allow, as for the
    (B, H, T, D) heads a model gets by transposing (B, T, H, D): BLAS reads each head's matrix
    with its row stride (the baby GPT's step: 32 copies of heads, 1.7 ms a step, went)."""
    if a.strides[-1] != a.itemsize:            # BLAS needs unit steps along rows
        a = np.ascontiguousarray(a)
    if a.ndim < 4:
        return a.reshape((1,) * (4 - a.ndim) + a.shape) if a.ndim == 2 else a[:, None]
    return a.reshape(a.shape[0], -1, *a.shape[-2:])


def _laid_out_as(a, shape=None):
    """An empty array of `shape` (a's by default) whose memory order follows a's strides, as
    PyTorch's empty_like keeps a layout: the heads a model makes by transposing (B, T, H, D) to
    (B, H, T, D) give an output that is (B, T, H, D) in memory, so the model's
    `y.transpose(1, 2).contiguous()` after attention copies nothing (PyTorch's CPU flash
    attention allocates its output so too)."""
    order = sorted(range(a.ndim), key=lambda d: -a.strides[d])        # outermost first
    shape = a.shape if shape is None else shape
    return np.empty([shape[d] for d in order], a.dtype).transpose(np.argsort(order))


def _rows_unit(*arrays):
    """4-D arrays with unit steps along rows: what _stacks takes as they are (an identity
    reshape, a view), so an array laid out as one of them stays a view there too."""
    return all(a.ndim == 4 and a.strides[-1] == a.itemsize for a in arrays)


def _address(a):
    return a.__array_interface__["data"][0]


def _distinct_elements(a):
    """Whether each element of the view a has an address of its own: no 0 step (an expand) and
    no dims overlapping (each step, from the smallest, clears the span of the dims inside it).
    A view that repeats elements cannot take its gradient in place: dq of q = x.expand(...)
    would be written over itself where its elements must be summed."""
    span = a.itemsize
    for step, n in sorted((abs(st), n) for st, n in zip(a.strides, a.shape) if n > 1):
        if step < span:
            return False
        span += step * (n - 1)
    return True


def _grads_laid_out(q, k, v):
    """dq, dk, dv, each laid out as its input (_laid_out_as); and where q, k, v are disjoint
    views that together make up one array (a model's `qkv.split(C, dim=2)`), views of one new
    array in the same places: the split's backward then gives that array as its gradient without
    concatenating (ops/shape.py's Split). The baby GPT's step, 8 processes of each in turn on
    the 2-core Xeon VM: 43.5-45.5 -> 41.4-43.4 ms (its 4 concatenations of 1.2 MB, 12 copies by
    reshapes and 4 by contiguous() went; the kernels' strided writes cost ~20 us a call back:
    (12, 4, 64, 32) causal, fwd 276 -> 294 us, bwd 575 -> 595)."""
    base = q.base
    if (type(base) is np.ndarray and k.base is base and v.base is base and base.dtype == q.dtype
            and base.flags.c_contiguous and q.shape == k.shape == v.shape
            and q.strides == k.strides == v.strides and 3 * q.size == base.size
            and _distinct_elements(q)
            and not (np.shares_memory(q, k) or np.shares_memory(q, v)
                     or np.shares_memory(k, v))):
        g, start = np.empty_like(base), _address(base)
        return tuple(np.ndarray(a.shape, a.dtype, g, _address(a) - start, a.strides)
                     for a in (q, k, v))
    return tuple(_laid_out_as(a) for a in (q, k, v))


def _bias_heads(bias, q, S):
    """{} without a bias; else {"bias": b}, b the bias as (Ub, hb, Tb, S) against _stacks' (U,
    h, T) heads of a 2- to 4-D q (each of Ub, hb, Tb 1 or the whole), in q's dtype; None where
    it does not broadcast so (the reference then runs, or raises)."""
    if bias is None:
        return {}
    nd, full = q.ndim, q.shape[:-1] + (S,)
    if type(bias) is not np.ndarray or not 2 <= nd <= 4 or bias.ndim > nd \
            or bias.dtype.kind != "f":
        return None
    b = bias.reshape((1,) * (nd - bias.ndim) + bias.shape)
    if any(n not in (1, f) for n, f in zip(b.shape, full)):
        return None
    b = np.broadcast_to(b, b.shape[:-1] + (S,))                # (a mask of one key column)
    b = b if nd == 4 else b[:, None] if nd == 3 else b[None, None]
    return {"bias": shift_bias_rows(np.ascontiguousarray(b, dtype=q.dtype))}


def shift_bias_rows(b):
    """_shifted_bias(b) for a NumPy float array b (..., S): b itself where no row needs it (a
    padding mask has a 0 in every row), else a shifted copy; the finite maxima in one numba pass
    (NumPy's max over short rows took 170 us on a (64, 1, 32, 32) mask, this 20). Other arrays
    (CuPy's): the reference's _shifted_bias."""
    S = b.shape[-1] if b.ndim else 0
    if type(b) is not np.ndarray or not S or b.dtype.kind != "f":
        return b if not S else _shifted_bias(array_module(b), b)
    tops = np.empty(b.size // S, b.dtype)
    if _row_tops(np.ascontiguousarray(b).reshape(-1, S), tops):
        return b - tops.reshape(b.shape[:-1] + (1,))
    return b


@jit_serial
def _row_tops(b, tops):
    """tops[r] = the largest finite entry of row r of b (rows, S), 0 for a row with none (the
    reference's _shifted_bias); whether any is not 0. One pass, reading only."""
    ninf, inf, zero = b.dtype.type(-np.inf), b.dtype.type(np.inf), b.dtype.type(0)
    shift = False
    for r in range(b.shape[0]):
        row, top = b[r], ninf
        for j in range(b.shape[1]):
            top = row[j] if row[j] > top else top
        tops[r] = top if ninf < top < inf else zero
        shift |= tops[r] != zero
    return shift


def _forward_by_heads(q, k, v, causal, scale, max_scores, run, heads=_heads, bias=None):
    """The CPU versions' forward around `run(q3, k3, v3, o, lse, sc, causal)`, which fills o
    (BH, T, Dv) and lse (BH, T) from the heads, heads(a): (BH, T|S, D|Dv) (_heads) or
    (U, h, ...) (_stacks); larger heads than max_scores (T * S) go to numpy_tiled_v1. A bias
    (blas_v1's) goes to run as bias=(Ub, hb, Tb, S) (_bias_heads)."""
    if not _numba_ok(q, k, v):
        return NotImplemented                             # the reference runs (or raises)
    _check("flash_attention_fwd", q, k, v)
    lead, (T, D), S, Dv = q.shape[:-2], q.shape[-2:], k.shape[-2], v.shape[-1]
    extra = _bias_heads(bias, q, S)
    if extra is None:
        return NotImplemented                             # a bias it does not take
    if T * S > max_scores:
        return flash_attention_fwd_tiled(q, k, v, causal, scale, bias)
    q3, k3, v3 = heads(q), heads(k), heads(v)
    if heads is _stacks and _rows_unit(q):           # o laid out as q is (_stacks: a view)
        o = _laid_out_as(q, q.shape[:-1] + (Dv,))
    else:
        o = np.empty((math.prod(lead), T, Dv), q.dtype)
    lse = np.empty((math.prod(lead), T), q.dtype)
    run(q3, k3, v3, o, lse, q.dtype.type(_scale(scale, D)), bool(causal), **extra)
    return o.reshape(*lead, T, Dv), lse.reshape(*lead, T)


def _backward_by_heads(q, k, v, o, lse, do, causal, scale, max_scores, run, heads=_heads,
                       bias=None):
    """The CPU versions' backward around `run(q3, k3, v3, o3, lse2, do3, dq, dk, dv, sc,
    causal)` on heads(a) (see _forward_by_heads; dq, dk, dv shaped as q3, k3, v3, lse2 (BH, T));
    larger heads than max_scores go to numpy_tiled_v1."""
    if not _bwd_ok(q, k, v, o, lse, do):
        return NotImplemented
    _check("flash_attention_bwd", q, k, v)
    lead, (T, D), S, Dv = q.shape[:-2], q.shape[-2:], k.shape[-2], v.shape[-1]
    extra = _bias_heads(bias, q, S)
    if extra is None:
        return NotImplemented
    if T * S > max_scores:
        return flash_attention_bwd_tiled(q, k, v, o, lse, do, causal, scale, bias)
    q3, k3, v3, o3, do3 = (heads(a) for a in (q, k, v, o, do))
    lse2 = np.ascontiguousarray(lse.reshape(-1, T), dtype=q.dtype)
    if heads is _stacks and _rows_unit(q, k, v):     # as q, k, v are laid out (_stacks: views)
        dq, dk, dv = _grads_laid_out(q, k, v)
    else:
        dq, dk, dv = (np.empty(a.shape, q.dtype) for a in (q3, k3, v3))
    run(q3, k3, v3, o3, lse2, do3, dq, dk, dv, q.dtype.type(_scale(scale, D)), bool(causal),
        **extra)
    return dq.reshape(q.shape), dk.reshape(*lead, S, D), dv.reshape(*lead, S, Dv)


def _numba_forward(q3, k3, v3, o, lse, sc, causal):
    (BH, T, D), S = q3.shape, k3.shape[1]

    def heads(lo, hi):                  # each range its own scratch rows
        s_buf, m_buf, l_buf = (np.empty((1, NUMBA_BLOCK), q3.dtype) for _ in range(3))
        _fwd_heads(q3[lo:hi], k3[lo:hi], v3[lo:hi], o[lo:hi], lse[lo:hi], sc, causal, s_buf,
                   m_buf, l_buf)
    over_ranges(heads, BH, BH * T * S, ns_per_element=D)     # ~2D flops a (query, key) pair


def _numba_backward(q3, k3, v3, o3, lse2, do3, dq, dk, dv, sc, causal):
    (BH, T, D), S = q3.shape, k3.shape[1]

    def heads(lo, hi):                  # each range its own scratch rows
        p_buf, ds_buf = (np.empty((1, NUMBA_BLOCK), q3.dtype) for _ in range(2))
        delta = np.empty((1, T), q3.dtype)
        _bwd_heads(q3[lo:hi], k3[lo:hi], v3[lo:hi], o3[lo:hi], lse2[lo:hi], do3[lo:hi],
                   dq[lo:hi], dk[lo:hi], dv[lo:hi], sc, causal, p_buf, ds_buf, delta)
    over_ranges(heads, BH, BH * T * S, ns_per_element=2 * D)


@numba_kernel("flash_attention_fwd", impl="numba_v1", default=True)
def flash_attention_fwd_numba(q, k, v, causal=False, scale=None, bias=None):
    if bias is not None:
        return NotImplemented
    return _forward_by_heads(q, k, v, causal, scale, NUMBA_MAX_SCORES, _numba_forward)


@numba_kernel("flash_attention_bwd", impl="numba_v1", default=True)
def flash_attention_bwd_numba(q, k, v, o, lse, do, causal=False, scale=None, bias=None):
    if bias is not None:
        return NotImplemented
    return _backward_by_heads(q, k, v, o, lse, do, causal, scale, NUMBA_MAX_SCORES,
                              _numba_backward)


# ---------------------------------------------------------------- blas_v1
BLAS_MAX_SCORES = 256 * 256    # larger heads run numpy_tiled_v1 (scores kept per tile, not head)
BLAS_CHUNK_SCORES = 1 << 20    # scores in memory at once per thread: heads go in chunks of this


# The scores are kept keys by rows, S^T = K Q^T (n, S, T): the softmax runs down each column
# (over keys, for one query), so its running max and sum are per-query vectors that the loops
# update elementwise along the rows, where every loop vectorises; a softmax along rows of 64
# scores is a chain of horizontal reductions (the baby GPT's heads, (48, 64, 64) causal, 2-core
# Xeon, fresh scores each call: 170 against 330 us; the whole forward 0.43-0.79 against
# 0.73-0.96 ms in alternating processes).
@jit_serial
def _softmax_keys(st, sc, causal, lse, m, l, bias):
    """st (n, S, T) raw scores q.k, keys by rows -> P^T = softmax(s * sc + bias) over keys, in
    place (0 where causal masks key j > query i); lse (n, T) the queries' log-sum-exp. m, l (T,)
    scratch. bias None, or (1 | n, 1 | T, S) added to the scores; a query whose every score is
    -inf gets P = 0 and lse = -inf."""
    zero, one, ninf = st.dtype.type(0), st.dtype.type(1), st.dtype.type(-np.inf)
    n, S, T = st.shape
    for h in range(n):
        for i in range(T):
            m[i], l[i] = ninf, zero
        for j in range(S):
            for i in range(T):
                v = st[h, j, i] * sc
                if bias is not None:
                    v += bias[h if bias.shape[0] > 1 else 0, i if bias.shape[1] > 1 else 0, j]
                if causal and i < j:
                    v = ninf                       # exp(-inf - m) = 0 below
                st[h, j, i] = v
                m[i] = v if v > m[i] else m[i]
        for i in range(T):
            m[i] = zero if m[i] == ninf else m[i]  # no key: exp(-inf - 0) = 0 below, not NaN
        for j in range(S):
            for i in range(T):
                p = exp(st[h, j, i] - m[i])
                st[h, j, i] = p
                l[i] += p
        for i in range(T):
            lse[h, i] = m[i] + np.log(l[i])        # (-inf for no key: log 0)
            l[i] = one / l[i] if l[i] > zero else zero
        for j in range(S):
            for i in range(T):
                st[h, j, i] *= l[i]


@jit_serial
def _probabilities(s, sc, causal, lse, bias):
    """s (n, T, S) raw scores -> P = exp(s * sc + bias - lse) in place (0 above the diagonal:
    exp(-inf) there, one loop over every key; a loop starting past the diagonal does not
    vectorise, numba not knowing its index is >= 0: 120 against 78 us on the baby GPT's heads,
    2-core Xeon). bias None or (1 | n, 1 | T, S), as _softmax_keys'; lse -inf (no key): P = 0."""
    ninf, inf = s.dtype.type(-np.inf), s.dtype.type(np.inf)
    n, T, S = s.shape
    for h in range(n):
        for i in range(T):
            m = lse[h, i]
            m = inf if m == ninf else m
            if bias is None:
                for j in range(S):
                    x = s[h, i, j] * sc - m
                    if causal and j > i:
                        x = ninf
                    s[h, i, j] = exp(x)
            else:
                b = bias[h if bias.shape[0] > 1 else 0, i if bias.shape[1] > 1 else 0]
                for j in range(S):
                    x = s[h, i, j] * sc + b[j] - m
                    if causal and j > i:
                        x = ninf
                    s[h, i, j] = exp(x)


@jit_serial
def _score_grads(p, dp, do, o, sc):
    """dS * sc = P * (dP - rowsum(dO * O)) * sc, into dp (U, h, T, S); do, o (U, h, T, Dv) of
    any strides."""
    for u in range(p.shape[0]):
        for h in range(p.shape[1]):
            for i in range(p.shape[2]):
                delta = p.dtype.type(0)
                for d in range(do.shape[3]):
                    delta += do[u, h, i, d] * o[u, h, i, d]
                for j in range(p.shape[3]):
                    dp[u, h, i, j] = p[u, h, i, j] * (dp[u, h, i, j] - delta) * sc


def _over_heads(work, U, h, T, S, D):
    """work(lo, hi) over chunks of the U stacks of h heads, each chunk at most BLAS_CHUNK_SCORES
    scores (one stack at least), the chunks split over threads when worth it (their products on
    one BLAS thread each)."""
    threads = split_threads(U) if parallel_work(U * h * T * S, ns_per_element=D) else 1
    per_thread = -(-U // threads)
    chunk = max(1, min(per_thread, BLAS_CHUNK_SCORES // (h * T * S)))
    per_thread = -(-per_thread // chunk) * chunk            # whole chunks per thread
    n = -(-U // per_thread)

    def share(i):
        for lo in range(i * per_thread, min(U, (i + 1) * per_thread), chunk):
            work(lo, min(U, lo + chunk, (i + 1) * per_thread))
    run_split(share, n, n)


def _transposed(a):
    """a (..., N, M) as a C-contiguous (..., M, N): NumPy's stacked matmul took twice as long with
    a transposed view as its second operand as with this copy of it (the baby GPT's K Q^T on a
    2-core Xeon: 264 against 133 us, the copy included; a transposed first operand cost nothing)."""
    return np.ascontiguousarray(a.swapaxes(-1, -2))


def _blas_forward(q4, k4, v4, o, lse, sc, causal, bias=None):
    (U, h, T, _), S = q4.shape, k4.shape[2]
    o4, lse3 = o.reshape(U, h, T, -1), lse.reshape(U, h, T)
    if _native_ok(q4, k4, v4, o4):
        return _one_blas_thread(lambda: _native_forward(
            q4, k4, v4, o4, lse3, sc, causal, _gemm_address(q4.dtype), _pieces(U, h), bias))

    def heads(lo, hi):
        st = np.matmul(k4[lo:hi], _transposed(q4[lo:hi]))               # (n, h, S, T)
        m, l = np.empty((2, T), q4.dtype)
        _softmax_keys(st.reshape(-1, S, T), sc, causal, lse3[lo:hi].reshape(-1, T), m, l,
                      _bias_of(bias, lo, hi, h))
        np.matmul(st.swapaxes(-1, -2), v4[lo:hi], out=o4[lo:hi])
    _over_heads(heads, U, h, T, S, q4.shape[3])


def _bias_of(bias, lo, hi, h):
    """The (Ub, hb, Tb, S) bias of the heads of stacks lo:hi as (n | 1, Tb, S), or None."""
    if bias is None:
        return None
    if bias.shape[0] == 1 and bias.shape[1] == 1:
        return bias[0]
    b = np.broadcast_to(bias[lo:hi] if bias.shape[0] > 1 else bias, (hi - lo, h) + bias.shape[2:])
    return np.ascontiguousarray(b).reshape(-1, *bias.shape[2:])


def _blas_backward(q4, k4, v4, o4, lse2, do4, dq, dk, dv, sc, causal, bias=None):
    (U, h, T, _), S = q4.shape, k4.shape[2]
    lse3 = lse2.reshape(U, h, T)
    if _native_ok(q4, k4, v4, o4, do4, dq, dk, dv):
        return _one_blas_thread(lambda: _native_backward(
            q4, k4, v4, o4, lse3, do4, dq, dk, dv, sc, causal, _gemm_address(q4.dtype),
            _pieces(U, h), bias))

    def heads(lo, hi):
        p = np.matmul(q4[lo:hi], _transposed(k4[lo:hi]))                # (n, h, T, S)
        _probabilities(p.reshape(-1, T, S), sc, causal, lse3[lo:hi].reshape(-1, T),
                       _bias_of(bias, lo, hi, h))
        np.matmul(p.swapaxes(-1, -2), do4[lo:hi], out=dv[lo:hi])
        ds = np.matmul(do4[lo:hi], _transposed(v4[lo:hi]))              # dP, then dS * sc
        _score_grads(p, ds, do4[lo:hi], o4[lo:hi], sc)
        np.matmul(ds, k4[lo:hi], out=dq[lo:hi])
        np.matmul(ds.swapaxes(-1, -2), q4[lo:hi], out=dk[lo:hi])
    _over_heads(heads, U, h, T, S, 2 * q4.shape[3])


# In one_pool() the chunks of heads cannot go to tinygen's threads (a second pool beside numba's
# spinning one) and NumPy's stacked products would keep them on one: the heads run as one prange
# loop on numba's pool instead, each calling BLAS (one thread: _one_blas_thread) by address for
# its products (_numba.cblas_gemm, on the same strided views), the same numba passes between.
_NO, _TRANS = np.int32(111), np.int32(112)
_gemm_address = _numba_mod.gemm_address


def _native_ok(*arrays):
    """one_pool() and BLAS callable from numba for these (U, h, N, M) views: non-negative
    strides, unit steps along rows, rows at least M apart (BLAS's leading dimension; NumPy may
    give a length-1 axis any stride, and BLAS skips a call whose lda is below M)."""
    return (one_pool() and _gemm_address(arrays[0].dtype) is not None
            and all(min(a.strides) >= 0 and a.strides[-1] == a.itemsize
                    and a.strides[-2] >= a.shape[-1] * a.itemsize for a in arrays))


@jit_serial
def _head_address(a, u, g):
    return np.uintp(a.ctypes.data + u * a.strides[0] + g * a.strides[1])


@jit_serial
def _head_bias(bias, u, g):
    """The (1, Tb, S) bias of head (u, g) of a (Ub, hb, Tb, S) bias."""
    ub, gb = u if bias.shape[0] > 1 else 0, g if bias.shape[1] > 1 else 0
    return bias[ub, gb:gb + 1]


@jit_serial
def _row_step(a):
    return np.int64(a.strides[2] // a.itemsize)


@jit
def _native_forward(q4, k4, v4, o4, lse3, sc, causal, gemm, pieces, bias):
    U, h, T, D = q4.shape
    S, Dv, n = k4.shape[2], v4.shape[3], q4.shape[0] * q4.shape[1]
    one, zero = q4.dtype.type(1), q4.dtype.type(0)
    step = (n + pieces - 1) // pieces
    for p in prange(pieces):
        st = np.empty((S, T), q4.dtype)                 # scores K Q^T, keys by rows
        m, l = np.empty(T, q4.dtype), np.empty(T, q4.dtype)
        for unit in range(p * step, min(n, (p + 1) * step)):
            u, g = unit // h, unit % h
            _numba_mod.cblas_gemm(gemm, _NO, _TRANS, S, T, D, one, _head_address(k4, u, g),
                                  _row_step(k4), _head_address(q4, u, g), _row_step(q4), zero,
                                  np.uintp(st.ctypes.data), np.int64(T))
            if bias is None:
                _softmax_keys(st.reshape(1, S, T), sc, causal, lse3[u, g:g + 1], m, l, None)
            else:
                _softmax_keys(st.reshape(1, S, T), sc, causal, lse3[u, g:g + 1], m, l,
                              _head_bias(bias, u, g))
            _numba_mod.cblas_gemm(gemm, _TRANS, _NO, T, Dv, S, one, np.uintp(st.ctypes.data),
                                  np.int64(T), _head_address(v4, u, g), _row_step(v4), zero,
                                  _head_address(o4, u, g), _row_step(o4))


@jit
def _native_backward(q4, k4, v4, o4, lse3, do4, dq, dk, dv, sc, causal, gemm, pieces, bias):
    U, h, T, D = q4.shape
    S, Dv, n = k4.shape[2], v4.shape[3], q4.shape[0] * q4.shape[1]
    one, zero = q4.dtype.type(1), q4.dtype.type(0)
    step = (n + pieces - 1) // pieces
    for p in prange(pieces):
        pr, ds = np.empty((1, 1, T, S), q4.dtype), np.empty((1, 1, T, S), q4.dtype)
        pa, da = np.uintp(pr.ctypes.data), np.uintp(ds.ctypes.data)
        for unit in range(p * step, min(n, (p + 1) * step)):
            u, g = unit // h, unit % h
            qa, ka, va = _head_address(q4, u, g), _head_address(k4, u, g), _head_address(v4, u, g)
            doa, lq, lk, lv = _head_address(do4, u, g), _row_step(q4), _row_step(k4), _row_step(v4)
            gemm_ = _numba_mod.cblas_gemm
            gemm_(gemm, _NO, _TRANS, T, S, D, one, qa, lq, ka, lk, zero, pa, np.int64(S))
            if bias is None:
                _probabilities(pr[0], sc, causal, lse3[u, g:g + 1], None)
            else:
                _probabilities(pr[0], sc, causal, lse3[u, g:g + 1], _head_bias(bias, u, g))
            gemm_(gemm, _TRANS, _NO, S, Dv, T, one, pa, np.int64(S), doa, _row_step(do4), zero,
                  _head_address(dv, u, g), _row_step(dv))                     # dV = P^T dO
            gemm_(gemm, _NO, _TRANS, T, S, Dv, one, doa, _row_step(do4), va, lv, zero, da,
                  np.int64(S))                                                 # dP = dO V^T
            _score_grads(pr, ds, do4[u:u + 1, g:g + 1], o4[u:u + 1, g:g + 1], sc)
            gemm_(gemm, _NO, _NO, T, D, S, one, da, np.int64(S), ka, lk, zero,
                  _head_address(dq, u, g), _row_step(dq))                      # dQ = dS K
            gemm_(gemm, _TRANS, _NO, S, D, T, one, da, np.int64(S), qa, lq, zero,
                  _head_address(dk, u, g), _row_step(dk))                      # dK = dS^T Q


def _pieces(U, h):
    return max(1, min(num_threads(), U * h))


@numba_kernel("flash_attention_fwd", impl="blas_v1", default=True)
def flash_attention_fwd_blas(q, k, v, causal=False, scale=None, bias=None):
    """blas_v1: heads of at most BLAS_MAX_SCORES scores with their (T, S) scores in memory, in
    chunks of heads (BLAS_CHUNK_SCORES): the two products as BLAS calls on stacks of heads, the
    softmax one numba pass over the scores (larger heads: numpy_tiled_v1, memory linear in T).
    2 cores, 2 threads, float32 causal, numba_v1 against blas_v1: (12, 4, 64, 32) fwd 0.52 vs
    0.36 ms, bwd 1.10 vs 0.56; (8, 4, 128, 64) fwd 2.59 vs 2.09, bwd 3.77 vs 2.32; and against
    numpy_tiled_v1 at (4, 4, 256, 64) fwd 3.87 vs 1.97, bwd 6.47 vs 4.20 (at (2, 4, 512, 64)
    neither wins in every run)."""
    return _forward_by_heads(q, k, v, causal, scale, BLAS_MAX_SCORES, _blas_forward, _stacks,
                             bias)


@numba_kernel("flash_attention_bwd", impl="blas_v1", default=True)
def flash_attention_bwd_blas(q, k, v, o, lse, do, causal=False, scale=None, bias=None):
    """blas_v1: P recomputed from lse in one numba pass over q k^T, then dV = P^T dO,
    dP = dO V^T, dS (one numba pass), dQ = dS K, dK = dS^T Q as BLAS calls on stacks of heads."""
    return _backward_by_heads(q, k, v, o, lse, do, causal, scale, BLAS_MAX_SCORES,
                              _blas_backward, _stacks, bias)
