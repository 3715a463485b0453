"""Shape ops: views, broadcasting, concatenation, padding. Each backward is another shape op.

The adjoint of broadcasting is a sum (`SumTo`), and the adjoint of that sum is broadcasting
(`BroadcastTo`): the pair closes under differentiation, so double backward needs nothing more.
"""
from __future__ import annotations

from ..autograd.function import Function


def unbroadcast(g, shape):
    """Reduce gradient g to `shape` (the adjoint of broadcasting). No-op when shapes match."""
    if shape is None:            # the operand was a Python scalar: no gradient
        return None
    if g._data.shape == shape:
        return g
    return SumTo.apply(g, shape)


def _sum_axes(gshape, shape):
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    return axes


class SumTo(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        axes = _sum_axes(x.shape, shape)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        lead = len(x.shape) - len(shape)
        if lead:
            y = y.reshape(shape)
        return y

    def backward(self, gy):
        return BroadcastTo.apply(gy, self.in_shape), None


class BroadcastTo(Function):
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return self.xp.broadcast_to(x, shape)

    def backward(self, gy):
        return unbroadcast(gy, self.in_shape), None


class Reshape(Function):
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, gy):
        return Reshape.apply(gy, self.in_shape), None


class Permute(Function):
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, gy):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return Permute.apply(gy, tuple(inv)), None


class Cat(Function):
    def forward(self, *xs, dim):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return self.xp.concatenate(xs, axis=dim)

    def backward(self, gy):
        return Split.apply(gy, self.sizes, self.dim)


class Split(Function):
    """Split along `dim` into pieces of `sizes`: a multi-output op whose backward is Cat."""

    is_view = True

    def forward(self, x, sizes, dim):
        self.dim, self.sizes = dim, sizes
        idx = [slice(None)] * x.ndim
        out, start = [], 0
        for s in sizes:
            idx[dim] = slice(start, start + s)
            out.append(x[tuple(idx)])
            start += s
        return tuple(out)

    def backward(self, *gys):
        return Cat.apply(*gys, dim=self.dim), None, None


class Pad(Function):
    """Constant padding. `pads` is ((before, after), ...) per dim, negative values crop."""

    def forward(self, x, pads, value):
        self.in_shape = x.shape
        self.pads = pads
        crop = tuple(slice(max(-b, 0), x.shape[d] - max(-a, 0)) for d, (b, a) in enumerate(pads))
        x = x[crop]
        grow = [(max(b, 0), max(a, 0)) for b, a in pads]
        return self.xp.pad(x, grow, mode="constant", constant_values=value)

    def backward(self, gy):
        return Pad.apply(gy, tuple((-b, -a) for b, a in self.pads), 0.0), None, None


class Repeat(Function):
    def forward(self, x, reps):
        self.in_shape = x.shape
        self.reps = reps
        return self.xp.tile(x, reps)

    def backward(self, gy):
        # view each repeated dim as (rep, size) and sum over the rep axes
        reps = self.reps
        shape = (1,) * (len(reps) - len(self.in_shape)) + tuple(self.in_shape)
        split = []
        for r, s in zip(reps, shape):
            split += [r, s]
        g = gy.reshape(split).sum(dim=tuple(range(0, 2 * len(reps), 2)))
        return g.reshape(self.in_shape), None


class Flip(Function):
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return self.xp.flip(x, axis=dims)

    def backward(self, gy):
        return Flip.apply(gy, self.dims), None


class Tril(Function):
    def forward(self, x, k, upper):
        self.k, self.upper = k, upper
        return self.xp.triu(x, k) if upper else self.xp.tril(x, k)

    def backward(self, gy):
        return Tril.apply(gy, self.k, self.upper), None, None


class Contiguous(Function):
    def forward(self, x):
        return self.xp.ascontiguousarray(x)

    def backward(self, gy):
        return gy
