"""Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention.

    attn = softmax(q @ k^T * scale + mask) ;  out = dropout(attn) @ v

Without dropout, on equal leading dims, it runs the fused flash-attention kernels of
kernels/attention.py (FlashAttention, below), whose backward is a Function of its own
(FlashAttentionBackward: the backward kernel forward, Tensor ops backward): without a mask, with
is_causal, or, on the CPU, with a mask that requires no gradient (a padding mask), added to the
scores inside the kernel. Otherwise it is the readable composition of matmul, softmax and dropout
(PyTorch's "math" path), whose first and second derivatives come from those ops.
"""
from __future__ import annotations

import math

import numpy as np
from tinygen_kernels.attention import shift_bias_rows

from ..autograd import function as _fn
from ..autograd.function import Function, wrap, wrap_constant
from .activation import dropout
from .binary import where
from .softmax import SoftmaxBackward


class FlashAttention(Function):
    """softmax(q k^T * scale [+ bias] [+ causal mask]) v through the kernel table
    (flash_attention_fwd: memory linear in the sequence length). q (..., T, D), k (..., S, D),
    v (..., S, Dv) with equal leading dims; bias None or an additive mask broadcasting to
    (..., T, S), without a gradient (a Tensor input, so a captured step reads it each step)."""

    def forward(self, q, k, v, bias, causal, scale):
        self.causal, self.scale = causal, scale
        o, self.lse = self.kernel("flash_attention_fwd")(q, k, v, causal=causal, scale=scale,
                                                         **_bias_kw(bias))
        # o is saved as an output, so changing it in place before the backward (which reads it:
        # rowsum(dO * O)) is the usual version error, not wrong gradients
        self.save_for_backward(q, k, v, bias, o)
        return o

    def backward(self, do):
        q, k, v, bias, o = self.saved_tensors
        grads = FlashAttentionBackward.apply(q, k, v, do, o._data, self.lse, bias, self.causal,
                                             self.scale)
        return tuple(g if t is not None else None for g, t in zip(grads, self.inputs[:3])) + \
            (None, None, None)


def _bias_kw(bias):
    """The kernels' bias keyword, given only with a bias: the CUDA kernels take none (ops pass
    one on the CPU only: scaled_dot_product_attention)."""
    return {} if bias is None else {"bias": bias}


class FlashAttentionBackward(Function):
    """(dq, dk, dv) of attention, the flash_attention_bwd kernel forward. With P the attention
    weights, dP = dO V^T and dS = P (dP - rowsum(dP P)) (softmax's backward):
        dQ = s dS K,   dK = s dS^T Q,   dV = P^T dO.
    Its backward (given gQ, gK, gV) retraces those steps in reverse, in Tensor ops, with P
    recomputed from q and k: so attention is differentiable to any order."""

    def forward(self, q, k, v, do, o, lse, bias, causal, scale):
        self.causal, self.scale = causal, scale
        self.save_for_backward(q, k, v, do, bias)
        return self.kernel("flash_attention_bwd")(q, k, v, o, lse, do, causal=causal, scale=scale,
                                                  **_bias_kw(bias))

    def backward(self, gq, gk, gv):
        q, k, v, do, bias = self.saved_tensors
        s = self.scale
        p = _weights(q, k, self.causal, s, bias)                           # (..., T, S)
        dp = do @ _mT(v)
        ds = SoftmaxBackward.apply(p, dp, -1)
        # dS feeds dQ = s dS K and dK = s dS^T Q
        g_ds = (gq @ _mT(k) + q @ _mT(gk)) * s
        g_q, g_k = (ds @ gk) * s, (_mT(ds) @ gq) * s
        # dS = softmax_bwd(P, dP); dV = P^T dO
        g_dp = SoftmaxBackward.apply(p, g_ds, -1)
        g_p = (g_ds * (dp - (dp * p).sum(dim=-1, keepdim=True))
               - dp * (g_ds * p).sum(dim=-1, keepdim=True) + do @ _mT(gv))
        # dP = dO V^T; P = softmax(s Q K^T)
        g_do = g_dp @ v + p @ gv
        g_v = _mT(g_dp) @ do
        g_scores = SoftmaxBackward.apply(p, g_p, -1) * s
        g_q = g_q + g_scores @ k
        g_k = g_k + _mT(g_scores) @ q
        return g_q, g_k, g_v, g_do, None, None, None, None, None


def _mask_as_bias(mask, query, S):
    """A mask for the flash kernel: on the CPU, without a gradient, broadcasting to the scores
    (..., L, S) without adding dims: as an additive float mask in query's dtype (a bool mask's
    False as -inf; a float mask as it is: the kernels shift its rows); else None (the math
    path)."""
    scores = tuple(query.shape[:-1]) + (S,)
    if (type(mask._data) is not np.ndarray or type(query._data) is not np.ndarray
            or mask._requires_grad or mask.ndim > query.ndim):
        return None
    try:
        if np.broadcast_shapes(tuple(mask.shape), scores) != scores:
            return None
    except ValueError:
        return None                                 # (the math path raises, naming the shapes)
    if mask.dtype.name == "bool":
        return where(mask, 0.0, float("-inf")).to(query.dtype)
    return mask.to(query.dtype) if mask.dtype.is_floating_point else None


def shifted_mask(mask):
    """A float mask that requires no grad less each of its rows' largest finite entry (0 for a
    row with none), as the flash kernels apply a bias (kernels/attention.py's _shifted_bias: the
    same softmax, without the precision that a row masked everywhere by a large finite value
    loses): for the math path, the double backward and MultiheadAttention's weights, so every
    path gives the same weights."""
    return ShiftRows.apply(mask)


class ShiftRows(Function):
    """shifted_mask's op (no gradient: the masks it takes require none); its output is the mask
    itself where no row needs shifting."""

    is_view = True

    def forward(self, mask):
        return shift_bias_rows(mask)


def _mT(t):
    return t.transpose(-2, -1)


def _weights(q, k, causal, scale, bias=None):
    """softmax(q k^T * scale + bias), the upper triangle masked when causal: (..., T, S)."""
    scores = (q @ _mT(k)) * scale
    if bias is not None:                        # (the ops pass a bias without causal)
        scores = scores + shifted_mask(bias)
    if causal:
        scores = scores.masked_fill(~_causal_keep(q.shape[-2], k.shape[-2], q), float("-inf"))
    return scores.softmax(-1)


def _causal_bias(T, S, like):
    """(T, S) additive causal mask in like's dtype, on its device: 0 where query i may attend
    key j (j <= i), -inf above."""
    xp = like.device.xp
    return wrap_constant(xp.triu(xp.full((T, S), -np.inf, dtype=like._data.dtype), 1))


def _causal_keep(T, S, like):
    """(T, S) bool, True where query i may attend key j (j <= i), on like's device."""
    return wrap_constant(like.device.xp.tril(like.device.xp.ones((T, S), dtype=bool)))


def _check(op, q, k, v):
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, _fn.Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise RuntimeError(f"{op}: expected {name} of at least 2 dims (..., L, E), got shape "
                               f"{tuple(t.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or not q.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected query, key and value of the same floating dtype, got "
                           f"{q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise RuntimeError(f"{op}: query (shape {tuple(q.shape)}) and key (shape "
                           f"{tuple(k.shape)}) must have the same embedding size (last dim)")
    if k.shape[-2] != v.shape[-2]:
        raise RuntimeError(f"{op}: key (shape {tuple(k.shape)}) and value (shape "
                           f"{tuple(v.shape)}) must have the same sequence length (dim -2)")


def _check_mask(op, attn_mask, query, key):
    """attn_mask bool or floating, broadcasting to the scores' shape without growing it."""
    if not isinstance(attn_mask, _fn.Tensor):
        raise TypeError(f"{op}: expected attn_mask to be a Tensor (bool or float) or None, got "
                        f"{type(attn_mask).__name__}")
    if attn_mask.dtype.name != "bool" and not attn_mask.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected attn_mask dtype to be bool or float or to match "
                           f"query dtype, but got attn_mask.dtype: {attn_mask.dtype} and "
                           f"query.dtype: {query.dtype} instead")
    try:
        scores = tuple(np.broadcast_shapes(query.shape[:-2], key.shape[:-2]))
    except ValueError:
        return                                  # (the product q @ k^T raises, naming them)
    scores += (query.shape[-2], key.shape[-2])                           # (..., L, S)
    try:
        grown = np.broadcast_shapes(tuple(attn_mask.shape), scores) != scores
    except ValueError:
        grown = True
    if grown:
        raise RuntimeError(f"{op}: attn_mask of shape {tuple(attn_mask.shape)} does not "
                           f"broadcast to the attention scores' shape {scores} (..., L, S)")


def _repeat_heads(op, query, key, value):
    """enable_gqa: key and value heads (dim -3) each repeated to the query's number of heads,
    as PyTorch's math path (repeat_interleave: query head h reads key head h // groups)."""
    if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        raise IndexError(f"{op}: enable_gqa needs query, key and value of at least 3 dims "
                         f"(..., heads, L, E), got {query.ndim}, {key.ndim} and {value.ndim}")
    hq = query.shape[-3]
    if hq % key.shape[-3] or hq % value.shape[-3]:
        raise RuntimeError(f"{op}: number of heads in key and value must divide the number of "
                           f"heads in query, got {key.shape[-3]}, {value.shape[-3]} and {hq}")

    def repeat(t):
        groups = hq // t.shape[-3]
        if groups == 1:
            return t
        *lead, h, s, e = t.shape
        return t.unsqueeze(-3).expand(*lead, h, groups, s, e).reshape(*lead, hq, s, e)
    return repeat(key), repeat(value)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, *, scale=None, enable_gqa=False):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).

    attn_mask broadcasts to (..., L, S): a bool mask keeps the positions where it is True
    (False = not attended); a float mask is added to the scores. is_causal masks the upper
    triangle (query i attends to keys j <= i; top-left aligned when L != S). scale defaults to
    1 / sqrt(E). enable_gqa: key and value may have fewer heads (dim -3) than query, dividing
    them; each is repeated to the query's (grouped-query attention). dropout_p > 0 drops
    attention weights (always, as in PyTorch's functional form). A query row with no key to
    attend gives zeros (as PyTorch). Where tinygen differs: a float mask of another float dtype
    is cast to the query's (PyTorch raises); a 1-D mask (S,) broadcasts (PyTorch raises
    IndexError); a float mask that requires no gradient is applied less each row's largest finite
    entry (shifted_mask: the same softmax), so a row masked everywhere by one large finite value
    (torch.finfo(dtype).min) gets the softmax of its scores, where PyTorch's math path gives
    uniform weights. A float mask that requires grad is added as given.
    """
    op = "scaled_dot_product_attention"
    _check(op, query, key, value)
    if enable_gqa:
        key, value = _repeat_heads(op, query, key, value)
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: explicit attn_mask should not be set when is_causal=True")
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    if attn_mask is not None:
        _check_mask(op, attn_mask, query, key)
    if scale is None:             # (E = 0: every score is 0 whatever the scale, as in PyTorch)
        scale = 1.0 / math.sqrt(E) if E else 1.0
    scale = float(scale)
    if dropout_p == 0.0 and L and S and query.shape[:-2] == key.shape[:-2] == value.shape[:-2]:
        if attn_mask is None:
            return FlashAttention.apply(query, key, value, None, bool(is_causal), scale)
        bias = _mask_as_bias(attn_mask, query, S)
        if bias is not None:
            return FlashAttention.apply(query, key, value, bias, False, scale)
    # the masks are added, as PyTorch's math path adds its bias: an addition's backward passes
    # the gradient through, where masked_fill's would mask it once more
    scores = (query @ key.transpose(-2, -1)) * scale                     # (..., L, S)
    if is_causal:
        scores = scores + _causal_bias(L, S, scores)
    elif attn_mask is not None:
        if attn_mask.dtype.name == "bool":      # False: -inf
            scores = scores + where(attn_mask, 0.0, float("-inf")).to(scores.dtype)
        elif attn_mask.requires_grad:           # PyTorch's math path, as given
            scores = scores + attn_mask.to(scores.dtype)
        else:                                   # as the fused path takes it
            scores = scores + shifted_mask(attn_mask.to(scores.dtype))
    attn = scores.softmax(-1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn @ value                                                  # (..., L, Ev)
