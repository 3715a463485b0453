"""Out-of-place writes into a region of a tensor, and two small Functions of torch.* helpers.

    RegionScatter   input with a region replaced by src (torch.select_scatter, slice_scatter,
                    diagonal_scatter). A region is a basic index (ints and slices: select, slice)
                    or a diagonal plane (offset, dim1, dim2). The adjoint sends the region of the
                    gradient to src and the rest to input, the region zeroed: RegionScatter again
                    (with zeros) and a read of the region, so the pair closes under
                    differentiation.
    Fill            a tensor of input's shape and dtype holding one value (torch.fill); the value,
                    when a tensor, gets the sum of the gradient, input none (zeros, as PyTorch)
    Frexp           (mantissa, exponent) with x = mantissa * 2 ** exponent, |mantissa| in
                    [0.5, 1) (torch.frexp); d mantissa / dx = 2 ** -exponent, the exponent has no
                    gradient

    RegionScatter.apply(x, src, IndexRegion((slice(None), 1)))   # x with column 1 set to src
"""
from __future__ import annotations

from ..autograd.function import Function, wrap_constant
from ..backend import dtypes as _dt
from .diagonal import Diagonal, _diagonal_index, _plane_last


class IndexRegion:
    """The region `array[index]` of a basic index (a tuple of ints and slices): a view."""

    def __init__(self, index):
        self.index = index

    def write(self, xp, out, values):
        out[self.index] = values

    def read(self, t):
        return t[self.index]


class DiagonalRegion:
    """The diagonal `offset` of the planes (dim1, dim2), read as a last dim (torch.diagonal)."""

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def write(self, xp, out, values):
        rows, cols = _diagonal_index(out.shape, self.offset, self.dim1, self.dim2)
        _plane_last(xp, out, self.dim1, self.dim2)[..., rows, cols] = values

    def read(self, t):
        return Diagonal.apply(t, self.offset, self.dim1, self.dim2)


class RegionScatter(Function):
    """A copy of x with `region` set to src (cast to x's dtype, as PyTorch)."""

    def forward(self, x, src, region):
        self.region, self.src_dtype = region, src.dtype
        out = x.copy()
        region.write(self.xp, out, src)
        return out

    def backward(self, gy):
        g_src = self.region.read(gy)
        zeros = wrap_constant(self.xp.zeros(g_src.shape, dtype=gy._data.dtype))
        g_x = RegionScatter.apply(gy, zeros, self.region)
        if g_src._data.dtype != self.src_dtype and self.src_dtype.kind == "f":
            g_src = g_src.to(_dt.from_np_dtype(self.src_dtype))    # a float64 src into float32
        return g_x, g_src, None


class Fill(Function):
    """A tensor of x's shape and dtype, every element `value` (an array or a number, cast)."""

    def forward(self, x, value):
        self.value_dtype = getattr(value, "dtype", None)
        return self.xp.full(x.shape, value, dtype=x.dtype)

    def backward(self, gy):
        g_x = wrap_constant(self.xp.zeros(gy.shape, dtype=gy._data.dtype))
        g_value = None
        if self.value_dtype is not None and self.value_dtype.kind == "f":
            g_value = gy.sum()
            if g_value._data.dtype != self.value_dtype:
                g_value = g_value.to(_dt.from_np_dtype(self.value_dtype))
        return g_x, g_value


class Frexp(Function):
    """(mantissa, int32 exponent) of a floating x, as numpy.frexp; the mantissa's gradient is
    gy / 2 ** exponent, with 2 ** exponent in the default float dtype as PyTorch's formula
    (grad / exponent.exp2()) has it."""

    n_differentiable = 1

    def forward(self, x):
        mantissa, exponent = self.xp.frexp(x)
        self.x_dtype = x.dtype
        self.power = self.xp.exp2(exponent.astype(_dt.get_default_dtype().np))
        return mantissa, exponent.astype(self.xp.int32)

    def backward(self, g_mantissa, _g_exponent):
        gx = g_mantissa / wrap_constant(self.power)
        if gx._data.dtype != self.x_dtype:
            gx = gx.to(_dt.from_np_dtype(self.x_dtype))
        return gx
