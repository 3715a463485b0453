"""More of torch.*'s ATen forms of functional ops (as aten.py): convolution with every
argument positional, the time-batch-channel convolution, CTC loss and bag embedding with
ATen's int enums, and weight norm's norm_except_dim, over tinygen's ops.

    tg.convolution(x, w, b, [1, 1], [1, 1], [1, 1], False, [0, 0], 1)    F.conv2d
    tg.convolution(x, w, b, [2], [1], [1], True, [1], 1)                 F.conv_transpose1d
    tg.conv_tbc(x, w, b, 1)              x (T, B, C_in), w (K, C_in, C_out) -> (T', B, C_out)
    tg.ctc_loss(log_probs, targets, [6, 5], [3, 2], 0, 1)     reduction 0 none, 1 mean, 2 sum
    out, offset2bag, bag_size, max_indices = tg.embedding_bag(w, idx, offsets, False, 1)
    tg.norm_except_dim(v, 2, 0)                      ||v|| over all dims but 0, kept as 1s

Reductions follow ATen's enum, with no reduction by default as PyTorch's Python bindings (see
aten.py). embedding_bag's mode is an int too: 0 sum, 1 mean, 2 max.
"""
from __future__ import annotations

import numpy as np

from .aten import _reduction
from .autograd.function import wrap
from .ops.args import norm_dim
from .ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .ops.ctc import ctc_loss as _ctc_loss
from .ops.embedding import embedding_bag as _embedding_bag
from .ops.fold import conv3d, conv_transpose3d
from .tensor import Tensor

_CONVS = {3: (conv1d, conv_transpose1d), 4: (conv2d, conv_transpose2d),
          5: (conv3d, conv_transpose3d)}
_BAG_MODES = ("sum", "mean", "max")


def _check_tensor(op, name, value, position):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")


# ---- convolutions --------------------------------------------------------------------------------
def _int_list(op, name, value, spatial, position):
    """A list of ints of one entry per spatial dim (one entry is repeated), as ATen's."""
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be tuple of "
                        f"ints, not {type(value).__name__}")
    if len(value) == 1:
        return tuple(value) * spatial
    if len(value) != spatial:
        raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of "
                           f"{spatial} values to match the convolution dimensions, but got "
                           f"{name}={list(value)}")
    return tuple(value)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """F.conv{1,2,3}d (transposed False; output_padding ignored) or F.conv_transpose{1,2,3}d
    (transposed True), picked by weight's dims (3, 4 or 5). input (N, C_in, *spatial), batched
    only, as ATen's. stride, padding, dilation, output_padding: lists of ints, one per spatial
    dim or a single one for all."""
    op = "convolution"
    _check_tensor(op, "input", input, 1)
    _check_tensor(op, "weight", weight, 2)
    if weight.ndim not in _CONVS:
        raise RuntimeError(f"{op}: expected a weight of 3, 4 or 5 dims (out_channels, "
                           f"in_channels / groups, *kernel), got shape {tuple(weight.shape)}")
    if input.ndim != weight.ndim:
        raise RuntimeError(f"{op}: Expected {weight.ndim}-dimensional input for "
                           f"{weight.ndim}-dimensional weight {list(weight.shape)}, but got "
                           f"{input.ndim}-dimensional input of size {list(input.shape)} instead")
    spatial = weight.ndim - 2
    stride = _int_list(op, "stride", stride, spatial, 4)
    padding = _int_list(op, "padding", padding, spatial, 5)
    dilation = _int_list(op, "dilation", dilation, spatial, 6)
    output_padding = _int_list(op, "output_padding", output_padding, spatial, 8)
    direct, transpose = _CONVS[weight.ndim]
    if transposed:
        return transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)
    return direct(input, weight, bias, stride, padding, dilation, groups)


def conv_tbc(input, weight, bias, pad=0):
    """1-D convolution in time-batch-channel layout (fairseq's): input (T, B, C_in), weight
    (K, C_in, C_out), bias (C_out,) -> (T + 2 pad - K + 1, B, C_out), zero padding `pad` at both
    ends of time. Runs as conv1d on (B, C_in, T)."""
    op = "conv_tbc"
    for position, (name, value) in enumerate((("input", input), ("weight", weight),
                                              ("bias", bias)), 1):
        _check_tensor(op, name, value, position)
    if input.ndim != 3 or weight.ndim != 3 or bias.ndim != 1:
        raise RuntimeError(f"{op}: expected input (time, batch, in_channels), weight (kernel, "
                           f"in_channels, out_channels) and bias (out_channels,), got shapes "
                           f"{tuple(input.shape)}, {tuple(weight.shape)}, {tuple(bias.shape)}")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError(f"{op}: Input dim 2 (input channels) is not == dim 1 in the weight "
                           f"tensor (input {tuple(input.shape)}, weight {tuple(weight.shape)})")
    if bias.shape[0] != weight.shape[2]:
        raise RuntimeError(f"{op}: Bias size must equal dim 2 in the weight tensor (output "
                           f"channels): bias {tuple(bias.shape)}, weight {tuple(weight.shape)}")
    if input.shape[0] + 2 * pad - weight.shape[0] + 1 < 0:
        raise RuntimeError(f"{op}: the kernel ({weight.shape[0]}) is longer than the padded "
                           f"input ({input.shape[0]} + 2 * {pad}) (input {tuple(input.shape)})")
    y = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, 1, pad)   # (B, C_out, T')
    return y.permute(2, 0, 1)                                                   # (T', B, C_out)


# ---- losses, lookups, norms ----------------------------------------------------------------------
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0,
             zero_infinity=False):
    """F.ctc_loss with an int reduction (0 none, the default here as in torch.*; 1 mean: each
    loss over its target length, then the batch mean; 2 sum). Lengths: lists or tensors."""
    return _ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                     _reduction("ctc_loss", reduction), zero_infinity)


def _bag_checks(op, weight, indices, offsets, mode, per_sample_weights, padding_idx):
    """ATen's checks of embedding_bag's arguments; the padding index made non-negative."""
    _check_tensor(op, "weight", weight, 1)
    _check_tensor(op, "indices", indices, 2)
    _check_tensor(op, "offsets", offsets, 3)
    if isinstance(mode, bool) or mode not in (0, 1, 2):
        raise RuntimeError(f"{op}: `mode` must be sum, mean, or max (0, 1 or 2), got {mode!r}")
    if per_sample_weights is not None and mode != 0:
        raise RuntimeError(f"{op}: per_sample_weights only supported with mode='sum' (0), got "
                           f"mode {mode}")
    if indices.ndim != 1 or offsets.ndim != 1:
        raise RuntimeError(f"{op}: expected 1-D indices and 1-D offsets (F.embedding_bag takes "
                           f"2-D bags), got shapes {tuple(indices.shape)} and "
                           f"{tuple(offsets.shape)}")
    starts = offsets.cpu().numpy().astype(np.int64)
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"{op}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got {starts[0]}")
    num = weight.shape[0]
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise RuntimeError(f"{op}: padding_idx must be within the number of embeddings, "
                           f"-{num} through {num - 1}, but got {padding_idx}")
    return padding_idx % num


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """(output, offset2bag, bag_size, max_indices): F.embedding_bag of the 1-D indices cut at
    offsets (mode 0 sum, 1 mean, 2 max), then the bookkeeping tensors ATen's CPU op returns, in
    the indices' dtype:
        offset2bag   the bag of each index (for sum: empty on ATen's fast path, a float32,
                     float16 or bfloat16 weight without padding_idx)
        bag_size     the non-padding indices in each bag (for sum: zeros, one per offset
                     given, or per bag when weight requires grad, as ATen's)
        max_indices  max: the row chosen for each (bag, feature), the first on ties, 0 for an
                     empty bag; mean: bag_size again; sum: zeros, as bag_size
    Only output is differentiable. A negative padding_idx counts from the end (ATen's form);
    None means none. scale_grad_by_freq and sparse raise, as F.embedding_bag here."""
    op = "embedding_bag"
    padding = _bag_checks(op, weight, indices, offsets, mode, per_sample_weights, padding_idx)
    out = _embedding_bag(indices, weight, offsets, None, 2.0, scale_grad_by_freq,
                         _BAG_MODES[mode], sparse, per_sample_weights, include_last_offset,
                         padding)
    internals = _bag_internals(weight, indices, offsets, mode, include_last_offset, padding)
    xp = weight.device.xp
    return (out,) + tuple(wrap(xp.asarray(a.astype(indices._data.dtype))) for a in internals)


def _bag_internals(weight, indices, offsets, mode, include_last_offset, padding):
    """offset2bag, bag_size, max_indices as NumPy arrays (see embedding_bag)."""
    idx = indices.cpu().numpy().astype(np.int64)
    starts = offsets.cpu().numpy().astype(np.int64)
    given = starts.size
    if include_last_offset:
        starts = starts[:-1]
    bags = starts.size
    bag_of = np.searchsorted(starts, np.arange(idx.size), side="right") - 1   # (n,)
    if mode == 0:
        # ATen's sum fills no offset2bag on its fast path (float32 or half weights, no padding)
        # and returns zero sizes
        fast = weight.dtype.name in ("float32", "float16", "bfloat16") and padding is None
        zeros = np.zeros(bags if weight.requires_grad else given)
        return (np.zeros(0) if fast else bag_of), zeros, zeros.copy()
    keep = np.ones(idx.size, bool) if padding is None else idx != padding
    bag_size = np.bincount(bag_of[keep], minlength=bags)[:bags]
    if mode == 1:
        return bag_of, bag_size, bag_size.copy()
    table = weight.detach().cpu().numpy()
    max_indices = np.zeros((bags, weight.shape[1]), np.int64)
    for bag in range(bags):
        rows = idx[(bag_of == bag) & keep]
        if rows.size:
            max_indices[bag] = rows[table[rows].argmax(axis=0)]      # argmax: first of ties
    return bag_of, bag_size, max_indices


def norm_except_dim(v, pow=2, dim=0):
    """The pow-norm of v over every dim but `dim`, with v's dims kept as 1s: shape (1, ..,
    v.shape[dim], .., 1) (weight normalisation's ||v||, Salimans & Kingma 2016). dim=-1 means
    the norm of all of v, a 0-d tensor (ATen's special case), not the last dim."""
    op = "norm_except_dim"
    _check_tensor(op, "v", v, 1)
    if dim == -1:
        return v.norm(pow)
    if v.ndim == 0:
        raise IndexError(f"{op}: Dimension specified as {dim} but tensor has no dimensions")
    d = norm_dim(dim, v.ndim, op)
    rows = v.movedim(d, 0).reshape(v.shape[d], -1)                     # (v.shape[d], rest)
    shape = [1] * v.ndim
    shape[d] = v.shape[d]
    return rows.norm(pow, dim=1).reshape(shape)
