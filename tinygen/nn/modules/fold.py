"""Sliding-window layers, as PyTorch: Unfold (im2col) and Fold (col2im, its adjoint).

    unfold = nn.Unfold(kernel_size=3, padding=1)
    cols = unfold(x)                 # (N, C, H, W) -> (N, C * 9, H * W): one column per window
    x_sum = nn.Fold((H, W), 3, padding=1)(cols)      # overlapping windows summed back
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


class Unfold(Module):
    """(N, C, H, W) -> (N, C * prod(kernel_size), L), L the number of windows."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                      padding, stride)

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """(N, C * prod(kernel_size), L) -> (N, C, *output_size), overlapping windows summed."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                      padding, stride)

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
