"""MultiheadAttention (Vaswani et al. 2017), with PyTorch's parameters, masks and layouts.

    mha = nn.MultiheadAttention(embed_dim=64, num_heads=4, batch_first=True)
    out, weights = mha(x, x, x, key_padding_mask=pad)   # x (N, L, 64) -> out (N, L, 64),
                                                        # weights (N, L, L) averaged over heads

Parameters as PyTorch: in_proj_weight (3E, E) and in_proj_bias (3E,) holding the q, k, v
projections stacked (or q_proj_weight, k_proj_weight, v_proj_weight when kdim or vdim differ
from embed_dim), out_proj.weight (E, E), out_proj.bias (E,); optional bias_k, bias_v (1, 1, E).
Init: xavier_uniform_ for the input projections, zeros for in_proj_bias and out_proj.bias.

Masks: attn_mask (L, S) or (N * num_heads, L, S); key_padding_mask (N, S). A bool mask marks
with True the positions that may NOT be attended; a float mask is added to the scores.
"""
from __future__ import annotations

import math

from .. import functional as F
from .. import init
from ...creation import empty, ones, zeros
from ...ops.attention import shifted_mask
from ...ops.shape import cat
from .linear import NonDynamicallyQuantizableLinear
from .module import Module
from .parameter import Parameter


def _float_mask(mask, dtype, name):
    """A bool mask (True = masked) as an additive float mask of 0 / -inf; a float mask as is."""
    if mask is None:
        return None
    if _is_float_mask(mask, name):
        return mask.to(dtype)
    return zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))


def _is_float_mask(mask, name):
    """True for a float mask, False for a bool one; any other dtype is an error."""
    if mask.dtype.is_floating_point:
        return True
    if str(mask.dtype).endswith("bool"):
        return False
    raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are supported, "
                    f"got {mask.dtype}")


def _causal_mask(size, dtype, device):
    """(size, size) float mask: 0 on and below the diagonal, -inf above."""
    upper = ones(size, size, device=device).triu(1) > 0
    return zeros(size, size, dtype=dtype, device=device).masked_fill(upper, float("-inf"))


class MultiheadAttention(Module):
    """Multi-head attention over query (L, N, E), key (S, N, kdim), value (S, N, vdim)
    ((N, L, E)... with batch_first; (L, E) unbatched). Returns (output (L, N, E), weights or None);
    weights are (N, L, S) averaged over heads, or (N, num_heads, L, S)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than "
                             f"0, got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads != 0:
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

    def _project(self, query, key, value):
        """The q, k, v input projections: (L, N, E), (S, N, E), (S, N, E)."""
        E = self.embed_dim
        if self._qkv_same_embed_dim and query is key and key is value:
            q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).split(E, -1)
            return q, k, v                                     # self-attention: one product
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """is_causal=True without an attn_mask builds the causal mask (PyTorch requires the
        mask). With an attn_mask it is PyTorch's hint: with no key_padding_mask and
        need_weights=False the mask is taken to be the causal one and the fused kernel masks the
        upper triangle itself (as PyTorch's multi_head_attention_forward does: a wrong hint gives
        a wrong answer there too); otherwise the mask is applied as given. One difference: with
        add_bias_kv or add_zero_attn the mask is applied as given (padded with the extra key's
        column, which every query attends), where PyTorch keeps the causal flag over S + 1 keys
        and so never attends the extra key. A query whose keys are all masked gets zero weights
        and a zero output, as F.scaled_dot_product_attention (PyTorch: zeros from its fused path,
        NaN where it returns the weights)."""
        if query.ndim not in (2, 3):
            raise ValueError(f"MultiheadAttention: query should be unbatched 2D or batched 3D, "
                             f"got shape {tuple(query.shape)}")
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: query, key and value must all be batched or "
                             f"all unbatched, got shapes {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        if not batched:
            same = query is key and key is value
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if same:
                key = value = query
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        seq = 1 if self.batch_first and batched else 0      # the sequence axis of the inputs
        out, weights = self._attention(query, key, value, key_padding_mask, need_weights,
                                       attn_mask, average_attn_weights, is_causal, seq)
        if not batched:
            out = out.squeeze(1)                                             # (L, E)
            if weights is not None:
                weights = weights.squeeze(0)
        return out, weights

    def _attention(self, query, key, value, key_padding_mask, need_weights, attn_mask,
                   average_attn_weights, is_causal, seq):
        """The batched attention on (L, N, E) inputs (seq = 0) or (N, L, E) (seq = 1, batch
        first: kept so, not transposed as PyTorch does, so the projections read contiguous rows
        and the output is (N, L, E) as it is made)."""
        L, N, E = query.shape[seq], query.shape[1 - seq], query.shape[2]
        H, hd = self.num_heads, self.head_dim
        causal = (is_causal and key_padding_mask is None and not need_weights
                  and self.bias_k is None and not self.add_zero_attn)       # (see forward)
        attn_mask = self._check(query, key, value, attn_mask, is_causal, causal, seq)
        key_padding_mask = _float_mask(key_padding_mask, query.dtype, "key_padding_mask")
        q, k, v = self._project(query, key, value)         # (L|S, N, E) or (N, L|S, E)
        if self.bias_k is not None:
            extra = (1, N, E) if seq == 0 else (N, 1, E)
            k = cat([k, self.bias_k.expand(*extra)], dim=seq)                # S + 1 keys
            v = cat([v, self.bias_v.expand(*extra)], dim=seq)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        # heads as (N, H, L|S, hd) views of the projections: splitting E and permuting copies
        # nothing, where PyTorch's (N*H, L, hd) copies each of q, k, v
        heads, back = ((1, 2, 0, 3), (2, 0, 1, 3)) if seq == 0 else ((0, 2, 1, 3),) * 2
        q, k, v = (t.reshape(*t.shape[:2], H, hd).permute(*heads) for t in (q, k, v))
        if self.add_zero_attn:
            k = cat([k, zeros(N, H, 1, hd, dtype=q.dtype, device=k.device)], dim=2)
            v = cat([v, zeros(N, H, 1, hd, dtype=q.dtype, device=v.device)], dim=2)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        S = k.shape[2]
        if attn_mask is not None:                                           # (N|1, H|1, L, S)
            attn_mask = attn_mask.reshape(-1, H if attn_mask.shape[0] > 1 else 1, L, S)
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (N, S):
                raise RuntimeError(f"MultiheadAttention: expected key_padding_mask of shape "
                                   f"{(N, S)}, but got {tuple(key_padding_mask.shape)}")
            kpm = key_padding_mask.reshape(N, 1, 1, S)
            attn_mask = kpm if attn_mask is None else attn_mask + kpm
        out, weights = self._attend(q, k, v, attn_mask, need_weights, causal)  # (N, H, L, hd)
        out = out.permute(*back).reshape(L * N, E)          # (L, N, H, hd) or (N, L, H, hd)
        out = self.out_proj(out).reshape(*query.shape[:2], E)               # as the query
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)                                    # (N, L, S)
        return out, weights

    def _check(self, query, key, value, attn_mask, is_causal, causal, seq):
        """Shapes and the mask's dtype checked; attn_mask as a float mask of shape (1 | N*H, L,
        S), or None (none given, or causal: the kernel's causal flag masks instead)."""
        L, N, E = query.shape[seq], query.shape[1 - seq], query.shape[2]
        S, H = key.shape[seq], self.num_heads
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: was expecting embedding dimension of "
                             f"{self.embed_dim}, but got query of shape {tuple(query.shape)}")
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"MultiheadAttention: key shape {tuple(key.shape)} does not match "
                             f"value shape {tuple(value.shape)}")
        if is_causal and attn_mask is None:
            if L != S:
                raise RuntimeError(f"MultiheadAttention: is_causal needs square attention, got "
                                   f"{L} queries and {S} keys; pass an attn_mask")
            if causal:
                return None
            attn_mask = _causal_mask(L, query.dtype, query.device)
        if attn_mask is None:
            return None
        _is_float_mask(attn_mask, "attn_mask")                  # (its dtype checked first)
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise RuntimeError(f"MultiheadAttention: the shape of the 2D attn_mask is "
                                   f"{tuple(attn_mask.shape)}, but should be {(L, S)}.")
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (N * H, L, S):
                raise RuntimeError(f"MultiheadAttention: the shape of the 3D attn_mask is "
                                   f"{tuple(attn_mask.shape)}, but should be {(N * H, L, S)}.")
        else:
            raise RuntimeError(f"MultiheadAttention: attn_mask's dimension {attn_mask.ndim} is "
                               "not supported")
        if causal:
            return None                                         # checked, then left to the kernel
        attn_mask = _float_mask(attn_mask, query.dtype, "attn_mask")
        return attn_mask.unsqueeze(0) if attn_mask.ndim == 2 else attn_mask      # (1 | N*H, L, S)

    def _attend(self, q, k, v, attn_mask, need_weights, causal=False):
        """softmax(q k^T / sqrt(hd) + mask) v for q (N, H, L, hd), k, v (N, H, S, hd), mask
        (N|1, H|1, L, S) or causal: the weights (N, H, L, S) spelled out when they are asked for
        (never with causal), else F.scaled_dot_product_attention."""
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(-2, -1)
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
