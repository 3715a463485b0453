"""torch.*'s own versions of functional ops: the ATen signatures, which differ from
torch.nn.functional's, mapped onto tinygen's implementations (ops/ and nn/functional.py).

    tg.embedding(weight, indices)                       weight first; padding_idx=-1: none
    tg.batch_norm(x, w, b, mean, var, training, momentum, eps, cudnn_enabled)   all positional
    tg.kl_div(input, target, 1)                         reduction an int: 0 none, 1 mean, 2 sum
    tg.adaptive_max_pool1d(x, 3)                        always (values, indices)
    tg.dropout_(x, 0.5, True), tg.feature_dropout(x, 0.5, True)      (input, p, train)

Reductions follow ATen's enum: 1 is the mean, 2 the sum, any other int no reduction (as
PyTorch's apply_loss_reduction). The default is no reduction: ATen's schemas say 1, but
PyTorch's Python bindings of these ops reduce nothing unless told (torch.kl_div(x, t) has x's
shape), and tinygen follows what torch.* does.

The ops that live in nn/functional.py (embedding, pad, the pixel and channel shuffles) are
imported from there on first call: nn sits above the top level.
"""
from __future__ import annotations

from .ops import loss as _loss
from .ops import loss_margin as _margin
from .ops import norm as _norm
from .ops.activation import dropout as _dropout
from .ops.dropout import _feature_dropout, alpha_dropout, feature_alpha_dropout
from .ops.inplace import inplace as _write_into
from .ops.pool_extra import adaptive_max_pool1d as _adaptive_max_pool1d
from .tensor import Tensor


def _reduction(op, reduction):
    """ATen's reduction enum -> tinygen's name: 1 'mean', 2 'sum', other ints 'none'."""
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(f"{op}(): argument 'reduction' must be int (0 none, 1 mean, 2 sum), not "
                        f"{type(reduction).__name__} (torch.nn.functional.{op} takes names)")
    return "mean" if reduction == 1 else "sum" if reduction == 2 else "none"


def _functional():
    from .nn import functional  # lazy: tinygen.nn sits above the top-level modules
    return functional


# ---- lookups, normalisation, shuffles, padding, pooling ------------------------------------------
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """Rows of weight at indices (F.embedding with its first two arguments swapped); a negative
    padding_idx means none, as ATen's."""
    padding = padding_idx if padding_idx is not None and padding_idx >= 0 else None
    return _functional().embedding(indices, weight, padding, None, 2.0, scale_grad_by_freq,
                                   sparse)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    """F.batch_norm in ATen's order; cudnn_enabled is accepted and ignored."""
    return _norm.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                            eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    """F.instance_norm in ATen's order; cudnn_enabled is accepted and ignored. Where tinygen
    differs: input needs a spatial dim (N, C, *), as F.instance_norm (ATen also takes (N, C))."""
    return _norm.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                               momentum, eps)


def pixel_shuffle(input, upscale_factor):
    return _functional().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    return _functional().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input, groups):
    return _functional().channel_shuffle(input, groups)


def constant_pad_nd(input, pad, value=0):
    """Pad (or, with negative amounts, crop) the last len(pad) // 2 dims with value:
    pad = (left, right, top, bottom, ...) from the last dim, as F.pad's constant mode."""
    pad = tuple(pad)
    if len(pad) % 2:
        raise RuntimeError(f"constant_pad_nd: Length of pad must be even but instead it equals "
                           f"{len(pad)}")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"constant_pad_nd: Length of pad should be no more than twice the "
                           f"number of dimensions of the input. Pad length is {len(pad)} while "
                           f"the input has {input.ndim} dimensions.")
    return _functional().pad(input, pad, "constant", value)


def adaptive_max_pool1d(input, output_size):
    """(values, indices) of adaptive max pooling over the last dim of (N, C, L) or (C, L)."""
    return _adaptive_max_pool1d(input, output_size, return_indices=True)


# ---- losses (reduction as ATen's int) ------------------------------------------------------------
def kl_div(input, target, reduction=0, *, log_target=False):
    """Pointwise KL divergence (F.kl_div); no 'batchmean' in ATen's enum."""
    return _loss.kl_div(input, target, reduction=_reduction("kl_div", reduction),
                        log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return _loss.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction("binary_cross_entropy_with_logits",
                                                    reduction), pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return _margin.cosine_embedding_loss(
        input1, input2, target, margin, reduction=_reduction("cosine_embedding_loss", reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return _margin.hinge_embedding_loss(
        input, target, margin, reduction=_reduction("hinge_embedding_loss", reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return _margin.margin_ranking_loss(
        input1, input2, target, margin, reduction=_reduction("margin_ranking_loss", reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """F.poisson_nll_loss with every argument positional, as ATen's."""
    return _margin.poisson_nll_loss(input, target, log_input, full, eps=eps,
                                    reduction=_reduction("poisson_nll_loss", reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=0):
    return _margin.triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap,
        reduction=_reduction("triplet_margin_loss", reduction))


# ---- dropout's (input, p, train) forms, in place and by feature ---------------------------------
def _check_p(op, p):
    """ATen's check: a RuntimeError (F.*'s forms raise ValueError)."""
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout_(input, p, train):
    """dropout written into input (train=False or p=0: input untouched)."""
    _check_p("dropout_", p)
    return _dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    _check_p("alpha_dropout_", p)
    return alpha_dropout(input, p, train, inplace=True)


def feature_dropout(input, p, train):
    """Zero whole channels of input (N, C, *): one Bernoulli(1 - p) draw per (N, C), kept ones
    scaled by 1 / (1 - p); input itself when not training."""
    _check_p("feature_dropout", p)
    return _feature_dropout("feature_dropout", input, p, train)


def feature_dropout_(input, p, train):
    _check_p("feature_dropout_", p)
    if not train or p == 0.0 or input.numel() == 0:
        return input
    return _write_into(input, lambda t: _feature_dropout("feature_dropout_", t, p, train))


def feature_alpha_dropout_(input, p, train):
    _check_p("feature_alpha_dropout_", p)
    return feature_alpha_dropout(input, p, train, inplace=True)


def detach_(input):
    """input cut from its graph, in place (it becomes a leaf that requires no grad)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"detach_(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    return input.detach_()
