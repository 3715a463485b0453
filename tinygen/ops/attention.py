"""Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention.

    attn = softmax(q @ k^T * scale + mask) ;  out = dropout(attn) @ v

Without a mask (or with is_causal) and without dropout, on equal leading dims, it runs the fused
flash-attention kernels of kernels/attention.py (FlashAttention, below). Otherwise it is the
readable composition of matmul, softmax and dropout (PyTorch's "math" path), whose first and
second derivatives come from those ops.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd import function as _fn
from ..autograd.grad_mode import GRAD
from .activation import dropout


class FlashAttention(Function):
    """softmax(q k^T * scale [+ causal mask]) v through the kernel table (flash_attention_fwd /
    flash_attention_bwd: memory linear in the sequence length). q (..., T, D), k (..., S, D),
    v (..., S, Dv) with equal leading dims. The backward runs the fused kernel without
    create_graph and the same formulas in Tensor ops with it (double backward)."""

    def forward(self, q, k, v, causal, scale):
        self.causal, self.scale = causal, scale
        o, self.lse = self.kernel("flash_attention_fwd")(
            q, k, v, causal=causal, scale=scale)
        self.o = o                           # the kernel's backward needs it (an array)
        self.save_for_backward(q, k, v)
        return o

    def backward(self, do):
        q, k, v = self.saved_tensors
        need = [t is not None for t in self.inputs[:3]]
        if not GRAD.enabled:
            grads = self.kernel("flash_attention_bwd")(
                q._data, k._data, v._data, self.o, self.lse, do._data, causal=self.causal,
                scale=self.scale)
            return tuple(_fn.Tensor._make(g, None, 0, False) if n else None
                         for g, n in zip(grads, need)) + (None, None)
        # dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = dS K s, dK = dS^T Q s
        p = _weights(q, k, self.causal, self.scale)                        # (..., T, S)
        dp = do @ v.transpose(-2, -1)
        ds = p * (dp - (dp * p).sum(dim=-1, keepdim=True))
        return ((ds @ k) * self.scale if need[0] else None,
                (ds.transpose(-2, -1) @ q) * self.scale if need[1] else None,
                p.transpose(-2, -1) @ do if need[2] else None, None, None)


def _weights(q, k, causal, scale):
    """softmax(q k^T * scale), the upper triangle masked when causal: (..., T, S)."""
    scores = (q @ k.transpose(-2, -1)) * scale
    if causal:
        from ..functions import ones
        keep = ones(q.shape[-2], k.shape[-2], dtype=bool, device=q.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    return scores.softmax(-1)


def _check(op, q, k, v):
    from ..tensor import Tensor
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
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


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).

    attn_mask broadcasts to (..., L, S): a bool mask keeps the positions where it is True
    (False = not attended); a float mask is added to the scores. is_causal masks the upper
    triangle (query i attends to keys j <= i). scale defaults to 1 / sqrt(E). dropout_p > 0
    drops attention weights (always, as in PyTorch's functional form). A query row with no key
    to attend gives zeros (PyTorch: NaN).
    """
    op = "scaled_dot_product_attention"
    _check(op, query, key, value)
    if enable_gqa:
        raise NotImplementedError(f"{op}: enable_gqa is not implemented; repeat key and value "
                                  "heads with repeat_interleave first")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: explicit attn_mask should not be set when is_causal=True")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if attn_mask is None and dropout_p == 0.0 and L and S and \
            query.shape[:-2] == key.shape[:-2] == value.shape[:-2]:
        return FlashAttention.apply(query, key, value, bool(is_causal), scale)
    scores = (query @ key.transpose(-2, -1)) * scale                     # (..., L, S)
    if is_causal:
        from ..functions import ones
        keep = ones(L, S, dtype=bool, device=query.device).tril()
        attn_mask = keep
    if attn_mask is not None:
        try:
            np.broadcast_shapes(tuple(attn_mask.shape), tuple(scores.shape))
        except ValueError:
            raise RuntimeError(f"{op}: attn_mask of shape {tuple(attn_mask.shape)} does not "
                               f"broadcast to the attention scores' shape "
                               f"{tuple(scores.shape)} (..., L, S)") from None
        if attn_mask.dtype.name == "bool":
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask.to(scores.dtype)
    attn = scores.softmax(-1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn @ value                                                  # (..., L, Ev)
