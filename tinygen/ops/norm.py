"""Normalisation: layer_norm, group_norm, batch_norm, instance_norm, rms_norm,
local_response_norm, normalize, and the similarities and distances cosine_similarity,
pairwise_distance, cdist, dist, pdist.

layer_norm, group_norm and batch_norm in training mode run the fused kernels of
kernels/layernorm.py, kernels/groupnorm.py and kernels/batchnorm.py (LayerNorm, GroupNorm and
BatchNorm, below); their backward is a Function of its own,
NormBackward, whose forward is the fused backward kernel and whose backward is Tensor ops, so
double backward runs the same first-order code as training does. The others are compositions of Tensor ops (mean, subtraction, rsqrt, product), so their first and second
derivatives come from those ops' rules. Statistics are computed as
    mean = x.mean(dims);  var = ((x - mean) ** 2).mean(dims)      (biased, as PyTorch normalises)
    y = (x - mean) * rsqrt(var + eps) * weight + bias
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, wrap
from ..autograd.grad_mode import no_grad
from .args import check_float
from .shape import Pad, broadcast_tensors

_HALF_TYPES = ("float16", "bfloat16")      # normalised in float32 (PyTorch's opmath type)


class LayerNorm(Function):
    """Layer norm over the last axis through the kernel table (layernorm_fwd); backward
    NormBackward. x (..., N), w, b (N,) or None."""

    def forward(self, x, w, b, eps):
        self.eps = eps
        y, self.mean, self.rstd = self.kernel("layernorm_fwd")(x, w, b, eps)   # mean, rstd (...)
        self.save_for_backward(x, w)
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        nd = x.ndim
        dims = ((nd - 1,), tuple(range(nd - 1)), (x.shape[-1],))
        return _norm_grads(self, gy, x, w, "layernorm_bwd", dims) + (None,)


class BatchNorm(Function):
    """Batch norm with the batch's statistics through the kernel table (batchnorm_fwd); backward
    NormBackward. x (N, C, S), w, b (C,) or None -> (y, batch mean, biased batch variance): the
    statistics are outputs without gradient (for the running statistics, as in PyTorch)."""

    n_differentiable = 1

    def forward(self, x, w, b, eps):
        self.eps = eps
        y, self.mean, var = self.kernel("batchnorm_fwd")(x, w, b, eps)
        self.rstd = (1 / self.xp.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        self.save_for_backward(x, w)
        return y, self.mean, var

    def backward(self, gy, _gmean, _gvar):
        x, w = self.saved_tensors
        return _norm_grads(self, gy, x, w, "batchnorm_bwd", ((0, 2), (0, 2), (1, -1, 1))) + (None,)


class GroupNorm(Function):
    """Group norm with the per-channel affine through the kernel table (groupnorm_fwd); backward
    NormBackward. x (N, G, C/G, S), w, b (C,) or None."""

    def forward(self, x, w, b, eps):
        self.eps = eps
        y, self.mean, self.rstd = self.kernel("groupnorm_fwd")(x, w, b, eps)   # mean, rstd (N, G)
        self.save_for_backward(x, w)
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        dims = ((2, 3), (0, 3), (1, x.shape[1], x.shape[2], 1))
        return _norm_grads(self, gy, x, w, "groupnorm_bwd", dims) + (None,)


def _norm_grads(fn, gy, x, w, kernel_name, dims):
    """(gx, gw, gb) of a LayerNorm or BatchNorm node: NormBackward, None where not needed."""
    grads = NormBackward.apply(x, w, gy, fn.mean, fn.rstd, kernel_name, dims, fn.eps)
    return tuple(g if t is not None else None for g, t in zip(grads, fn.inputs[:3]))


class NormBackward(Function):
    """(gx, gw, gb) of a normalisation, the fused backward kernel `kernel_name` forward:
        gx = r P(w gy),  gw = sum gy xhat,  gb = sum gy,   P(u) = u - mean(u) - xhat mean(u xhat)
    with r = rsqrt(var + eps), means over the normalised dims and sums over the others
    (dims = (normalised, summed, w's broadcast shape)). P is symmetric, so its backward is:
        d gy = ggb + ggw xhat + w r P(ggx),   d w = sum gy r P(ggx),
        d x  = r P(ggw gy) - r^2 (xhat (mean(ggx wdy_c) - mean(ggx xhat) mean(wdy xhat))
                                  + mean(wdy xhat) P(ggx) + mean(ggx xhat) P(wdy))
    (wdy = w gy, wdy_c = wdy - mean(wdy)), in Tensor ops with xhat and r recomputed from x, so
    normalisations are differentiable to any order."""

    def forward(self, x, w, gy, mean, rstd, kernel_name, dims, eps):
        self.dims, self.eps = dims, eps
        self.save_for_backward(x, w, gy)
        return self.kernel(kernel_name)(gy, x, w, mean, rstd)

    def backward(self, ggx, ggw, ggb):
        x, w, gy = self.saved_tensors
        normalised, summed, w_shape = self.dims
        xhat, _, var = _normalise(x, normalised, self.eps)
        r = (var + self.eps).rsqrt()

        def mean(u):
            return u.mean(dim=normalised, keepdim=True)

        def project(u):
            return u - mean(u) - xhat * mean(u * xhat)

        def total(u):                              # summed over the dims w is broadcast along
            return u.sum(dim=summed) if summed else u

        wb = None if w is None else w.reshape(w_shape)
        wdy = gy if wb is None else gy * wb
        r_p_ggx = r * project(ggx)
        g_gy = ggb.reshape(w_shape) + ggw.reshape(w_shape) * xhat + \
            (r_p_ggx if wb is None else wb * r_p_ggx)
        g_w = None if w is None else total(gy * r_p_ggx).reshape(w.shape)
        c_gx, c_wx = mean(ggx * xhat), mean(wdy * xhat)
        second = xhat * (mean(ggx * (wdy - mean(wdy))) - c_gx * c_wx) + \
            c_wx * project(ggx) + c_gx * project(wdy)
        g_x = r * project(ggw.reshape(w_shape) * gy) - r * r * second
        return g_x, g_w, g_gy, None, None, None, None, None


def _normalise(x, dims, eps):
    mean = x.mean(dim=dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=dims, keepdim=True)
    return centred * (var + eps).rsqrt(), mean, var


def _check_param(op, name, t, shape, x):
    if t is not None and tuple(t.shape) != tuple(shape):
        raise RuntimeError(f"{op}: expected {name} of shape {tuple(shape)} for input of shape "
                           f"{tuple(x.shape)}, got {name} of shape {tuple(t.shape)}")
    if t is not None and t.dtype != x.dtype:
        raise RuntimeError(f"{op}: expected {name} with the input's dtype {x.dtype}, got "
                           f"{t.dtype}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims, as torch.nn.functional.layer_norm.

    input (*, *normalized_shape); weight, bias of shape normalized_shape or None.
    """
    op = "layer_norm"
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    check_float(op, input)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"{op}: expected input with shape (*, {', '.join(map(str, shape))}) "
                           f"(normalized_shape {shape}), got input of shape {tuple(input.shape)}")
    _check_param(op, "weight", weight, shape, input)
    _check_param(op, "bias", bias, shape, input)
    if k == 1:
        return LayerNorm.apply(input, weight, bias, eps)
    # several normalised dims: flatten them into one and run the same kernel
    n = 1
    for size in shape:
        n *= size
    flat = input.reshape(tuple(input.shape[:input.ndim - k]) + (n,))        # (..., prod(shape))
    y = LayerNorm.apply(flat, None if weight is None else weight.reshape(n),
                        None if bias is None else bias.reshape(n), eps)
    return y.reshape(input.shape)


def _channel_shape(x):
    """(1, C, 1, ...) : a per-channel vector broadcast over (N, C, *)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine(y, weight, bias):
    if weight is not None:
        y = y * weight.reshape(_channel_shape(y))
    if bias is not None:
        y = y + bias.reshape(_channel_shape(y))
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of C // num_groups channels of each sample, as torch's group_norm.

    input (N, C, *); weight, bias (C,) or None.
    """
    op = "group_norm"
    check_float(op, input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: expected an input of at least 2 dims (N, C, *), got input of "
                           f"shape {tuple(input.shape)}")
    N, C = input.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise RuntimeError(f"{op}: expected the number of channels {C} to be divisible by "
                           f"num_groups {num_groups} (input of shape {tuple(input.shape)})")
    _check_param(op, "weight", weight, (C,), input)
    _check_param(op, "bias", bias, (C,), input)
    # PyTorch's check (F.group_norm's _verify_batch_size, in eval too): N * C/G * spatial size
    # must exceed 1, else the only value of each group normalises to 0
    if N * (C // num_groups) * int(np.prod(input.shape[2:])) == 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got "
                         f"input size {list(input.shape)} with num_groups {num_groups}")
    grouped = input.reshape(N, num_groups, C // num_groups,
                            int(np.prod(input.shape[2:])))                 # (N, G, C/G, S)
    return GroupNorm.apply(grouped, weight, bias, eps).reshape(input.shape)


def _check_running_stats(op, input, running_mean, running_var, training):
    """batch_norm's running statistics as PyTorch takes them: both or neither when training,
    shape (C,), and the input's dtype or, for a half input, float32 (its CPU kernel's
    mixed-dtype path); others are refused, not cast."""
    C = input.shape[1]
    if (running_mean is None) != (running_var is None) and training:
        raise ValueError(f"{op}: running_mean and running_var must either both be None or "
                         "neither be None (as PyTorch)")
    half = input.dtype.name in _HALF_TYPES
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is None:
            continue
        if tuple(t.shape) != (C,):
            raise RuntimeError(f"{op}: expected {name} of shape ({C},) for input of shape "
                               f"{tuple(input.shape)}, got {tuple(t.shape)}")
        if t.dtype != input.dtype and not (half and t.dtype.name == "float32"):
            raise RuntimeError(f"{op}: expected {name} of dtype {input.dtype} (the input's"
                               f"{', or float32' if half else ''}), got {t.dtype}")
    if (half and running_mean is not None and running_var is not None
            and running_mean.dtype != running_var.dtype):
        raise RuntimeError(f"{op}: expected running_mean and running_var of one dtype, got "
                           f"{running_mean.dtype} and {running_var.dtype}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, *) per channel, as torch.nn.functional.batch_norm.

    input (N, C) or (N, C, *); running_mean, running_var, weight, bias (C,) or None.
    training: normalise with the batch statistics (biased variance) and, when running stats are
    given, update them in place: r = (1 - momentum) * r + momentum * batch_stat, with the
    unbiased batch variance for running_var. Otherwise normalise with the running statistics.
    """
    op = "batch_norm"
    check_float(op, input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: expected an input of at least 2 dims (N, C, *), got input of "
                           f"shape {tuple(input.shape)}")
    C = input.shape[1]
    _check_running_stats(op, input, running_mean, running_var, training)
    _check_param(op, "weight", weight, (C,), input)
    _check_param(op, "bias", bias, (C,), input)
    dims = (0,) + tuple(range(2, input.ndim))
    if training and momentum is None and (running_mean is not None or running_var is not None):
        raise ValueError(f"{op}: momentum=None (a cumulative average) needs the number of batches "
                         "seen: pass momentum=1 / num_batches_tracked, as nn.BatchNorm does")
    if training:
        count = input.numel() // C
        if count <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got "
                             f"input of shape {tuple(input.shape)}")
        y, mean, var = BatchNorm.apply(input.reshape(input.shape[0], C, -1), weight, bias, eps)
        y = y.reshape(input.shape)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
            if running_var is not None:
                unbiased = var.to(running_var.dtype) * (count / (count - 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
        return y
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{op}: running_mean and running_var must be defined in "
                               "evaluation mode (training=False)")
        shape = _channel_shape(input)
        mean = running_mean.reshape(shape).to(input.dtype)
        var = running_var.reshape(shape).to(input.dtype)
        y = (input - mean) * (var + eps).rsqrt()
    return _affine(y, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dims, as torch's instance_norm.

    input (N, C, *); weight, bias, running stats (C,) or None. With use_input_stats and running
    stats given, these are updated (in place) with the batch average of the per-instance mean and
    unbiased variance; without use_input_stats the running stats normalise instead.
    """
    op = "instance_norm"
    check_float(op, input)
    if input.ndim < 3:
        raise RuntimeError(f"{op}: expected an input of at least 3 dims (N, C, *spatial), got "
                           f"input of shape {tuple(input.shape)}")
    C = input.shape[1]
    _check_param(op, "weight", weight, (C,), input)
    _check_param(op, "bias", bias, (C,), input)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    count = input[0, 0].numel()
    if count <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element per channel when "
                         f"training, got input of shape {tuple(input.shape)}")
    y, mean, var = _normalise(input, tuple(range(2, input.ndim)), eps)   # stats (N, C, 1, ...)
    with no_grad():
        N = input.shape[0]
        if running_mean is not None:
            batch_mean = mean.detach().reshape(N, C).mean(dim=0).to(running_mean.dtype)
            running_mean.mul_(1 - momentum).add_(batch_mean * momentum)
        if running_var is not None:
            unbiased = var.detach().reshape(N, C).mean(dim=0) * (count / (count - 1))
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype) * momentum)
    return _affine(y, weight, bias)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p over dim, eps), as torch.nn.functional.normalize."""
    check_float("normalize", input)
    return input / input.norm(p, dim=dim, keepdim=True).clamp_min(eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / ||x1|| * x2 / ||x2||) over dim, each norm clamped below at eps, as PyTorch does
    (the clamp is outside the graph: the gradient is that of the unclamped norm).
    x1, x2 broadcast together; the result drops `dim`."""
    check_float("cosine_similarity", x1)
    try:
        x1, x2 = broadcast_tensors(x1, x2)
    except Exception:
        raise RuntimeError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} "
                           "do not broadcast") from None
    n1 = x1.norm(dim=dim, keepdim=True)
    n2 = x2.norm(dim=dim, keepdim=True)
    n1 = n1 + (n1.detach().clamp_min(eps) - n1.detach())
    n2 = n2 + (n2.detach().clamp_min(eps) - n2.detach())
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim, as torch.nn.functional.pairwise_distance."""
    check_float("pairwise_distance", x1)
    return (x1 - x2 + eps).norm(p, dim=-1, keepdim=keepdim)


_MACHINE_EPS = {"float32": 1.1920928955078125e-07, "float64": 2.220446049250313e-16}


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the last len(normalized_shape) dims) + eps) * weight (Zhang &
    Sennrich 2019). As PyTorch, float16 and bfloat16 inputs are normalised in float32 (and cast
    back before the weight), and eps=None is the machine epsilon of that compute dtype: float32's
    1.19e-7 for half types (their own epsilon, 9.8e-4 for float16, would swamp small inputs).
    The result has the input's dtype whatever the weight's."""
    op = "rms_norm"
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    check_float(op, input)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"{op}: expected input with shape (*, {', '.join(map(str, shape))}) "
                           f"(normalized_shape {shape}), got input of shape {tuple(input.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"{op}: expected weight of shape {shape} for input of shape "
                           f"{tuple(input.shape)}, got weight of shape {tuple(weight.shape)}")
    half = input.dtype.name in _HALF_TYPES
    x = input.float() if half else input                          # PyTorch's opmath upcast
    if eps is None:
        eps = _MACHINE_EPS.get(x.dtype.name, _MACHINE_EPS["float32"])
    dims = tuple(range(input.ndim - k, input.ndim))
    y = x * ((x * x).mean(dim=dims, keepdim=True) + eps).rsqrt()
    if half:
        y = y.to(input.dtype)
    if weight is None:
        return y
    y = y * weight
    # a weight of another dtype (nn.RMSNorm's float32 one on a half input) leaves the input's
    # dtype, as PyTorch
    return y if y.dtype == input.dtype else y.to(input.dtype)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta (Krizhevsky et
    al. 2012): the window is centred, size // 2 channels before and (size - 1) // 2 after,
    zero-padded. input (N, C, *)."""
    op = "local_response_norm"
    check_float(op, input)
    if input.ndim < 3:
        raise ValueError(f"{op}: expected a 3-D or higher input (N, C, *), got input of shape "
                         f"{tuple(input.shape)}")
    if input.numel() == 0:
        return input
    if size <= 0:               # (after the empty case, as PyTorch, whose avg_pool raises here)
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got size {size} "
                           f"(input of shape {tuple(input.shape)})")
    squares = input * input
    pads = ((0, 0), (size // 2, (size - 1) // 2)) + ((0, 0),) * (input.ndim - 2)
    padded = Pad.apply(squares, pads, 0.0)                            # (N, C + size - 1, *)
    window_mean = padded.unfold(1, size, 1).mean(dim=-1)              # (N, C, *)
    return input / (window_mean * alpha + k) ** beta


# ---- distances -----------------------------------------------------------------------------------
def cdist(x1, x2, p=2.0, compute_mode=None):
    """The p-norm distance between each row of x1 (*, P, M) and each row of x2 (*, R, M):
    (*, P, R). The gradient at a zero distance is 0, as PyTorch's. Where tinygen differs: for
    p = inf (here and in pdist), a coordinate difference that is infinite gets gy * sign(diff)
    (PyTorch: NaN)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: expected x1 (*, P, M) and x2 (*, R, M) with the same M, got "
                           f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    check_float("cdist", x1)
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)                        # (*, P, R, M)
    return _distance(diff, p)


def _distance(diff, p):
    """||diff||_p over the last dim; for p = inf with PyTorch's cdist / pdist gradient."""
    if p == float("inf") and diff.shape[-1]:
        return InfDistance.apply(diff)
    return diff.norm(p, dim=-1)


class InfDistance(Function):
    """max |diff| over the last dim, with the gradient of PyTorch's cdist and pdist: gy *
    sign(diff) at every coordinate reaching the maximum (tied coordinates each get all of it;
    the max reduction's gradient would split it between them)."""

    def forward(self, diff):
        self.save_for_backward(diff)
        return self.xp.abs(diff).max(axis=-1)

    def backward(self, gy):
        (diff,) = self.saved_tensors
        a = diff.abs()
        hit = (a == a.amax(dim=-1, keepdim=True)).to(diff.dtype)
        return gy.unsqueeze(-1) * diff.sign() * hit


def dist(input, other, p=2.0):
    """The p-norm of input - other (broadcast), a 0-d tensor."""
    return (input - other).norm(p)


def pdist(input, p=2.0):
    """The p-norm distances between all pairs of rows i < j of input (N, M): (N (N - 1) / 2,),
    in row-major order of the upper triangle."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist: expected a 2-D input (N, M), got shape {tuple(input.shape)}")
    check_float("pdist", input)
    rows, cols = np.triu_indices(input.shape[0], 1)
    xp = input.device.xp
    a = input.index_select(0, wrap(xp.asarray(rows)))
    b = input.index_select(0, wrap(xp.asarray(cols)))
    return _distance(a - b, p)
