"""Margin, embedding and count losses, as torch.nn.functional: margin_ranking_loss,
hinge_embedding_loss, soft_margin_loss, multilabel_soft_margin_loss, multilabel_margin_loss,
multi_margin_loss,
cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss, poisson_nll_loss.

Each is a composition of Tensor ops (so differentiable to any order) following PyTorch's
definitions term by term; `reduction` is 'mean' | 'sum' | 'none' (and the legacy size_average /
reduce flags where PyTorch has them), applied to the per-sample (or per-element) losses below.
Targets y in {1, -1} select between the two branches of the hinge-style losses.
"""
from __future__ import annotations

import math

import numpy as np

from .activation import Softplus, logsigmoid
from .args import check_float
from .binary import where
from .convert import constant
from .loss import _reduce, _reduction
from .norm import pairwise_distance

# added to the squared norms in cosine_embedding_loss, as PyTorch: its EPSILON is the float
# 1e-12f (9.99999996e-13) in every dtype; float64 gradients at a zero vector differ by 2e-9
# relative with the double 1e-12
COSINE_EPS = float(np.float32(1e-12))


def _same_shapes(op, *tensors):
    shapes = [tuple(t.shape) for t in tensors]
    if len(set(shapes)) != 1:
        raise RuntimeError(f"{op}: expected inputs of one shape, got shapes {shapes}")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -y (x1 - x2) + margin): y = 1 ranks input1 higher, y = -1 input2."""
    op = "margin_ranking_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input1)
    _same_shapes(op, input1, input2, target)
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0.0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where y == 1, max(0, margin - x) where y == -1 (other targets count both terms, as
    PyTorch's where-based definition)."""
    op = "hinge_embedding_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    margin_term = where(target != 1, (margin - input).clamp_min(0.0), 0.0)
    self_term = where(target != -1, input, 0.0)
    return _reduce(margin_term + self_term, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)) per element (a smooth hinge), computed as softplus(-y x). Where
    tinygen differs: at y x = -inf the gradient is the limit -y (PyTorch's exp / (1 + exp) gives
    NaN)."""
    op = "soft_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    _same_shapes(op, input, target)
    return _reduce(Softplus.apply(-target * input, 1.0, math.inf), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) times weight, averaged over the classes (the
    last dim) of each sample: input, target (N, C) -> per-sample losses (N,)."""
    op = "multilabel_soft_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    _same_shapes(op, input, target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(dim=-1) / input.shape[-1], reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """The multi-class hinge: sum over i != y of max(0, margin - x[y] + x[i])^p / C (times
    weight[y]). input (N, C) or (C,), target (N,) or () class indices."""
    op = "multi_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got p={p}")
    x = input.unsqueeze(0) if input.ndim == 1 else input              # (N, C)
    y = target.reshape(-1)                                            # (N,)
    if x.ndim != 2 or y.shape[0] != x.shape[0] or target.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected input (N, C) or (C,) and integer class indices (N,) "
                           f"or (), got input {tuple(input.shape)} and target "
                           f"{tuple(target.shape)} of {target.dtype}")
    C = x.shape[1]
    if bool(((y < 0) | (y >= C)).any()):
        raise IndexError(f"{op}: target out of range for {C} classes")
    picked = x.gather(1, y.unsqueeze(1))                              # (N, 1): x[y]
    z = x - picked + margin
    hinge = where(z.detach() > 0, z, 0.0)     # PyTorch's kernel: if (z > 0); no gradient at 0
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        if weight.ndim != 1 or weight.shape[0] != C:
            raise RuntimeError(f"{op}: inconsistent weight size: expected a weight of shape "
                               f"({C},) for {C} classes, got {tuple(weight.shape)}")
        hinge = hinge * weight.index_select(0, y).unsqueeze(1)
    others = y.unsqueeze(1) != _classes(x)                            # i != y
    loss = where(others, hinge, 0.0).sum(dim=1) / C                   # (N,)
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def _classes(x):
    """0, 1, ..., C - 1 as a constant (1, C) on x's device."""
    return constant(x.device.xp.arange(x.shape[1]).reshape(1, -1), x)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where y == 1, max(0, cos(x1, x2) - margin) where y == -1; cos over the
    last dim with 1e-12 added to each squared norm. input (N, D) or (D,), target (N,) or ()."""
    op = "cosine_embedding_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input1)
    _same_shapes(op, input1, input2)
    dot = (input1 * input2).sum(dim=-1)
    norms = ((input1 * input1).sum(dim=-1) + COSINE_EPS) * \
        ((input2 * input2).sum(dim=-1) + COSINE_EPS)
    cos = dot / norms.sqrt()
    positive = where(target == 1, 1 - cos, 0.0)
    negative = where(target == -1, (cos - margin).clamp_min(0.0), 0.0)
    return _reduce(positive + negative, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with d the p-norm pairwise distance (Balntas et al.
    2016); swap uses min(d(a, n), d(p, n)) as the negative distance. Inputs (N, D) or (D,)."""
    op = "triplet_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, anchor)
    _same_shapes(op, anchor, positive, negative)

    def distance(a, b):
        return pairwise_distance(a, b, p, eps)
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance (default: pairwise_distance)."""
    reduction = _reduction(reduction, None, None, "triplet_margin_with_distance_loss")
    distance = distance_function or pairwise_distance
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp_min(0.0), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """The Poisson negative log-likelihood of target under rate exp(input) (log_input) or input:
    exp(x) - t x, or x - t log(x + eps); full adds Stirling's log(t!) ~ t log t - t +
    log(2 pi t) / 2 where t > 1."""
    op = "poisson_nll_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:                                                          # a learned target too
        t = target
        safe = where(t > 1, t, 1.0)                                  # log(1) = 0 elsewhere
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + where(t > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The multi-label hinge: sum over target classes j and non-target classes i of
    max(0, 1 - (x[j] - x[i])) / C. input (N, C) or (C,); target of the same shape holding the
    target classes, ended by the first -1."""
    op = "multilabel_margin_loss"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    _same_shapes(op, input, target)
    x = input.unsqueeze(0) if input.ndim == 1 else input              # (N, C)
    labels = target.reshape(x.shape).cpu().numpy()
    N, C = x.shape
    if labels.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected integer (int64) target classes, got {target.dtype}")
    if labels.size and (labels.min() < -1 or labels.max() >= C):    # past the -1 too, as PyTorch
        raise IndexError(f"{op}: target out of range: the classes must be in [0, {C}) or -1 "
                         f"(the end), got values from {labels.min()} to {labels.max()}")
    counts = np.zeros((N, C))                                         # target j, with repeats
    for n, row in enumerate(labels):
        ends = np.flatnonzero(row < 0)
        for j in row[:ends[0] if ends.size else C]:
            counts[n, j] += 1
    others = counts == 0                                              # non-target classes i
    xp = x.device.xp
    pairs = counts[:, :, None] * others[:, None, :]                   # (N, j, i)
    weight = constant(xp.asarray(pairs.astype(x._data.dtype)), x)
    z = 1 - x.unsqueeze(2) + x.unsqueeze(1)
    hinge = where(z.detach() > 0, z, 0.0)     # PyTorch's kernel: if (z > 0); no gradient at 0
    # the pairs only: an infinite hinge times a weight of 0 would be NaN (PyTorch skips them)
    loss = where(constant(xp.asarray(pairs > 0), x), hinge * weight, 0.0).sum(dim=(1, 2)) / C
    return _reduce(loss.reshape(()) if input.ndim == 1 else loss, reduction)
