"""tinygen.nn.functional (import as F): PyTorch's stateless ops, same names, arguments and defaults.

Each family lives in one file of tinygen/ops and is re-exported here:

  conv        conv1d conv2d conv_transpose1d conv_transpose2d          tinygen/ops/conv.py
              conv3d conv_transpose3d unfold fold                      tinygen/ops/fold.py
  pooling     max_pool1d/2d avg_pool1d/2d adaptive_avg_pool1d/2d interpolate   tinygen/ops/pool.py
              max_pool3d avg_pool3d adaptive_max_pool1d/2d/3d max_unpool1d/2d/3d lp_pool1d/2d/3d
              adaptive_avg_pool3d, the *_with_indices forms           tinygen/ops/pool_extra.py
              fractional_max_pool2d/3d (and *_with_indices)          tinygen/ops/pool_fractional.py
              (interpolate's linear, bilinear, trilinear, bicubic modes: tinygen/ops/upsample.py)
  norm        layer_norm group_norm batch_norm instance_norm rms_norm local_response_norm
              normalize cosine_similarity pairwise_distance pdist      tinygen/ops/norm.py
  activation  relu leaky_relu elu gelu silu softplus sigmoid tanh softmax log_softmax threshold
              hardshrink softshrink tanhshrink prelu rrelu gumbel_softmax ..., dropout
                                                                       tinygen/ops/activation.py
  dropout     dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout
                                                                       tinygen/ops/dropout.py
  attention   scaled_dot_product_attention                           tinygen/ops/attention.py
              multi_head_attention_forward          tinygen/nn/modules/attention.py
  loss        mse_loss l1_loss ... cross_entropy nll_loss kl_div ... tinygen/ops/loss.py
              margin_ranking_loss hinge_embedding_loss ... triplet_margin_loss poisson_nll_loss
                                                                       tinygen/ops/loss_margin.py
              ctc_loss                                                 tinygen/ops/ctc.py
              info_nce nt_xent (CLIP, SimCLR)                          tinygen/ops/loss_contrastive.py
              linear_cross_entropy (chunked: no (N, C) logits)   tinygen/nn/linear_cross_entropy.py
  embedding   embedding_bag                                            tinygen/ops/embedding.py
              bilinear                                                 tinygen/ops/linalg.py

and the few that are short compositions are defined here: linear, embedding, one_hot, pad,
pixel_shuffle, pixel_unshuffle, channel_shuffle.
Every op is differentiable twice (forward on arrays, backward in Tensor ops).

    import tinygen.nn.functional as F
    y = F.conv2d(x, w, b, stride=2, padding=1)          # x (N, C, H, W), w (O, C, kH, kW)
    loss = F.cross_entropy(logits, labels)              # logits (N, C), labels (N,) int64
"""
from __future__ import annotations

import numbers

from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..backend.settings import finfo, iinfo
from ..creation import arange
from ..ops.binary import where
from ..tensor import Tensor
from ..ops import linalg as _linalg
from ..ops import shape as _shape
from ..ops import index as _index
from ..ops.conv import (conv1d, conv2d, conv_transpose1d, conv_transpose2d,
                        check_same_dtype as _check_same_dtype)
from ..ops.fold import conv3d, conv_transpose3d, unfold, fold
from ..ops.grid_sample import affine_grid, grid_sample
from ..ops.pool import (
    max_pool2d, avg_pool2d, adaptive_avg_pool2d, interpolate, max_pool1d, avg_pool1d,
    adaptive_avg_pool1d,
)
from ..ops.pool_extra import (
    max_pool3d, avg_pool3d, adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool2d,
    adaptive_max_pool3d, adaptive_max_pool1d_with_indices, adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d_with_indices,
    max_pool1d_with_indices, max_pool2d_with_indices, max_pool3d_with_indices, max_unpool1d,
    max_unpool2d, max_unpool3d, lp_pool1d, lp_pool2d, lp_pool3d,
)
from ..ops.pool_fractional import (
    fractional_max_pool2d, fractional_max_pool3d, fractional_max_pool2d_with_indices,
    fractional_max_pool3d_with_indices,
)
from ..ops.norm import (
    layer_norm, group_norm, batch_norm, instance_norm, normalize, cosine_similarity,
    pairwise_distance, rms_norm, local_response_norm, pdist,
)
from ..ops.activation import (
    relu, leaky_relu, elu, selu, celu, gelu, silu, mish, softplus, sigmoid, tanh, logsigmoid,
    hardtanh, relu6, hardsigmoid, hardswish, softsign, glu, softmax, log_softmax, softmin,
    dropout, threshold, hardshrink, softshrink, tanhshrink, prelu, rrelu, gumbel_softmax, relu_,
    elu_, selu_, celu_, leaky_relu_, hardtanh_, threshold_, rrelu_,
)
from ..ops.dropout import dropout1d, dropout2d, dropout3d, alpha_dropout, feature_alpha_dropout
from ..ops.attention import scaled_dot_product_attention
from ..ops.loss import (
    mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy,
    binary_cross_entropy_with_logits, cross_entropy, nll_loss, kl_div, gaussian_nll_loss,
)
from ..ops.loss_margin import (
    margin_ranking_loss, hinge_embedding_loss, soft_margin_loss, multilabel_soft_margin_loss,
    multilabel_margin_loss, multi_margin_loss, cosine_embedding_loss, triplet_margin_loss,
    triplet_margin_with_distance_loss, poisson_nll_loss,
)
from ..ops.ctc import ctc_loss
from ..ops.loss_contrastive import info_nce, nt_xent, contrastive_logits, label_aware_targets
from ..ops.embedding import embedding_bag
from ..ops.linalg import bilinear
from .linear_cross_entropy import linear_cross_entropy

__all__ = [
    "linear", "bilinear", "embedding", "embedding_bag", "one_hot", "pad", "upsample",
    "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "unfold", "fold", "grid_sample", "affine_grid",
    "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate", "max_pool1d", "avg_pool1d",
    "adaptive_avg_pool1d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
    "layer_norm", "group_norm", "batch_norm", "instance_norm", "normalize", "cosine_similarity",
    "pairwise_distance", "rms_norm", "local_response_norm", "pdist",
    "relu", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "sigmoid",
    "tanh", "logsigmoid", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softsign", "glu",
    "softmax", "log_softmax", "softmin", "threshold", "hardshrink", "softshrink", "tanhshrink",
    "prelu", "rrelu", "gumbel_softmax", "relu_", "elu_", "selu_", "celu_", "leaky_relu_",
    "hardtanh_", "threshold_", "rrelu_",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "scaled_dot_product_attention", "multi_head_attention_forward",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
    "gaussian_nll_loss", "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
    "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "poisson_nll_loss", "ctc_loss", "info_nce", "nt_xent", "contrastive_logits",
    "label_aware_targets", "linear_cross_entropy",
]


def linear(input, weight, bias=None):
    """input @ weight^T + bias: input (*, in), weight (out, in), bias (out,) or None -> (*, out)."""
    x, w = getattr(input, "_data", None), getattr(weight, "_data", None)
    b = None if bias is None else getattr(bias, "_data", None)
    # the common case checked on the arrays in one condition; the checks with messages read
    # Tensor properties, a few microseconds a call that a small layer notices
    if (x is None or w is None or (b is None and bias is not None) or not x.ndim or w.ndim != 2
            or x.shape[-1] != w.shape[1] or x.dtype != w.dtype or x.dtype.kind != "f"
            or (b is not None and (b.shape != w.shape[:1] or b.dtype != x.dtype))):
        _linear_checks(input, weight, bias)
    if x.ndim == 1:
        return _linalg.Linear.apply(input.unsqueeze(0), weight, bias).squeeze(0)
    return _linalg.Linear.apply(input, weight, bias)


def _linear_checks(input, weight, bias):
    """linear's argument checks with their messages (they raise where the fast check failed)."""
    op = "linear"
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if (t is not None or name != "bias") and not isinstance(t, Tensor):   # (bias: None ok)
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
    if input.ndim < 1 or weight.ndim != 2:
        raise RuntimeError(f"{op}: expected input (*, in) and a 2-D weight (out, in), got input "
                           f"of shape {tuple(input.shape)} and weight of shape "
                           f"{tuple(weight.shape)}")
    if input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"{op}: expected input with last dim {weight.shape[1]} (weight "
                           f"{tuple(weight.shape)}), got input of shape {tuple(input.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"{op}: expected bias of shape ({weight.shape[0]},), got "
                           f"{tuple(bias.shape)}")
    _check_same_dtype(op, input=input, weight=weight, bias=bias)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of weight (num_embeddings, dim) at the integer indices `input` -> input.shape + (dim,).

    The row padding_idx gets no gradient. max_norm renormalises, in place and outside the graph,
    the rows of weight that are looked up, as torch.embedding_renorm_: a row whose
    norm_type-norm exceeds max_norm is scaled by max_norm / (norm + 1e-7); the lookup then reads
    the renormalised rows. scale_grad_by_freq divides each row's gradient by the number of times
    its index occurs in input, as PyTorch. sparse=True is accepted, but the gradient is dense
    (tinygen has no sparse tensors): the same values, in a (num_embeddings, dim) tensor. The
    two together raise, as PyTorch (there at backward, here where a gradient will be needed).
    """
    op = "embedding"
    if scale_grad_by_freq and sparse and weight.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}_backward: scale_grad_by_freq not supported with sparse "
                           "gradients")
    if weight.ndim != 2:
        raise RuntimeError(f"{op}: expected a 2-D weight (num_embeddings, embedding_dim), got "
                           f"weight of shape {tuple(weight.shape)}")
    if input.dtype.is_floating_point or input.dtype.name == "bool":
        raise RuntimeError(f"{op}: expected an integer (int64) index tensor, got {input.dtype} "
                           f"(shape {tuple(input.shape)})")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings "
                             f"{num}")
        padding_idx = padding_idx % num
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    if scale_grad_by_freq:
        return _index.Embedding.apply(weight, input, padding_idx, by_freq=True)
    return _index.Embedding.apply(weight, input, padding_idx)     # checks the indices


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """Scale each looked-up row of weight whose norm exceeds max_norm to max_norm / (norm + 1e-7)
    of itself, in place under no_grad (torch.embedding_renorm_). Out-of-range indices are left
    to the lookup, which names them."""
    num = weight.shape[0]
    with no_grad():
        ids = input.reshape(-1).unique()                                   # (k,) each row once
        if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= num:
            return
        rows = weight.index_select(0, ids)                                 # (k, dim)
        norms = rows.norm(norm_type, dim=1, keepdim=True)                  # (k, 1)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.index_copy_(0, ids, rows * scale.to(rows.dtype))


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding: tensor (*) of class indices -> (*, num_classes).
    num_classes=-1 takes max(tensor) + 1."""
    op = "one_hot"
    if tensor.dtype.is_floating_point or tensor.dtype.name == "bool":
        raise RuntimeError(f"{op}: is only applicable to index tensors, got {tensor.dtype}")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    if tensor.numel() and (bool((tensor < 0).any()) or bool((tensor >= num_classes).any())):
        raise RuntimeError(f"{op}: class values must be in [0, {num_classes}), got values from "
                           f"{int(tensor.min().item())} to {int(tensor.max().item())}")
    classes = arange(num_classes, device=tensor.device)                 # (num_classes,)
    return (tensor.unsqueeze(-1) == classes).long()


def _pad_parts(x, dim, before, after, mode):
    """The slabs to put before and after x along dim, as views of x (slices, flips, broadcasts):
    their gradients are slice assignments and sums, not scatter-adds."""
    size = x.shape[dim]

    def expand(t, n):
        shape = list(t.shape)
        shape[dim] = n
        return t.expand(tuple(shape))

    if mode == "reflect":                 # mirror, without repeating the edge
        left = x.narrow(dim, 1, before).flip(dim)
        right = x.narrow(dim, size - 1 - after, after).flip(dim)
    elif mode == "replicate":             # repeat the edge
        left = expand(x.narrow(dim, 0, 1), before)
        right = expand(x.narrow(dim, size - 1, 1), after)
    else:                                 # circular: wrap around
        left = x.narrow(dim, size - before, before)
        right = x.narrow(dim, 0, after)
    return left, right


def _check_pad_value(op, input, value):
    """PyTorch refuses a fill value the input's dtype cannot hold ("value cannot be converted to
    type uint8_t without overflow"); an int dtype truncates a float value that fits (2.7 -> 2)."""
    dtype = input.dtype
    if dtype.category == 0:                       # bool: any number (non-zero is True)
        return
    if dtype.category == 1:
        info = iinfo(dtype)
        fits = value == value and info.min <= value <= info.max   # value == value: not NaN
    else:
        fits = value != value or abs(value) == float("inf") or abs(value) <= finfo(dtype).max
    if not fits:
        raise RuntimeError(f"{op}: value {value!r} cannot be converted to the input's dtype "
                           f"{dtype} without overflow (input of shape {tuple(input.shape)})")


def _check_pad_amounts(op, pad, input):
    """pad as a tuple of ints, its length checked against input's dims, as PyTorch."""
    pad = tuple(pad)
    for k, amount in enumerate(pad):
        if isinstance(amount, Tensor) and amount.ndim == 0 and not amount.dtype.is_floating_point:
            amount = amount.item()
        if isinstance(amount, bool) or not isinstance(amount, numbers.Integral):
            raise TypeError(f"{op}: expected pad to be a tuple of ints, but found element of type "
                            f"{type(amount).__name__} at pos {k} (pad {pad!r})")
    pad = tuple(int(amount.item() if isinstance(amount, Tensor) else amount) for amount in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"{op}: padding length must be even and at most twice the number of "
                         f"dims, got pad {pad} for input of shape {tuple(input.shape)}")
    return pad


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: pad = (left, right, top, bottom, ...) from the last dim.

    mode 'constant' (value, default 0; it must fit input's dtype), 'reflect' (mirror without the
    edge, pads < size), 'replicate' (repeat the edge) or 'circular' (wrap around, pads <= size).
    Negative pads crop, as PyTorch: in 'constant', 'reflect' and 'replicate' the result is the
    positive padding then the crop (pads (-1, 1) in mode 'reflect' turn a last dim
    [0, 1, 2, 3, 4] into [1, 2, 3, 4, 3]; a crop may reach into the padding); in 'circular'
    the crop comes first and the wrap-around reads the cropped dim (PyTorch's order), so each
    pad must be at most the cropped size. A dim cropped below 0 (constant, circular) or a result
    below 1 (reflect, replicate) is an error.

    Where tinygen differs: PyTorch's non-constant modes take only 2 pads on a 2-D or 3-D input,
    4 on a 3-D or 4-D, 6 on a 4-D or 5-D; tinygen pads any number of trailing dims of any input
    (a 1-D input with mode 'reflect', 4 pads on a 4-D input...). Where PyTorch's circular mode
    pads more than the cropped size (reading memory it never wrote), tinygen raises. A reflect or
    replicate result 0 long is refused in every rank (PyTorch refuses it padding one dim, returns
    an empty tensor padding two or three).
    """
    op = "pad"
    pad = _check_pad_amounts(op, pad, input)
    n_dims = len(pad) // 2
    pairs = [(pad[2 * k], pad[2 * k + 1]) for k in range(n_dims)]       # last dim first
    _check_pad_lengths(op, input, pairs, mode)
    if mode == "constant":
        value = 0.0 if value is None else value
        _check_pad_value(op, input, value)
        pads = [(0, 0)] * input.ndim
        for k, (before, after) in enumerate(pairs):
            pads[input.ndim - 1 - k] = (before, after)
        return _shape.Pad.apply(input, tuple(pads), value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"{op}: mode {mode!r} is not implemented; expected "
                                  "'constant', 'reflect', 'replicate' or 'circular'")
    if value not in (None, 0, 0.0):
        raise ValueError(f"{op}: padding mode {mode!r} doesn't take in a value argument")
    y = input
    for k, (before, after) in enumerate(pairs):
        y = _pad_dim(op, y, input, input.ndim - 1 - k, before, after, mode)
    return y


def _check_pad_lengths(op, input, pairs, mode):
    """A dim cropped below 0 (constant, circular) or padded-then-cropped below 1 (reflect,
    replicate) is a RuntimeError naming the padding, the dim and its size."""
    for k, (before, after) in enumerate(pairs):
        dim = input.ndim - 1 - k
        size = input.shape[dim]
        if mode in ("reflect", "replicate"):      # pad, then crop: the result must not be empty
            length, at_least, what = size + before + after, 1, "the padded dim"
        else:                                     # the crops alone must leave >= 0
            length, at_least, what = size + min(before, 0) + min(after, 0), 0, "the cropped dim"
        if length < at_least:
            raise RuntimeError(f"{op}: padding ({before}, {after}) of dim {dim} (size {size}) of "
                               f"input of shape {tuple(input.shape)} makes {what} {length} long, "
                               f"expected at least {at_least} in mode {mode!r}")


def _pad_dim(op, y, input, dim, before, after, mode):
    """y padded along dim in a non-constant mode, negative pads cropping (see pad)."""
    size = y.shape[dim]
    crop_before, crop_after = max(-before, 0), max(-after, 0)
    before, after = max(before, 0), max(after, 0)
    if mode == "circular":                    # PyTorch crops first, then wraps around
        y = y.narrow(dim, crop_before, size - crop_before - crop_after)
        size = y.shape[dim]
        crop_before = crop_after = 0
    limit = size if mode == "reflect" else (size + 1 if mode == "circular" else None)
    if (before or after) and (size == 0 or limit is not None and
                              (before >= limit or after >= limit)):
        rule = "at most" if mode == "circular" else "less than"
        cropped = " after the crop" if size != input.shape[dim] else ""
        raise ValueError(f"{op}: padding size should be {rule} the corresponding input "
                         f"dimension for mode {mode!r}, but got padding ({before}, {after}) "
                         f"at dimension {dim} (size {size}{cropped}) of input of shape "
                         f"{tuple(input.shape)}")
    if before or after:
        left, right = _pad_parts(y, dim, before, after, mode)
        y = _shape.cat([part for part, n in ((left, before), (y, size), (right, after))
                        if n], dim)
    if crop_before or crop_after:             # reflect, replicate: pad, then crop
        y = y.narrow(dim, crop_before, y.shape[dim] - crop_before - crop_after)
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (as in PyTorch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode='nearest')."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode='bilinear', align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _shuffle_factor(op, name, input, r):
    """r checked as PyTorch checks it (a positive int), and input's dims (at least 3)."""
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise RuntimeError(f"{op}: expected {name} to be a positive int, got {r!r}")
    if input.ndim < 3:
        raise RuntimeError(f"{op}: expected an input of at least 3 dims (*, C, H, W), got shape "
                           f"{tuple(input.shape)}")
    return r


def pixel_shuffle(input, upscale_factor):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): channel blocks become r x r pixel blocks."""
    r = _shuffle_factor("pixel_shuffle", "upscale_factor", input, upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected the channels of input of shape "
                           f"{tuple(input.shape)} to be divisible by upscale_factor ** 2 = {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)              # (*, C, r, r, H, W)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)           # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W): the inverse of pixel_shuffle."""
    r = _shuffle_factor("pixel_unshuffle", "downscale_factor", input, downscale_factor)
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle: expected the height and width of input of shape "
                           f"{tuple(input.shape)} to be divisible by downscale_factor {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)               # (*, C, H, r, W, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)           # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """(N, C, *) with its channels regrouped: channel g * (C / groups) + k moves to k * groups + g
    (ShuffleNet, Zhang et al. 2018)."""
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle: expected an input of at least 3 dims (N, C, *), "
                           f"got shape {tuple(input.shape)}")
    n, c = input.shape[:2]
    if groups <= 0 or c % groups:
        raise RuntimeError(f"channel_shuffle: the number of channels {c} must be divisible by "
                           f"groups {groups}")
    rest = tuple(input.shape[2:])
    x = input.reshape((n, groups, c // groups) + rest)               # (N, g, C/g, *)
    return x.transpose(1, 2).reshape(input.shape)


native_channel_shuffle = channel_shuffle


def __getattr__(name):
    # MultiheadAttention's functional form lives beside the module (nn/modules/attention.py),
    # which calls linear, pad, softmax and dropout from here: loaded on first use, then kept
    if name == "multi_head_attention_forward":
        from .modules.attention import multi_head_attention_forward  # lazy: it imports this file
        globals()[name] = multi_head_attention_forward
        return multi_head_attention_forward
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
