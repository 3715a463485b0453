"""Transformer layers and stacks (Vaswani et al. 2017), with PyTorch's structure and names.

    layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                       batch_first=True, norm_first=True, activation="gelu")
    encoder = nn.TransformerEncoder(layer, num_layers=2)     # two deep copies of `layer`
    mask = nn.Transformer.generate_square_subsequent_mask(T)   # (T, T): 0 / -inf above diagonal
    h = encoder(x, mask=mask)                                   # (N, T, 64) -> (N, T, 64)

Post-norm (norm_first=False): x = norm(x + block(x)); pre-norm: x = x + block(norm(x)).
State-dict names match PyTorch's: layers.{i}.self_attn.in_proj_weight, layers.{i}.linear1.weight,
layers.{i}.norm1.bias, ..., plus norm.weight for the stack's final norm.

The stacks take is_causal=None (their default) as PyTorch does: a mask equal to the causal mask is
detected, and the fused kernel's causal flag masks instead of the mask. TransformerEncoder gives
PyTorch's zeros at the padded positions where PyTorch runs on nested tensors (see its forward).
Where tinygen differs: a TransformerDecoderLayer whose activation is a module keeps it in the
stack's deep copies (PyTorch's __setstate__ replaces it by F.relu in each copy, so its
TransformerDecoder and Transformer silently run relu: a PyTorch bug, not copied); the inference
fast paths' NaN from a float src_mask (PyTorch's _transformer_encoder_layer_fwd) are not copied
either, nor its fast path's exact gelu where the activation is GELU(approximate='tanh') (PyTorch
runs 'tanh' with a gradient, exact gelu under no_grad in eval mode); no warning when
enable_nested_tensor cannot be used; a TransformerEncoder of 0 layers
(Transformer(num_encoder_layers=0)) returns its input, through its norm (PyTorch's forward
raises IndexError reading layers[0]).
"""
from __future__ import annotations

import copy

from .. import functional as F
from .. import init
from ...autograd.function import CAPTURE, tracer
from ...autograd.grad_mode import is_grad_enabled
from ...creation import ones, zeros
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm


def _get_activation(activation):
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """(sz, sz) float mask for causal attention: 0 on and below the diagonal, -inf above."""
    upper = ones(sz, sz, device=device).triu(1) > 0
    return zeros(sz, sz, dtype=dtype, device=device).masked_fill(upper, float("-inf"))


def _seq_len(src, layers):
    """The sequence length of a stack's input (unbatched (S, E) or batched), or None."""
    attn = getattr(layers[0], "self_attn", None) if len(layers) else None
    if attn is None:
        return None
    return src.shape[0] if src.ndim == 2 else src.shape[1 if attn.batch_first else 0]


def _capturing():
    """Whether tg.compile records a step here: a step that reads a value runs eagerly."""
    return CAPTURE[0] is not None and tracer() is not None


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """PyTorch's: is_causal when given; with None, whether mask equals the (size, size) causal
    mask in its own dtype (a bool mask: True above the diagonal). Not in a step tg.compile
    records (it would read a value): False, the mask then applied as given (the same answer)."""
    if is_causal is not None or mask is None or _capturing():
        return bool(is_causal)
    size = size if size is not None else mask.shape[-2]
    if tuple(mask.shape) != (size, size):
        return False
    return bool((mask == generate_square_subsequent_mask(size, mask.device, mask.dtype)).all())


def _relu_or_gelu(activation):
    """PyTorch's TransformerEncoderLayer.activation_relu_or_gelu: 1 relu, 2 gelu, 0 other."""
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    return 2 if activation is F.gelu or isinstance(activation, GELU) else 0


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and a LayerNorm.
    src (S, N, E), or (N, S, E) with batch_first -> the same shape."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _get_activation(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(self.activation)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=bool(is_causal))[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over `memory`, then a feed-forward block.
    tgt (T, N, E), memory (S, N, E) (batch first with batch_first) -> the shape of tgt."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=bool(is_causal), need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=bool(is_causal),
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer applied in turn, then the optional norm.
    enable_nested_tensor and mask_check are PyTorch's: use_nested_tensor says whether PyTorch
    would run on nested tensors (tinygen has none: only their zeros are reproduced, in forward)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor and _nested_capable(encoder_layer)
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """is_causal=None detects a causal mask (as PyTorch). Where PyTorch runs on nested
        tensors (use_nested_tensor, the first layer in eval mode, no gradient wanted, a batched
        src with a key padding mask that pads at the end, no mask) its output is 0 at the padded
        positions, before the final norm: so it is here (elsewhere those positions are computed,
        as in PyTorch). With mask_check=False and padding elsewhere than at the end, PyTorch's
        nested tensor takes the wrong tokens: those positions are computed here."""
        padded = _nested_padding(self, src, mask, src_key_padding_mask)
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, self.layers))
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if padded is not None:
            output = output.masked_fill(padded.unsqueeze(-1), 0.0)          # (N, S, E)
        if self.norm is not None:
            output = self.norm(output)
        return output


def _nested_capable(layer):
    """Whether PyTorch's TransformerEncoder may run this layer on nested tensors."""
    attn = getattr(layer, "self_attn", None)
    return (isinstance(layer, TransformerEncoderLayer) and not layer.norm_first
            and attn.batch_first and attn._qkv_same_embed_dim and attn.in_proj_bias is not None
            and bool(layer.activation_relu_or_gelu) and layer.norm1.eps == layer.norm2.eps
            and attn.num_heads % 2 == 0)


def _nested_padding(encoder, src, mask, key_padding_mask):
    """The padded positions (N, S) bool where PyTorch would run on nested tensors, else None."""
    first = encoder.layers[0] if len(encoder.layers) else None
    if (first is None or not getattr(encoder, "use_nested_tensor", False) or first.training
            or src.ndim != 3 or key_padding_mask is None or mask is not None):
        return None
    attn = first.self_attn
    tensors = (src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
               attn.out_proj.bias, first.norm1.weight, first.norm1.bias, first.norm2.weight,
               first.norm2.bias, first.linear1.weight, first.linear1.bias, first.linear2.weight,
               first.linear2.bias)
    if is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return None
    padded = key_padding_mask if key_padding_mask.dtype.name == "bool" else key_padding_mask != 0
    if encoder.mask_check and (_capturing() or padded.shape[-1] > 1 and bool(
            (padded[:, :-1] & ~padded[:, 1:]).any())):
        return None      # padding before a token, or compiled (as PyTorch's): no nested tensor
    return padded


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer applied in turn, then the optional norm.
    tgt_is_causal=None detects a causal tgt_mask (as PyTorch)."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        output = tgt
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _seq_len(tgt, self.layers))
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """Encoder-decoder Transformer: encoder(src) -> memory, decoder(tgt, memory).
    All weight matrices are re-initialised xavier_uniform_, as PyTorch's Transformer does."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """src (S, N, E), tgt (T, N, E) (batch first with batch_first) -> (T, N, E)."""
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"Transformer: the batch number of src {tuple(src.shape)} and tgt "
                               f"{tuple(tgt.shape)} must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal to "
                               f"d_model ({self.d_model}), got {tuple(src.shape)} and "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above."""
        return generate_square_subsequent_mask(sz, device, dtype)

    def _reset_parameters(self):
        """xavier_uniform_ on every parameter of more than one dim, as PyTorch's."""
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
