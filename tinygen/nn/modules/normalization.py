"""Normalisation layers, as PyTorch: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm,
RMSNorm, LocalResponseNorm.

    bn = nn.BatchNorm2d(16)          # weight ones, bias zeros; buffers running_mean (zeros),
    y = bn(x)                        # running_var (ones), num_batches_tracked (int64 0)

BatchNorm in training mode normalises with the batch statistics and updates the running ones
(momentum=None: a cumulative average over all batches so far); in eval mode it uses the running
statistics (unless track_running_stats=False, which always uses the batch's).
"""
from __future__ import annotations

import numbers

from .. import functional as F
from .. import init
from ...autograd.grad_mode import no_grad
from ...backend import dtypes as _dt
from ...creation import empty, ones, tensor, zeros
from .module import Module
from .parameter import Parameter


def _affine_parameters(module, shape, affine, bias, kw):
    """Register `weight` (and `bias`, unless bias=False) of `shape`, or None when not affine.
    Their values are set by the layer's reset_parameters (ones and zeros)."""
    module.register_parameter("weight", Parameter(empty(*shape, **kw)) if affine else None)
    module.register_parameter("bias", Parameter(empty(*shape, **kw)) if affine and bias else None)


def _reset_affine(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = {"device": device, "dtype": dtype}
        _affine_parameters(self, (num_features,), affine, bias, kw)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, **kw))
            self.register_buffer("running_var", ones(num_features, **kw))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=_dt.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                              error_msgs, assign=False):
        # a state dict without num_batches_tracked (checkpoints from before it existed) keeps
        # the module's current count, as PyTorch does: not a missing key, not reset to 0
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict = dict(state_dict)
            current = self.num_batches_tracked
            state_dict[key] = current if current is not None else tensor(0, dtype=_dt.int64)
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys, unexpected_keys,
                                      error_msgs, assign)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:          # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        # batch statistics in training, and in eval too when no running statistics are kept
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Per-feature batch normalisation (Ioffe & Szegedy 2015) of (N, C) or (N, C, L)."""

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {input.ndim}D input "
                             f"of shape {tuple(input.shape)})")


class BatchNorm2d(_BatchNorm):
    """Per-channel batch normalisation of (N, C, H, W)."""

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)})")


class BatchNorm3d(_BatchNorm):
    """Per-channel batch normalisation of (N, C, D, H, W)."""

    def _check_input_dim(self, input):
        if input.ndim != 5:
            raise ValueError(f"BatchNorm3d: expected 5D input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)})")


class _InstanceNorm(_NormBase):
    """Normalise each (sample, channel) over its spatial dims (Ulyanov et al. 2016). Defaults
    differ from BatchNorm as in PyTorch: affine=False, track_running_stats=False. Running
    statistics, when kept, are the batch average of the per-instance statistics."""

    _spatial_dims = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        name = type(self).__name__
        no_batch = self._spatial_dims + 1
        if input.ndim not in (no_batch, no_batch + 1):
            raise ValueError(f"{name}: expected {no_batch}D (unbatched) or {no_batch + 1}D input, "
                             f"got {input.ndim}D input of shape {tuple(input.shape)}")
        if input.ndim == no_batch:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        n, c = input.shape[:2]
        if c != self.num_features and self.affine:
            raise ValueError(f"{name}: expected input's size at dim=1 to match num_features "
                             f"({self.num_features}), but got: {c}.")
        use_input_stats = self.training or not self.track_running_stats
        # momentum=None is no cumulative average here: PyTorch passes 0.0, so running statistics
        # never change
        momentum = self.momentum if self.momentum is not None else 0.0
        running_mean = running_var = None
        if self.running_mean is not None:                  # one copy per sample: (N * C,)
            running_mean = self.running_mean.repeat(n)
            running_var = self.running_var.repeat(n)
        weight = self.weight.repeat(n) if self.weight is not None else None
        bias = self.bias.repeat(n) if self.bias is not None else None
        x = input.reshape((1, n * c) + tuple(input.shape[2:]))        # (1, N*C, *)
        y = F.batch_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum,
                         self.eps)
        if running_mean is not None and use_input_stats:
            with no_grad():
                self.running_mean.copy_(running_mean.reshape(n, c).mean(dim=0))
                self.running_var.copy_(running_var.reshape(n, c).mean(dim=0))
        return y.reshape(input.shape)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L)."""


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W)."""

    _spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W)."""

    _spatial_dims = 3


class LocalResponseNorm(Module):
    """x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta (Krizhevsky
    et al. 2012). (N, C, *) -> the same shape."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LayerNorm(Module):
    """Normalise over the last dims (normalized_shape) of (*, *normalized_shape) (Ba et al.
    2016); weight ones and bias zeros of shape normalized_shape when elementwise_affine."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        kw = {"device": device, "dtype": dtype}
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, kw)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise groups of num_channels // num_groups channels of (N, C, *) (Wu & He 2018);
    per-channel weight ones and bias zeros when affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None,
                 *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        kw = {"device": device, "dtype": dtype}
        _affine_parameters(self, (num_channels,), affine, bias, kw)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """x / sqrt(mean(x^2 over normalized_shape) + eps) * weight (Zhang & Sennrich 2019), through
    F.rms_norm: eps=None uses the machine epsilon of the dtype the statistics are computed in
    (float32's for float16 and bfloat16 inputs), as PyTorch."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
