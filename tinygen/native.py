"""torch.native_*: ATen's normalisations and dropout with the statistics they save for backward,
over tinygen's ops (the same Functions and kernels as F.layer_norm, F.batch_norm, ...).

    out, mean, rstd = tg.native_layer_norm(x, (D,), w, b, 1e-5)      mean, rstd (*, 1)
    out, mean, invstd = tg.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)   (C,) each
    out, mean, rstd = tg.native_group_norm(x, w, b, N, C, HxW, G, 1e-5)          (N, G) each
    out, mask = tg.native_dropout(x, 0.5, True)                      mask: bool, kept elements
    tg.native_norm(x, 2), tg.native_channel_shuffle(x, groups)

rstd is 1 / sqrt(var + eps) with the biased variance, as ATen saves it. The statistics of layer
and batch norm are outputs without gradient (as in PyTorch); group norm's are differentiable
(PyTorch's derivatives.yaml gives that op no output_differentiability list). Half inputs
compute the statistics in float32 and return them in the input's dtype, as PyTorch's CPU ops.
"""
from __future__ import annotations

from . import creation as _creation
from .aten import channel_shuffle as _channel_shuffle
from .autograd.grad_mode import no_grad
from .backend import dtypes as _dt
from .ops import norm as _norm
from .ops.args import check_float, norm_dims
from .ops.convert import clone
from .ops.random import keep_mask
from .ops.reduce import norm as _vector_norm
from .tensor import Tensor

_HALF = ("float16", "bfloat16")


def _check_tensor(op, name, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(value).__name__}")


def _mean_rstd(x, dims, eps):
    """(mean, 1 / sqrt(biased var + eps)) of x over dims, kept as size-1 dims; half inputs in
    float32, returned in their own dtype."""
    wide = x.float() if x.dtype.name in _HALF else x
    mean = wide.mean(dim=dims, keepdim=True)
    centred = wide - mean
    rstd = ((centred * centred).mean(dim=dims, keepdim=True) + eps).rsqrt()
    return mean.to(x.dtype), rstd.to(x.dtype)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(F.layer_norm's output, mean, rstd): the statistics over the last len(normalized_shape)
    dims, of shape input.shape[:-k] + (1,) * k, without gradient.

    input (*, *normalized_shape); weight, bias of shape normalized_shape or None."""
    op = "native_layer_norm"
    _check_tensor(op, "input", input)
    out = _norm.layer_norm(input, normalized_shape, weight, bias, eps)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    mean, rstd = _mean_rstd(input.detach(), dims, eps)
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(F.batch_norm's output, save_mean, save_invstd), as ATen's CPU op.

    input (N, C, *); weight, bias, running_mean, running_var (C,) or None. training: normalise
    with the batch's statistics, update the running ones in place (running_var with the
    unbiased variance; NaN from a single value per channel, as PyTorch) and return the batch
    mean and 1 / sqrt(biased var + eps), shape (C,), without gradient. Evaluation: normalise
    with the running statistics and return two empty (0,) tensors, as PyTorch.

    Where tinygen differs: evaluation without running statistics raises (PyTorch 2.13 crashes);
    a single value per channel in training is allowed, as ATen (F.batch_norm refuses it)."""
    op = "native_batch_norm"
    _check_tensor(op, "input", input)
    check_float(op, input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: expected an input of at least 2 dims (N, C, *), got shape "
                           f"{tuple(input.shape)}")
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be given when "
                               f"training=False (input of shape {tuple(input.shape)})")
        out = _norm.batch_norm(input, running_mean, running_var, weight, bias, False,
                               momentum, eps)
        empty = _creation.empty(0, dtype=input.dtype, device=input.device)
        return out, empty, empty.clone()
    C = input.shape[1]
    _norm._check_running_stats(op, input, running_mean, running_var, training)
    _norm._check_param(op, "weight", weight, (C,), input)
    _norm._check_param(op, "bias", bias, (C,), input)
    flat = input.reshape(input.shape[0], C, -1)                           # (N, C, S)
    out, mean, var = _norm.BatchNorm.apply(flat, weight, bias, eps)       # mean, var (C,)
    count = input.numel() // C
    mean, var = mean.detach(), var.detach()
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
        if running_var is not None:
            correction = count / (count - 1) if count > 1 else float("nan")    # unbiased var
            running_var.mul_(1 - momentum).add_(var.to(running_var.dtype) * correction * momentum)
    return out.reshape(input.shape), mean, (var + eps).rsqrt()


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(F.group_norm's output, mean, rstd) with the statistics of each (sample, group), shape
    (N, group), differentiable (as PyTorch's). N, C, HxW: input's batch size, channels and
    spatial size (their product must be input.numel()).

    Where tinygen differs: input.shape[:2] must also be (N, C) (ATen checks the product only);
    one value per group raises, as F.group_norm (ATen normalises it to 0)."""
    op = "native_group_norm"
    _check_tensor(op, "input", input)
    if input.ndim < 2 or tuple(input.shape[:2]) != (N, C) or input.numel() != N * C * HxW:
        raise RuntimeError(f"{op}: expected input of shape (N, C, *) = ({N}, {C}, *) with "
                           f"N * C * HxW = {N * C * HxW} elements, got input of shape "
                           f"{tuple(input.shape)}")
    out = _norm.group_norm(input, group, weight, bias, eps)
    grouped = input.reshape(N, group, -1)                                 # (N, G, C/G * HxW)
    mean, rstd = _mean_rstd(grouped, (2,), eps)
    return out, mean.reshape(N, group), rstd.reshape(N, group)


def native_dropout(input, p, train):
    """(output, mask): when training (train True or None), each element kept with probability
    1 - p and scaled by 1 / (1 - p), mask the bool tensor of kept elements; otherwise (or p = 0)
    a copy of input and an all-True mask. p = 1 drops everything (output 0). The draws come
    from tinygen's generator (tg.manual_seed), not PyTorch's stream."""
    op = "native_dropout"
    _check_tensor(op, "input", input)
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    check_float(op, input)
    if train is False or p == 0.0 or input.numel() == 0:
        mask = _creation.ones(input.shape, dtype=_dt.bool_, device=input.device)
        return clone(input), mask
    if p == 1.0:
        mask = _creation.zeros(input.shape, dtype=_dt.bool_, device=input.device)
        return input * 0.0, mask
    keep = keep_mask(input, p, input.shape)                               # 0 / 1, input's dtype
    return input * (keep * (1.0 / (1.0 - p))), keep.to(_dt.bool_)


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """The p-norm of all of input's elements (p a number, inf or -inf; None means 2), as a 0-d
    tensor (all ones with keepdim). dim: empty or every dim (a full reduction, as ATen's);
    dtype: computes and returns in that floating dtype.

    Where tinygen differs: PyTorch runs native_norm on sparse tensors only (a dense CPU input
    raises NotImplementedError); tinygen has no sparse layout and computes it on the dense
    tensor, every element counting as stored."""
    op = "native_norm"
    _check_tensor(op, "input", input)
    dims = norm_dims(dim, input.ndim, op)
    if dims is not None and dims != tuple(range(input.ndim)):
        raise RuntimeError(f"{op}: only full reductions are supported, so 'dim' must either be "
                           f"empty or contain all dimensions of the input (input of shape "
                           f"{tuple(input.shape)}, dim {dim})")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: norm(): input dtype should be either floating point or "
                           f"complex. Got {input.dtype} instead.")
    p = 2 if p is None else p
    return _vector_norm(input, p, tuple(range(input.ndim)) or None, keepdim, dtype)


def native_channel_shuffle(input, groups):
    """channel_shuffle: channel g * (C / groups) + k of (N, C, *) moves to k * groups + g."""
    _check_tensor("native_channel_shuffle", "input", input)
    return _channel_shuffle(input, groups)
