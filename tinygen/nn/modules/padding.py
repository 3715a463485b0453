"""Padding layers: constant (zero), reflection, replication and circular, 1-D, 2-D and 3-D, as
PyTorch.

    nn.ReflectionPad2d(1)            # (N, C, H, W) -> (N, C, H + 2, W + 2), mirrored edges
    nn.ZeroPad2d((1, 2, 0, 3))       # (left, right, top, bottom)
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


def _pairs(padding, n, name):
    """An int or a 2n-tuple (last dim first, as F.pad) -> the 2n-tuple."""
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    padding = tuple(padding)
    if len(padding) != 2 * n:
        raise ValueError(f"{name}: padding must be an int or a tuple of {2 * n} ints, got "
                         f"{padding}")
    return padding


class _PadNd(Module):
    mode = "constant"
    n = 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = _pairs(padding, self.n, type(self).__name__)
        self.value = value

    def forward(self, input):
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        if self.mode == "constant" and not isinstance(self, (ZeroPad1d, ZeroPad2d, ZeroPad3d)):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pads the last dim with `value`: (N, C, L) -> (N, C, L + left + right)."""

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Pads the last two dims with `value`; padding (left, right, top, bottom) or an int."""
    n = 2

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    """Mirror padding without repeating the edge (padding < size)."""
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReflectionPad2d(ReflectionPad1d):
    n = 2


class ReplicationPad1d(_PadNd):
    """Repeats the edge value."""
    mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class ReplicationPad2d(ReplicationPad1d):
    n = 2


class CircularPad1d(_PadNd):
    """Wraps around (periodic boundary)."""
    mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class CircularPad2d(CircularPad1d):
    n = 2


class ConstantPad3d(_PadNd):
    """Pads the last three dims with `value`; padding (left, right, top, bottom, front, back)."""
    n = 3

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ZeroPad3d(ConstantPad3d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad3d(ReflectionPad1d):
    n = 3


class ReplicationPad3d(ReplicationPad1d):
    n = 3


class CircularPad3d(CircularPad1d):
    n = 3
