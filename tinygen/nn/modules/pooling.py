"""Pooling and resizing layers, as PyTorch: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d,
Upsample, UpsamplingNearest2d and UpsamplingBilinear2d (3-D, adaptive-max, unpooling and LP
pooling layers: pooling_extra.py).

    nn.MaxPool2d(2)                        # (N, C, H, W) -> (N, C, H // 2, W // 2)
    nn.AdaptiveAvgPool2d((1, 1))           # (N, C, H, W) -> (N, C, 1, 1)
    nn.Upsample(scale_factor=2)            # nearest: (N, C, H, W) -> (N, C, 2H, 2W)

The 1-D layers run the 2-D functional ops on a height of 1.
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


class MaxPool2d(Module):
    """Max over kernel_size windows; stride defaults to kernel_size; padding counts as -inf."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows; count_include_pad counts zero padding in the divisor."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(Module):
    """(N, C, L) or (C, L) -> (N, C, L_out): max over windows of the last dim."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        out = F.max_pool2d(input.unsqueeze(-2), (1, _one(self.kernel_size)),
                           (1, _one(self.stride)), (0, _one(self.padding)),
                           (1, _one(self.dilation)), ceil_mode=self.ceil_mode,
                           return_indices=self.return_indices)      # (N, C, 1, L_out)
        if self.return_indices:
            return out[0].squeeze(-2), out[1].squeeze(-2)
        return out.squeeze(-2)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """(N, C, L) or (C, L) -> (N, C, L_out): mean over windows of the last dim."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _tuple1(kernel_size)
        self.stride = _tuple1(stride if stride is not None else kernel_size)
        self.padding = _tuple1(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool2d(input.unsqueeze(-2), (1, self.kernel_size[0]), (1, self.stride[0]),
                            (0, self.padding[0]), self.ceil_mode,
                            self.count_include_pad).squeeze(-2)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """(N, C, L) or (C, L) -> (N, C, output_size). Where tinygen differs: output_size None keeps
    L, as in 2-D and 3-D (PyTorch's 1-D form refuses None with a TypeError)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        out = _one(self.output_size)
        return F.adaptive_avg_pool2d(input.unsqueeze(-2), (1, out)).squeeze(-2)

    def extra_repr(self):
        return f"output_size={self.output_size}"


def _one(value):
    return value[0] if isinstance(value, (tuple, list)) else value


def _tuple1(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output_size (int or (OH, OW); None keeps that dim)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize by size or scale_factor with F.interpolate (nearest, nearest-exact, linear,
    bilinear, bicubic, trilinear, area)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else (tuple(float(f) for f in scale_factor) if scale_factor else None)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' on (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True on (N, C, H, W), as PyTorch's."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
