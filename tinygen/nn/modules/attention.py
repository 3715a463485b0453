"""MultiheadAttention (Vaswani et al. 2017) and its functional form, with PyTorch's parameters,
masks, layouts and errors.

    mha = nn.MultiheadAttention(embed_dim=64, num_heads=4, batch_first=True)
    out, weights = mha(x, x, x, key_padding_mask=pad)   # x (N, L, 64) -> out (N, L, 64),
                                                        # weights (N, L, L) averaged over heads
    out, weights = F.multi_head_attention_forward(      # the same, sequence first: (L, N, 64)
        q, k, v, 64, 4, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
        mha.out_proj.weight, mha.out_proj.bias)

Parameters as PyTorch: in_proj_weight (3E, E) and in_proj_bias (3E,) holding the q, k, v
projections stacked (or q_proj_weight, k_proj_weight, v_proj_weight when kdim or vdim differ
from embed_dim), out_proj.weight (E, E), out_proj.bias (E,); optional bias_k, bias_v (1, 1, E).
Init: xavier_uniform_ for the input projections, zeros for in_proj_bias and out_proj.bias,
xavier_normal_ for bias_k and bias_v. out_proj is read as weights (F.linear), as PyTorch does, so
hooks on it do not run.

Masks: attn_mask (L, S) or (N * num_heads, L, S); key_padding_mask (N, S). A bool mask marks
with True the positions that may NOT be attended; a float mask is added to the scores. Errors are
PyTorch's types and words (AssertionError for the shape and dtype checks).

Where tinygen differs from PyTorch, on purpose:
  - a query whose keys are all masked gets zero weights and a zero output, as
    F.scaled_dot_product_attention (PyTorch: NaN, through the output and every gradient, where it
    returns the weights and on its inference fast path; zeros where it calls its fused kernel);
  - is_causal=True without an attn_mask builds the causal mask (PyTorch raises);
  - a float mask of another float dtype is cast to the query's (PyTorch raises);
  - with batch_first the inputs are not transposed (the projections read contiguous rows).
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple, Optional

from .. import functional as F
from .. import init
from ...creation import empty, ones, zeros
from ...ops.attention import shifted_mask
from ...ops.shape import cat
from .linear import NonDynamicallyQuantizableLinear
from .module import Module
from .parameter import Parameter


class _Weights(NamedTuple):
    """What one attention reads, from a module or from the functional's arguments."""
    embed_dim: int
    num_heads: int
    in_proj_weight: object                 # (3E, E); None with separate weights
    in_proj_bias: object                   # (3E,) or None
    separate: Optional[tuple]              # (q_proj_weight, k_proj_weight, v_proj_weight)
    bias_k: object                         # (1, 1, E) or None
    bias_v: object
    add_zero_attn: bool
    out_proj_weight: object                # (E, E)
    out_proj_bias: object                  # (E,) or None


def _float_mask(mask, dtype, name):
    """A bool mask (True = masked) as an additive float mask of 0 / -inf; a float mask as is."""
    if mask is None:
        return None
    if _is_float_mask(mask, name):
        return mask.to(dtype)
    return zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))


def _is_float_mask(mask, name):
    """True for a float mask, False for a bool one; any other dtype is an error."""
    if mask.dtype.is_floating_point:
        return True
    if str(mask.dtype).endswith("bool"):
        return False
    raise AssertionError(f"only bool and floating types of {name} are supported, got "
                         f"{mask.dtype}")


def _causal_mask(size, dtype, device):
    """(size, size) float mask: 0 on and below the diagonal, -inf above."""
    upper = ones(size, size, device=device).triu(1) > 0
    return zeros(size, size, dtype=dtype, device=device).masked_fill(upper, float("-inf"))


def _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's _mha_shape_check: the number of dims of each input; True when batched."""
    batched = query.ndim == 3
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{query.ndim}-D query tensor")
    kind, want = ("batched (3-D)", 3) if batched else ("unbatched (2-D)", 2)
    if key.ndim != want or value.ndim != want:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {want}-D but "
                             f"found {key.ndim}-D and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != want - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{want - 1}-D but found {key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or "
                                 f"3-D but found {attn_mask.ndim}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{tuple(attn_mask.shape)}")
    return batched


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """MultiheadAttention's forward with its weights given, on sequence-first inputs: query
    (L, N, E) or (L, E), key (S, N, kdim), value (S, N, vdim) -> (output (L, N, E), weights or
    None). static_k, static_v (N * num_heads, S, E // num_heads) replace the projected keys and
    values. Dropout only with training=True. As MultiheadAttention, with its differences."""
    separate = None
    if use_separate_proj_weight:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight "
                                     "is None")
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    elif in_proj_weight is None:
        raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
    if (bias_k is None) != (bias_v is None):
        raise AssertionError(f"bias_{'k' if bias_v is None else 'v'} is set but "
                             f"bias_{'v' if bias_v is None else 'k'} is None")
    if (static_k is not None or static_v is not None) and bias_k is not None:
        raise AssertionError(f"bias cannot be added to static "
                             f"{'key' if static_k is not None else 'value'}.")
    weights = _Weights(embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, separate,
                       bias_k, bias_v, add_zero_attn, out_proj_weight, out_proj_bias)
    return _forward(query, key, value, weights, dropout_p if training else 0.0,
                    key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal,
                    False, (static_k, static_v))


class MultiheadAttention(Module):
    """Multi-head attention over query (L, N, E), key (S, N, kdim), value (S, N, vdim)
    ((N, L, E)... with batch_first; (L, E) unbatched). Returns (output (L, N, E), weights or None);
    weights are (N, L, S) averaged over heads, or (N, num_heads, L, S)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads != 0:     # (PyTorch: AssertionError)
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        kw = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """is_causal=True is PyTorch's hint that attn_mask is the causal mask: with no
        key_padding_mask and need_weights=False the mask is not read and the fused kernel masks
        the upper triangle itself, top-left aligned over every key, bias_k's and the zero key
        included, so a query never attends those (as PyTorch: a wrong hint gives a wrong answer
        there too); otherwise the mask is applied as given. Without an attn_mask it builds the
        causal mask (PyTorch raises)."""
        separate = None if self._qkv_same_embed_dim else (
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        weights = _Weights(self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
                           separate, self.bias_k, self.bias_v, self.add_zero_attn,
                           self.out_proj.weight, self.out_proj.bias)
        return _forward(query, key, value, weights, self.dropout if self.training else 0.0,
                        key_padding_mask, need_weights, attn_mask, average_attn_weights,
                        is_causal, self.batch_first)


def _forward(query, key, value, w, dropout_p, key_padding_mask, need_weights, attn_mask,
             average_attn_weights, is_causal, batch_first, static=(None, None)):
    """The module's and the functional's forward: checks, the unbatched case, the layout."""
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, w.num_heads)
    if (key_padding_mask is not None and attn_mask is not None
            and key_padding_mask.dtype != attn_mask.dtype):
        warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    if not batched:
        same, kv_same = query is key and key is value, key is value
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if same:
            key = value = query
        elif kv_same:
            value = key
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    seq = 1 if batch_first and batched else 0       # the sequence axis of the inputs
    out, weights = _attention(query, key, value, w, dropout_p, key_padding_mask, need_weights,
                              attn_mask, average_attn_weights, is_causal, seq, static)
    if not batched:
        out = out.squeeze(1)                                                 # (L, E)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights


def _attention(query, key, value, w, dropout_p, key_padding_mask, need_weights, attn_mask,
               average_attn_weights, is_causal, seq, static):
    """The batched attention on (L, N, E) inputs (seq = 0) or (N, L, E) (seq = 1, batch first:
    kept so, not transposed as PyTorch does, so the projections read contiguous rows and the
    output is (N, L, E) as it is made)."""
    L, N, E = query.shape[seq], query.shape[1 - seq], query.shape[2]
    H = w.num_heads
    hd = E // H
    causal = bool(is_causal) and key_padding_mask is None and not need_weights  # (see forward)
    attn_mask = _check(query, key, value, w, attn_mask, is_causal, causal, seq)
    key_padding_mask = _float_mask(key_padding_mask, query.dtype, "key_padding_mask")
    q, k, v = _project(query, key, value, w)            # (L|S, N, E) or (N, L|S, E)
    if w.bias_k is not None:
        extra = (1, N, E) if seq == 0 else (N, 1, E)
        k = cat([k, w.bias_k.expand(*extra)], dim=seq)                       # S + 1 keys
        v = cat([v, w.bias_v.expand(*extra)], dim=seq)
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    # heads as (N, H, L|S, hd) views of the projections: splitting E and permuting copies
    # nothing, where PyTorch's (N*H, L, hd) copies each of q, k, v
    heads, back = ((1, 2, 0, 3), (2, 0, 1, 3)) if seq == 0 else ((0, 2, 1, 3),) * 2
    q, k, v = (t.reshape(*t.shape[:2], H, hd).permute(*heads) for t in (q, k, v))
    k, v = _static(k, static[0], N, H, hd, "k"), _static(v, static[1], N, H, hd, "v")
    if w.add_zero_attn:
        k = cat([k, zeros(N, H, 1, hd, dtype=q.dtype, device=k.device)], dim=2)
        v = cat([v, zeros(N, H, 1, hd, dtype=q.dtype, device=v.device)], dim=2)
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    mask = _merge_masks(attn_mask, key_padding_mask, N, H, L, k.shape[2])  # (N|1, H|1, L, S)
    out, weights = _attend(q, k, v, mask, need_weights, dropout_p, causal)   # (N, H, L, hd)
    out = out.permute(*back).reshape(L * N, E)          # (L, N, H, hd) or (N, L, H, hd)
    out = F.linear(out, w.out_proj_weight, w.out_proj_bias).reshape(*query.shape[:2], E)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)                                        # (N, L, S)
    return out, weights


def _check(query, key, value, w, attn_mask, is_causal, causal, seq):
    """Sizes and the mask checked as PyTorch; attn_mask as a float mask of shape (1 | N*H, L,
    S), or None (none given, or causal: the kernel's causal flag masks instead)."""
    L, N, E = query.shape[seq], query.shape[1 - seq], query.shape[2]
    S, H = key.shape[seq], w.num_heads
    if E != w.embed_dim:
        raise AssertionError(f"was expecting embedding dimension of {w.embed_dim}, but got {E}")
    if E % H:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")
    if w.separate is None and key.shape != value.shape:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                             f"{tuple(value.shape)}")
    if w.separate is not None and key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                             f"match value's {tuple(value.shape[:2])}")
    if attn_mask is None:
        if not is_causal or causal and L == S:
            return None
        if L != S:
            raise RuntimeError(f"MultiheadAttention: is_causal needs square attention, got "
                               f"{L} queries and {S} keys; pass an attn_mask")
        return _causal_mask(L, query.dtype, query.device).unsqueeze(0)      # (1, L, L)
    _is_float_mask(attn_mask, "attn_mask")
    if causal:
        return None                     # PyTorch's hint: the mask is not read, nor its shape
    if attn_mask.ndim == 2 and tuple(attn_mask.shape) != (L, S):
        raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but "
                           f"should be {(L, S)}.")
    if attn_mask.ndim == 3 and tuple(attn_mask.shape) != (N * H, L, S):
        raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but "
                           f"should be {(N * H, L, S)}.")
    attn_mask = _float_mask(attn_mask, query.dtype, "attn_mask")
    return attn_mask.unsqueeze(0) if attn_mask.ndim == 2 else attn_mask      # (1 | N*H, L, S)


def _project(query, key, value, w):
    """The q, k, v input projections: (L, N, E), (S, N, E), (S, N, E) (or batch first)."""
    E = w.embed_dim
    if w.separate is None:
        if query is key and key is value:
            q, k, v = F.linear(query, w.in_proj_weight, w.in_proj_bias).split(E, -1)
            return q, k, v                                     # self-attention: one product
        w_q, w_k, w_v = w.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = w.separate
    b_q = b_k = b_v = None
    if w.in_proj_bias is not None:
        b_q, b_k, b_v = w.in_proj_bias.chunk(3)
    return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)


def _static(t, static, N, H, hd, name):
    """The projected keys or values t (N, H, S, hd), or static (N*H, S', hd) in their place."""
    if static is None:
        return t
    if static.shape[0] != N * H:
        raise AssertionError(f"expecting static_{name}.size(0) of {N * H}, but got "
                             f"{static.shape[0]}")
    if static.shape[2] != hd:
        raise AssertionError(f"expecting static_{name}.size(2) of {hd}, but got "
                             f"{static.shape[2]}")
    return static.reshape(N, H, static.shape[1], hd)


def _merge_masks(attn_mask, key_padding_mask, N, H, L, S):
    """attn_mask (1 | N*H, L, S) plus key_padding_mask (N, S), as one additive (N|1, H|1, L, S)
    mask, or None."""
    if attn_mask is not None:
        attn_mask = attn_mask.reshape(-1, H if attn_mask.shape[0] > 1 else 1, L, S)
    if key_padding_mask is None:
        return attn_mask
    for axis, size in enumerate((N, S)):
        if key_padding_mask.shape[axis] != size:
            raise AssertionError(f"Expected key_padded_mask.shape[{axis}] to be {size}, but got "
                                 f"{key_padding_mask.shape[axis]}")
    kpm = key_padding_mask.reshape(N, 1, 1, S)
    return kpm if attn_mask is None else attn_mask + kpm


def _attend(q, k, v, attn_mask, need_weights, dropout_p, causal=False):
    """softmax(q k^T / sqrt(hd) + mask) v for q (N, H, L, hd), k, v (N, H, S, hd), mask
    (N|1, H|1, L, S) or causal: the weights (N, H, L, S) spelled out when they are asked for
    (never with causal), else F.scaled_dot_product_attention."""
    if need_weights:
        scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
        if attn_mask is not None:                  # as scaled_dot_product_attention adds it
            scores = scores + (attn_mask if attn_mask.requires_grad
                               else shifted_mask(attn_mask))
        weights = F.softmax(scores, dim=-1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p, True)
        return weights @ v, weights
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p,
                                          is_causal=causal), None


def _pad_masks(attn_mask, key_padding_mask):
    """Both masks with one more key column (0: attended), for an appended key."""
    return (F.pad(attn_mask, (0, 1)) if attn_mask is not None else None,
            F.pad(key_padding_mask, (0, 1)) if key_padding_mask is not None else None)
