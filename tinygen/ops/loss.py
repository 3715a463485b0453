"""Losses, as torch.nn.functional: mse_loss l1_loss smooth_l1_loss huber_loss binary_cross_entropy
binary_cross_entropy_with_logits cross_entropy nll_loss kl_div gaussian_nll_loss.

All are compositions of Tensor ops in their numerically stable forms (log_softmax for
cross-entropy, softplus for BCE with logits, logs clamped at -100 in binary_cross_entropy as
PyTorch does), except cross_entropy with class indices and no class weights, which runs the
fused per-row kernel of kernels/softmax.py (CrossEntropyRows). `reduction` is 'mean' | 'sum' |
'none' with PyTorch's exact meaning; a weighted mean (nll_loss, cross_entropy with class weights)
divides by the sum of the targets' weights.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, OpIndexError, wrap
from ..autograd.grad_mode import GRAD
from .activation import Softplus, log_softmax
from .args import check_float
from .binary import where
from .softmax import SoftmaxBackward
from .shape import broadcast_tensors


class CrossEntropyRows(Function):
    """Per-row cross-entropy from logits (N, C) and class indices (N,) through the kernel table
    (cross_entropy_fwd): loss (N,), 0 where the target is ignore_index. Backward:
    CrossEntropyRowsBackward."""

    def forward(self, logits, target, ignore_index, label_smoothing, shape):
        self.target, self.ignore_index, self.smoothing = target, ignore_index, label_smoothing
        try:                    # every version checks the targets (so a captured step does too)
            loss, self.lse = self.kernel("cross_entropy_fwd")(
                logits, target, ignore_index, label_smoothing)
        except IndexError:      # named as PyTorch names it: the first target out of range
            _check_targets("cross_entropy", target, logits.shape[1], ignore_index, shape)
            raise
        self.save_for_backward(logits)
        return loss

    def backward(self, gloss):
        (logits,) = self.saved_tensors
        return CrossEntropyRowsBackward.apply(logits, gloss, self.target, self.lse,
                                              self.ignore_index, self.smoothing), None, None, None


class CrossEntropyMean(CrossEntropyRows):
    """The mean of CrossEntropyRows over the rows whose target is not ignore_index, as one op
    (cross_entropy's default reduction): the per-row loss, its sum and the mean's scale in one
    forward, and where no graph of the backward is recorded one backward op, the kernel
    handed the scalar gradient (three ops each way before: 65 -> 41 us for a 64 x 10 step's
    forward and backward). NaN, with gradient 0, when every target is ignored (as PyTorch)."""

    def forward(self, logits, target, ignore_index, label_smoothing, shape):
        loss = super().forward(logits, target, ignore_index, label_smoothing, shape)
        count = int((target != ignore_index).sum())
        # an array, not a Python float: backward reads it from here on every replay
        self.scale = self.xp.asarray(1.0 / count if count else 0.0, dtype=loss.dtype)
        return loss.sum() * self.scale if count else loss.sum() * 0.0 + float("nan")

    def backward(self, gy):
        (logits,) = self.saved_tensors
        if GRAD.enabled:                 # a graph of the backward: gloss as Tensor ops
            gloss = (gy * wrap(self.scale)).expand(logits.shape[0])
            return super().backward(gloss)
        return CrossEntropyRowsBackward.apply(logits, gy, self.target, self.lse, self.ignore_index,
                                              self.smoothing, self.scale), None, None, None, None


class CrossEntropyRowsBackward(Function):
    """glogits = gloss * keep * (softmax(logits) - aim), aim = (1 - s) onehot(t) + s / C and keep
    = (t != ignore_index): the cross_entropy_bwd kernel forward. Backward in Tensor ops:
        d logits = softmax_bwd(p, gg * gloss * keep),   d gloss = keep * rowsum(gg * (p - aim)).
    scale given (CrossEntropyMean, no graph recorded): gloss is the mean's 0-d gradient, every
    row's gradient gloss * scale."""

    def forward(self, logits, gloss, target, lse, ignore_index, smoothing, scale=None):
        self.target, self.ignore_index, self.smoothing = target, ignore_index, smoothing
        self.save_for_backward(logits, gloss)
        if scale is not None:                   # (empty + assign: a 0-d array on CuPy too)
            gloss, value = self.xp.empty(logits.shape[0], dtype=logits.dtype), gloss * scale
            gloss[...] = value
        return self.kernel("cross_entropy_bwd")(logits, target, lse, gloss, ignore_index,
                                                smoothing)

    def backward(self, gg):
        logits, gloss = self.saved_tensors
        xp, (N, C), s = self.xp, logits.shape, self.smoothing
        valid = self.target != self.ignore_index
        aim = xp.full((N, C), s / C, dtype=logits._data.dtype)          # the smoothed target
        aim[xp.arange(N)[valid], self.target[valid]] += 1 - s
        keep = wrap(valid.astype(logits._data.dtype))
        p = logits.softmax(-1)
        g_logits = SoftmaxBackward.apply(p, gg * (gloss * keep).unsqueeze(1), -1)
        g_gloss = (gg * (p - wrap(aim))).sum(dim=-1) * keep
        return g_logits, g_gloss, None, None, None, None


def _reduction(reduction, size_average, reduce, op):
    """PyTorch's legacy size_average / reduce flags -> a reduction string, then validated."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; expected "
                         "'mean', 'sum' or 'none'")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _broadcast_pair(op, input, target):
    check_float(op, input)
    if tuple(input.shape) == tuple(target.shape):
        return input, target
    try:
        return broadcast_tensors(input, target)
    except Exception:
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} and target of shape "
                           f"{tuple(target.shape)} do not broadcast") from None


def _same_shape(op, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: expected target of the input's shape {tuple(input.shape)}, got "
                         f"target of shape {tuple(target.shape)}")


# ---- regression ----------------------------------------------------------------------------------
def _weighted(op, loss, input, weight, reduction, mean_by_weight):
    """loss * weight reduced, weight of the input's shape (PyTorch's ValueError otherwise);
    'mean' divides by sum(weight) where mean_by_weight (PyTorch's mse_loss and l1_loss), else by
    the number of elements (its huber_loss)."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weights and input must have the same size: weight of shape "
                         f"{tuple(weight.shape)}, input of shape {tuple(input.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target) ** 2, reduced. input and target broadcast (PyTorch warns there). With
    weight (input's shape), 'mean' is sum(weight * loss) / sum(weight), as PyTorch."""
    reduction = _reduction(reduction, size_average, reduce, "mse_loss")
    x, t = _broadcast_pair("mse_loss", input, target)
    diff = x - t
    return _weighted("mse_loss", diff * diff, input, weight, reduction, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|, reduced; weight as mse_loss."""
    reduction = _reduction(reduction, size_average, reduce, "l1_loss")
    x, t = _broadcast_pair("l1_loss", input, target)
    return _weighted("l1_loss", (x - t).abs(), input, weight, reduction, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d ** 2 / beta where d = |input - target| < beta, else d - beta / 2 (l1 for beta 0)."""
    reduction = _reduction(reduction, size_average, reduce, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, t = _broadcast_pair("smooth_l1_loss", input, target)
    diff = x - t
    d = diff.abs()
    if beta == 0:
        return _reduce(d, reduction)
    small = d.detach() < beta
    ds = where(small, diff, 0.0)    # the quadratic branch away from +-inf: its 0 * inf gradient
    return _reduce(where(small, ds * ds * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d ** 2 where d = |input - target| < delta, else delta * (d - delta / 2)."""
    reduction = _reduction(reduction, None, None, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _broadcast_pair("huber_loss", input, target)
    diff = x - t
    d = diff.abs()
    small = d.detach() < delta
    ds = where(small, diff, 0.0)    # the quadratic branch away from +-inf: its 0 * inf gradient
    loss = where(small, ds * ds * 0.5, (d - 0.5 * delta) * delta)
    # PyTorch's huber_loss, unlike its mse_loss and l1_loss, takes the plain mean with weight
    return _weighted("huber_loss", loss, input, weight, reduction, False)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(var) + (input - target) ** 2 / var) [+ 0.5 log(2 pi) if full], reduced.

    var: the input's shape, or that shape with one dim of size 1 (or the last dim missing), or a
    float. var is clamped below at eps outside the graph: the gradient is that of var itself.
    """
    op = "gaussian_nll_loss"
    check_float(op, input)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries")
        var = input.detach() * 0 + float(var)
    elif bool((var < 0).any()):
        raise ValueError(f"{op}: var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(
                v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass
        else:
            raise ValueError(f"{op}: var is of incorrect size: expected the input's shape "
                             f"{tuple(input.shape)} or a broadcastable one with one dim of size 1, "
                             f"got var of shape {tuple(var.shape)}")
    reduction = _reduction(reduction, None, None, op)
    var = var + (var.detach().clamp_min(eps) - var.detach())       # clamp outside the graph
    diff = input - target
    loss = (var.log() + diff * diff / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---- binary classification -----------------------------------------------------------------------
# PyTorch's EPSILON in binary_cross_entropy_backward: 1e-12 as a float32 constant, in every dtype
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """-(t log(x) + (1 - t) log(1 - x)) elementwise, each log clamped below at -100, with
    PyTorch's gradients rather than the clamped logs' own: (x - t) / max(x (1 - x), 1e-12) for x
    (a saturated wrong prediction, x = 0 with t = 1, gets -1e12 and learns; the clamp's own
    gradient there is 0) and log(1 - x) - log(x) for t. Both in Tensor ops (double backward).
    An input outside [0, 1], or NaN, is an error on the CPU, as in PyTorch (not checked on CUDA:
    it would wait for the device every step; NaN losses there)."""

    def forward(self, x, t):
        xp = self.xp
        if xp is np and not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError(f"binary_cross_entropy: all elements of input should be between 0 "
                               f"and 1, got values from {np.nanmin(x)} to {np.nanmax(x)}"
                               f"{' and NaN' if np.isnan(x).any() else ''} (for logits, "
                               f"use binary_cross_entropy_with_logits)")
        self.save_for_backward(x, t)
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(x), x.dtype.type(-100))
            log_1mp = xp.maximum(xp.log(1 - x), x.dtype.type(-100))
        return -(t * log_p + (1 - t) * log_1mp)

    def backward(self, gy):
        x, t = self.saved_tensors
        gx = gy * (x - t) / (x * (1 - x)).clamp_min(_BCE_EPS)
        gt = gy * ((1 - x).log() - x.log()) if t.requires_grad else None
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-w * (t * log(x) + (1 - t) * log(1 - x)), each log clamped below at -100, with PyTorch's
    gradients (BinaryCrossEntropy).

    input: probabilities in [0, 1]; target: the input's shape; weight broadcasts to it.
    """
    op = "binary_cross_entropy"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    _same_shape(op, input, target)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE on logits x: (1 - t) * x + (1 + (pos_weight - 1) * t) * softplus(-x), times weight.

    softplus(-x) = log(1 + exp(-x)) is computed as max(-x, 0) + log1p(exp(-|x|)): no overflow.
    pos_weight broadcasts along the last (class) dim.
    """
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    _same_shape(op, input, target)
    softplus_neg = Softplus.apply(-input, 1.0, math.inf)            # -log(sigmoid(x))
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---- multi-class classification ------------------------------------------------------------------
def _check_class_target(op, input, target):
    """input (N, C, d1, ...) or (C,); target (N, d1, ...) or () of an integer dtype."""
    if input.ndim < 1:
        raise RuntimeError(f"{op}: expected an input of shape (N, C, d1, ...) or (C,), got a "
                           f"scalar input")
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise RuntimeError(f"{op}: expected target of shape {expected} (class indices) for input "
                           f"of shape {tuple(input.shape)}, got target of shape "
                           f"{tuple(target.shape)}")
    if target.dtype.is_floating_point or target.dtype.name == "bool":
        raise RuntimeError(f"{op}: expected an integer (int64) class-index target, got "
                           f"{target.dtype}")


def _check_target_range(op, input, target, ignore_index):
    C = input.shape[0 if input.ndim == 1 else 1]
    TargetCheck.apply(target.detach(), C, ignore_index, op=op, shape=tuple(input.shape))


class TargetCheck(Function):
    """Raises IndexError naming the first target outside [0, C) (ignore_index aside). An op
    (returning its input), so a captured step (tg.compile) checks every step's targets."""

    def forward(self, t, C, ignore_index, op, shape):
        _check_targets(op, t, C, ignore_index, shape)
        return t


def _check_targets(op, t, C, ignore_index, shape):
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bool(bad.any()):
        value = int(t[bad].reshape(-1)[0])
        raise OpIndexError(f"{op}: target {value} is out of bounds for input of shape {shape} "
                           f"with {C} classes")


def _class_weights(op, weight, C, input):
    if weight is not None and tuple(weight.shape) != (C,):
        raise RuntimeError(f"{op}: expected weight of shape ({C},) for input of shape "
                           f"{tuple(input.shape)} with {C} classes, got weight of shape "
                           f"{tuple(weight.shape)}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-w[t] * input[n, t[n], ...] for log-probabilities input (N, C, d1, ...) or (C,).

    Targets equal to ignore_index contribute 0; 'mean' divides by the sum of w[t] over the
    targets not ignored (NaN when all are ignored, as in PyTorch).
    """
    reduction = _reduction(reduction, size_average, reduce, "nll_loss")
    return _nll_loss("nll_loss", input, target, weight, ignore_index, reduction)


def _nll_loss(op, input, target, weight, ignore_index, reduction):
    check_float(op, input)
    _check_class_target(op, input, target)
    class_dim = 0 if input.ndim == 1 else 1
    C = input.shape[class_dim]
    _class_weights(op, weight, C, input)
    _check_target_range(op, input, target, ignore_index)
    valid = target != ignore_index
    safe = where(valid, target, 0)                                   # ignored -> class 0
    picked = input.gather(class_dim, safe.unsqueeze(class_dim)).squeeze(class_dim)
    if weight is not None:
        w = weight.index_select(0, safe.reshape(-1)).reshape(safe.shape)
        w = where(valid, w, 0.0)
    else:
        w = valid.to(input.dtype)
    # an ignored target contributes 0 even where its log-probability is NaN (-NaN * 0 was
    # NaN; PyTorch skips it)
    loss = where(valid, -picked * w, 0.0)                             # (N, d1, ...)
    if reduction == "mean":
        total = w.sum()
        if float(total.detach().item()) == 0.0:     # every target ignored: NaN, gradient 0
            return loss.sum() * 0.0 + float("nan")
        return loss.sum() / total
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy from logits input (N, C, d1, ...) or (C,), as torch.nn.functional.

    target: class indices (N, d1, ...) of an integer dtype, or class probabilities of the
    input's shape (floating). label_smoothing mixes the target with the uniform distribution:
    (1 - s) * nll + s / C * sum over classes of -w[c] * log p[c].
    """
    op = "cross_entropy"
    reduction = _reduction(reduction, size_average, reduce, op)
    check_float(op, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    if input.ndim < 1:
        raise RuntimeError(f"{op}: expected an input of shape (N, C, d1, ...) or (C,), got a "
                           "scalar input")
    class_dim = 0 if input.ndim == 1 else 1
    C = input.shape[class_dim]
    _class_weights(op, weight, C, input)
    if not target.dtype.is_floating_point and weight is None:
        return _cross_entropy_fused(op, input, target, ignore_index, reduction, label_smoothing)
    logp = log_softmax(input, class_dim)
    w_view = None if weight is None else \
        weight.reshape((C,) + (1,) * (input.ndim - 1 - class_dim))    # broadcast over (N, C, ...)
    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(
                f"{op}: expected a class-index target of shape "
                f"{(() if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:]))} "
                f"(integer dtype) or a probability target of the input's shape "
                f"{tuple(input.shape)} (floating), got target of shape {tuple(target.shape)} "
                f"and dtype {target.dtype}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / C
        prod = logp * target if w_view is None else logp * target * w_view
        loss = -prod.sum(dim=class_dim)                               # (N, d1, ...)
        if reduction == "mean":
            return loss.sum() / max(input.numel() // max(C, 1), 1) if input.numel() else \
                loss.sum() * float("nan")
        return _reduce(loss, reduction)
    nll = _nll_loss(op, logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    valid = target != ignore_index
    smooth = -(logp if w_view is None else logp * w_view).sum(dim=class_dim)
    smooth = where(valid, smooth, 0.0)
    if reduction == "mean":
        if weight is not None:
            safe = where(valid, target, 0)
            denom = where(valid, weight.index_select(0, safe.reshape(-1)).reshape(safe.shape),
                           0.0).sum()
        else:
            denom = valid.sum().to(input.dtype)
        smooth = smooth.sum() / denom
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


def _cross_entropy_fused(op, input, target, ignore_index, reduction, label_smoothing):
    """cross_entropy with class indices and no class weights: the fused per-row kernel on
    logits flattened to (rows, C)."""
    _check_class_target(op, input, target)
    C = input.shape[0 if input.ndim == 1 else 1]
    if input.ndim == 1:
        logits, rows = input.unsqueeze(0), target.reshape(1)                # (1, C)
    elif input.ndim == 2:
        logits, rows = input, target                                        # (N, C)
    else:                                                  # (N, C, d...) -> (N * d..., C)
        logits = input.permute(0, *range(2, input.ndim), 1).reshape(-1, C)
        rows = target.reshape(-1)
    if reduction == "mean":
        return CrossEntropyMean.apply(logits, rows, ignore_index, float(label_smoothing),
                                      tuple(input.shape))
    loss = CrossEntropyRows.apply(logits, rows, ignore_index, float(label_smoothing),
                                  tuple(input.shape))
    if reduction == "none":
        return loss.reshape(target.shape)
    return loss.sum()                                                    # "sum"


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log(target) - input), 0 where target is 0;
    with log_target, exp(target) * (target - input). 'batchmean' divides the sum by input.size(0)
    (the true KL divergence per sample); 'mean' divides by the number of elements.

    Where tinygen differs: the gradient with respect to a target that is exactly 0 (log_target
    False) is -input, the one-sided limit without the log term; PyTorch's xlogy(target, target)
    gives NaN there."""
    op = "kl_div"
    if reduction == "batchmean":
        _reduction("sum", size_average, reduce, op)
    else:
        reduction = _reduction(reduction, size_average, reduce, op)
    x, t = _broadcast_pair(op, input, target)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        positive = t.detach() > 0
        safe = where(positive, t, 1.0)                               # log(1) = 0 where t = 0
        loss = t * safe.log() - t * x
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)
