"""More pooling layers, as PyTorch: MaxPool3d, AvgPool3d, AdaptiveAvgPool3d,
AdaptiveMaxPool1d/2d/3d, MaxUnpool1d/2d/3d, LPPool1d/2d/3d, FractionalMaxPool2d/3d (the
functional forms are in tinygen/ops/pool_extra.py and tinygen/ops/pool_fractional.py).

    pool = nn.MaxPool2d(2, return_indices=True)
    unpool = nn.MaxUnpool2d(2)
    y, idx = pool(x)
    x_back = unpool(y, idx, output_size=x.shape)     # the maxima in place, zeros elsewhere
"""
from __future__ import annotations

from .. import functional as F
from .module import Module
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d


class MaxPool3d(MaxPool2d):
    """(N, C, D, H, W) or (C, D, H, W): max over kernel_size windows (padding counts as -inf)."""

    def forward(self, input):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool3d(AvgPool2d):
    """(N, C, D, H, W) or (C, D, H, W): mean over kernel_size windows (AvgPool2d's arguments)."""

    def forward(self, input):
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePool(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptivePool):
    """(N, C, L) or (C, L) -> (N, C, output_size): the max of each adaptive window. Where
    tinygen differs: output_size None keeps L (PyTorch's 1-D form refuses None, TypeError)."""

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptivePool):
    """(N, C, H, W) or (C, H, W) -> (N, C, *output_size) (None keeps that dim)."""

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptivePool):
    def forward(self, input):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """(N, C, D, H, W) or (C, D, H, W) -> (N, C, *output_size)."""

    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)


class _MaxUnpoolNd(Module):
    function = None                  # the functional form, set by each subclass
    dims = 0                         # spatial dims, set by each subclass

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        # sizes kept as tuples of `dims`, as PyTorch's (_pair, _triple): so is the repr
        self.kernel_size = _as_tuple(kernel_size, self.dims)
        self.stride = _as_tuple(stride if stride is not None else kernel_size, self.dims)
        self.padding = _as_tuple(padding, self.dims)

    def forward(self, input, indices, output_size=None):
        return type(self).function(input, indices, self.kernel_size, self.stride, self.padding,
                                   output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d (values at their indices, zeros elsewhere)."""
    function = staticmethod(F.max_unpool1d)
    dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d: (N, C, H, W) and its indices -> (N, C, H_out, W_out)."""
    function = staticmethod(F.max_unpool2d)
    dims = 2


class MaxUnpool3d(_MaxUnpoolNd):
    function = staticmethod(F.max_unpool3d)
    dims = 3


def _as_tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _LPPoolNd(Module):
    function = None                  # the functional form, set by each subclass

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self).function(input, float(self.norm_type), self.kernel_size, self.stride,
                                   self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """(sum over each window of x^p)^(1 / p) of (N, C, L)."""
    function = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """(sum over each window of x^p)^(1 / p) of (N, C, H, W)."""
    function = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    function = staticmethod(F.lp_pool3d)


class _FractionalMaxPoolNd(Module):
    function = None                  # the functional form, set by each subclass
    dims = 0                         # spatial dims, set by each subclass

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _as_tuple(kernel_size, self.dims)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else _as_tuple(output_size, self.dims)
        self.output_ratio = None if output_ratio is None else _as_tuple(output_ratio, self.dims)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return type(self).function(input, self.kernel_size, self.output_size, self.output_ratio,
                                   self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """(N, C, H, W) or (C, H, W) -> (N, C, oH, oW): max over kernel_size windows at
    pseudo-random fractional strides (Graham 2014). Samples come from _random_samples (a buffer,
    (N, C, 2)) when given, else from tinygen's generator (not torch's stream for the same seed).

        pool = nn.FractionalMaxPool2d(3, output_ratio=0.5)
        y = pool(tg.randn(1, 4, 10, 10))                 # (1, 4, 5, 5)
    """
    function = staticmethod(F.fractional_max_pool2d)
    dims = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """(N, C, D, H, W) or (C, D, H, W) -> (N, C, oD, oH, oW); samples (N, C, 3), as
    FractionalMaxPool2d."""
    function = staticmethod(F.fractional_max_pool3d)
    dims = 3
