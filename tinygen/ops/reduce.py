"""Reductions and the softmax family. `axes` is a tuple of non-negative ints or None (all)."""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd import function as _fn
from .shape import BroadcastTo, Reshape


def _T(arr):
    return _fn.Tensor._make(arr, None, 0, False)


def _kept_shape(in_shape, axes):
    if axes is None:
        return (1,) * len(in_shape)
    return tuple(1 if d in axes else s for d, s in enumerate(in_shape))


def expand_back(gy, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes."""
    if not keepdim:
        gy = Reshape.apply(gy, _kept_shape(in_shape, axes))
    return BroadcastTo.apply(gy, in_shape)


class Sum(Function):
    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, gy):
        return expand_back(gy, self.in_shape, self.axes, self.keepdim), None, None


class Mean(Function):
    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        n = x.size if axes is None else _count(x.shape, axes)
        self.scale = 1.0 / n if n else float("nan")
        return x.mean(axis=axes, keepdims=keepdim)

    def backward(self, gy):
        return expand_back(gy * self.scale, self.in_shape, self.axes, self.keepdim), None, None


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Amax(Function):
    """max over axes; ties share the gradient evenly (PyTorch's amax/amin and full max())."""

    def forward(self, x, axes, keepdim, is_min=False):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        y = x.min(axis=axes, keepdims=True) if is_min else x.max(axis=axes, keepdims=True)
        mask = (x == y)
        self.weights = mask / mask.sum(axis=axes, keepdims=True).astype(x.dtype)
        self.weights = self.weights.astype(x.dtype, copy=False)
        return y if keepdim else y.reshape([s for d, s in enumerate(x.shape)
                                            if not (axes is None or d in axes)])

    def backward(self, gy):
        return expand_back(gy, self.in_shape, self.axes, self.keepdim) * _T(self.weights), None, None, None


class Prod(Function):
    def forward(self, x, axis, keepdim):
        self.axis, self.keepdim = axis, keepdim
        self.save_for_backward(x)
        return x.prod(axis=axis, keepdims=keepdim)

    def backward(self, gy):
        (x,) = self.saved_tensors
        axes = None if self.axis is None else (self.axis,)
        xp = self.xp
        zero = x._data == 0
        shape = x._data.shape
        # product of the others, exact with zeros: with no zero it is prod / x; with exactly one
        # zero only that position gets the product of the rest; with two or more, all get 0
        nonzero = x.masked_fill(_T(zero), 1.0)
        p_nz = nonzero.prod(dim=self.axis, keepdim=True) if self.axis is not None \
            else nonzero.prod().reshape((1,) * len(shape))
        n_zero = zero.sum(axis=self.axis, keepdims=True)
        from .elementwise import where_
        others = where_(n_zero == 0, p_nz / nonzero,
                        where_(zero & (n_zero == 1), p_nz.expand(shape), 0.0))
        return expand_back(gy, shape, axes, self.keepdim) * others, None, None


class Cumsum(Function):
    def forward(self, x, dim, reverse=False):
        self.dim, self.reverse = dim, reverse
        xp = self.xp
        if reverse:
            return xp.flip(xp.cumsum(xp.flip(x, dim), axis=dim), dim)
        return xp.cumsum(x, axis=dim)

    def backward(self, gy):
        return Cumsum.apply(gy, self.dim, not self.reverse), None, None


class Norm2(Function):
    """Euclidean norm over axes; the gradient at 0 is 0 (the subgradient PyTorch picks)."""

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        y = self.xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        from .elementwise import guard
        scale = guard(gy / y, _T(y._data))        # 0 where the norm is 0
        return expand_back(scale, self.in_shape, self.axes, self.keepdim) * x, None, None


class Softmax(Function):
    def forward(self, x, dim):
        self.dim = dim
        y = softmax_array(self.xp, x, dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        # J^T gy = y * (gy - sum(gy * y))
        return y * (gy - (gy * y).sum(dim=self.dim, keepdim=True)), None


class LogSoftmax(Function):
    def forward(self, x, dim):
        self.dim = dim
        y = log_softmax_array(self.xp, x, dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy - y.exp() * gy.sum(dim=self.dim, keepdim=True), None


def _safe_max(xp, x, dim):
    m = x.max(axis=dim, keepdims=True)
    # a row of all -inf (fully masked) would give nan from inf - inf: shift by 0 instead
    return xp.where(xp.isfinite(m), m, x.dtype.type(0))


def softmax_array(xp, x, dim):
    """Softmax along dim; a fully masked row (all -inf) gives zeros, not NaN (PyTorch: NaN)."""
    if x.size == 0:
        return x.copy()
    e = xp.exp(x - _safe_max(xp, x, dim))       # shift by the max: exp never overflows
    s = e.sum(axis=dim, keepdims=True)
    return e / xp.where(s == 0, x.dtype.type(1), s)


def log_softmax_array(xp, x, dim):
    if x.size == 0:
        return x.copy()
    z = x - _safe_max(xp, x, dim)
    return z - xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
