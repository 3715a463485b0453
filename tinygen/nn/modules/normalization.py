"""Normalisation layers, as PyTorch: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm,
RMSNorm, LocalResponseNorm.

    bn = nn.BatchNorm2d(16)          # weight ones, bias zeros; buffers running_mean (zeros),
    y = bn(x)                        # running_var (ones), num_batches_tracked (int64 0)

BatchNorm in training mode normalises with the batch statistics and updates the running ones
(momentum=None: a cumulative average over all batches so far); in eval mode it uses the running
statistics (unless track_running_stats=False, which always uses the batch's).

LazyBatchNorm1d/2d/3d and LazyInstanceNorm1d/2d/3d infer num_features from their first input and
then become the regular class (nn.modules.lazy.LazyModuleMixin).
"""
from __future__ import annotations

import numbers
import warnings

from .. import functional as F
from .. import init
from ...autograd.grad_mode import no_grad
from ...backend import dtypes as _dt
from ...creation import empty, ones, tensor, zeros
from ...distributed import group as _dist_group
from .lazy import LazyModuleMixin
from .module import Module
from .parameter import Parameter, UninitializedBuffer, UninitializedParameter


def _affine_parameters(module, shape, affine, bias, kw):
    """Register `weight` (and `bias`, unless bias=False) of `shape`, or None when not affine.
    Their values are set by the layer's reset_parameters (ones and zeros)."""
    module.register_parameter("weight", Parameter(empty(tuple(shape), **kw)) if affine else None)
    module.register_parameter("bias", Parameter(empty(tuple(shape), **kw)) if affine and bias
                              else None)


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
            raise ValueError(f"{type(self).__name__}: expected 2D or 3D input (got "
                             f"{input.ndim}D input of shape {tuple(input.shape)})")


class BatchNorm2d(_BatchNorm):
    """Per-channel batch normalisation of (N, C, H, W)."""

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected 4D input (got {input.ndim}D "
                             f"input of shape {tuple(input.shape)})")


class BatchNorm3d(_BatchNorm):
    """Per-channel batch normalisation of (N, C, D, H, W)."""

    def _check_input_dim(self, input):
        if input.ndim != 5:
            raise ValueError(f"{type(self).__name__}: expected 5D input (got {input.ndim}D "
                             f"input of shape {tuple(input.shape)})")


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) whose batch statistics would be reduced over a process
    group. Without one (no process group initialized, or a world of one process) it is
    BatchNorm, in train and eval mode, as PyTorch's on CPU.

    Differs from PyTorch: statistics are never synchronised; in training under an initialized
    tinygen process group of more than one process it raises NotImplementedError (PyTorch
    raises ValueError there for CPU tensors, and synchronises on GPUs)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        if self.training and _dist_group.is_initialized() and \
                _dist_group.get_world_size(self.process_group) > 1:
            raise NotImplementedError("SyncBatchNorm: synchronised batch statistics over a "
                                      "process group are not implemented in tinygen; use "
                                      "BatchNorm (per-process statistics) instead")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """`module` with every BatchNorm*d in it (recursively) replaced by a SyncBatchNorm that
        shares its parameters and buffers; a BatchNorm*d itself comes back as a new one."""
        output = module
        if isinstance(module, _BatchNorm):
            output = SyncBatchNorm(module.num_features, module.eps, module.momentum,
                                   module.affine, module.track_running_stats, process_group,
                                   bias=module.bias is not None)
            if module.affine:
                with no_grad():
                    output.weight = module.weight
                    output.bias = module.bias
            output.running_mean = module.running_mean
            output.running_var = module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
            if hasattr(module, "qconfig"):
                output.qconfig = module.qconfig
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output


class _InstanceNorm(_NormBase):
    """Normalise each (sample, channel) over its spatial dims (Ulyanov et al. 2016). Defaults
    differ from BatchNorm as in PyTorch: affine=False, track_running_stats=False. Running
    statistics, when kept, are the batch average of the per-instance statistics. Where tinygen
    differs: running statistics of another dtype than the input are refused, as BatchNorm's
    (PyTorch's InstanceNorm takes a float32 input beside float64 statistics when affine=False;
    its BatchNorm refuses that)."""

    _spatial_dims = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

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
        if c != self.num_features:
            warnings.warn("input's size at dim=1 does not match num_features. You can silence "
                          "this warning by not passing in num_features, which is not used "
                          "because affine=False", UserWarning, stacklevel=3)
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


class _LazyNormBase(LazyModuleMixin, _NormBase):
    """num_features from the first input; weight, bias, running_mean and running_var
    uninitialized until then (num_batches_tracked is a real 0 from the start). Defaults are
    PyTorch's for every lazy norm, instance norms included: affine=True,
    track_running_stats=True."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        kw = {"device": device, "dtype": dtype}
        # affine and track_running_stats False here: no tensor that would soon be replaced
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(**kw)
            if bias:
                self.bias = UninitializedParameter(**kw)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(**kw)
            self.running_var = UninitializedBuffer(**kw)
            self.num_batches_tracked = tensor(0, dtype=_dt.int64, device=device)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():
            return
        if input.ndim < 2:
            raise IndexError(f"{type(self).__name__}: cannot infer num_features from a "
                             f"{input.ndim}D input of shape {tuple(input.shape)}: expected "
                             "(N, C, *)")
        self.num_features = self._infer_num_features(input)
        for name in ("weight", "bias", "running_mean", "running_var"):
            tensor_ = getattr(self, name)
            if tensor_ is not None:
                tensor_.materialize((self.num_features,))
        self.reset_parameters()

    def _infer_num_features(self, input):
        """The size of the features dim, once the input's rank is checked (ValueError, as the
        forward's check), so that a wrong input leaves the module lazy."""
        self._check_input_dim(input)
        return input.shape[1]


class LazyBatchNorm1d(_LazyNormBase, _BatchNorm):
    """A BatchNorm1d whose num_features is inferred from input.shape[1]. Differs from PyTorch:
    an input of the wrong rank (ValueError in both) leaves the module lazy; PyTorch has
    already materialized it from that input."""

    cls_to_become = BatchNorm1d
    _check_input_dim = BatchNorm1d._check_input_dim


class LazyBatchNorm2d(_LazyNormBase, _BatchNorm):
    """A BatchNorm2d whose num_features is inferred from input.shape[1] (see LazyBatchNorm1d)."""

    cls_to_become = BatchNorm2d
    _check_input_dim = BatchNorm2d._check_input_dim


class LazyBatchNorm3d(_LazyNormBase, _BatchNorm):
    """A BatchNorm3d whose num_features is inferred from input.shape[1] (see LazyBatchNorm1d)."""

    cls_to_become = BatchNorm3d
    _check_input_dim = BatchNorm3d._check_input_dim


class _LazyInstanceNorm(_LazyNormBase, _InstanceNorm):
    """num_features from the channels dim of the first input: dim 1, or dim 0 unbatched.
    Differs from PyTorch, which reads dim 1 of an unbatched input too (its length), so that
    there the forward then raises ValueError (unless C equals the length)."""

    def _infer_num_features(self, input):
        unbatched = self._spatial_dims + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise ValueError(f"{type(self).__name__}: expected {unbatched}D (unbatched) or "
                             f"{unbatched + 1}D input, got {input.ndim}D input of shape "
                             f"{tuple(input.shape)}")
        return input.shape[input.ndim - unbatched]


class LazyInstanceNorm1d(_LazyInstanceNorm):
    """An InstanceNorm1d whose num_features is inferred from the first input, (N, C, L) or
    (C, L). Defaults affine=True, track_running_stats=True, as PyTorch's."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm):
    """An InstanceNorm2d whose num_features is inferred from the first input, (N, C, H, W) or
    (C, H, W). Defaults affine=True, track_running_stats=True, as PyTorch's."""

    cls_to_become = InstanceNorm2d
    _spatial_dims = 2


class LazyInstanceNorm3d(_LazyInstanceNorm):
    """An InstanceNorm3d whose num_features is inferred from the first input, (N, C, D, H, W)
    or (C, D, H, W). Defaults affine=True, track_running_stats=True, as PyTorch's."""

    cls_to_become = InstanceNorm3d
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


class CrossMapLRN2d(Module):
    """Local response normalisation across channels of (N, C, H, W), as PyTorch's (the Lua
    Torch layer): x * (k + alpha / size * S)^-beta, S a running sum of x^2 over channels.

    S is PyTorch's, quirk included: its sliding window never drops channel 0 (for channel c
    past (size+1)/2 it sums channels 0 and c-p+1 .. c+p-1, p = (size-1)//2 + 1).
    Differs from PyTorch: the gradient here is autograd's, the exact one of that forward;
    PyTorch's hand-written backward (a symmetric window of size channels) is not, so the two
    gradients differ."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D "
                             "instead.")
        n, c, h, w = input.shape
        window = tensor(_cross_map_window(c, self.size), dtype=input.dtype, device=input.device)
        sums = (window @ (input * input).reshape(n, c, h * w)).reshape(n, c, h, w)
        return input * (sums * (self.alpha / self.size) + self.k) ** (-self.beta)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _cross_map_window(channels, size):
    """(C, C) 0/1 rows: which channels' squares PyTorch's CrossMapLRN2d sums for each channel
    (its running-sum loop, replayed)."""
    pre_pad = int((size - 1) / 2 + 1)
    row = [1.0 if j < min(pre_pad, channels) else 0.0 for j in range(channels)]
    rows = [row]
    for ch in range(1, channels):
        row = list(row)
        if ch < channels - pre_pad + 1:
            row[ch + pre_pad - 1] += 1.0
        if ch > pre_pad:
            row[ch - pre_pad] -= 1.0
        rows.append(row)
    return rows


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
            self.weight = Parameter(ones(tuple(self.normalized_shape), device=device,
                                              dtype=dtype))
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
