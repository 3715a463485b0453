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
        if n == 0:                      # the mean of nothing is NaN (as in PyTorch), silently
            return x.sum(axis=axes, keepdims=keepdim) * x.dtype.type(float("nan"))
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
        shape = x._data.shape
        # d prod / d x_k is the product of the others: prod / x without zeros, else spelled out
        if (x._data == 0).any():
            others = _prod_of_others(x, self.axis)
        else:
            # no zeros: the product of the others is prod / x (a graph in x: double backward)
            others = x.prod(dim=self.axis, keepdim=True) / x
        return expand_back(gy, shape, axes, self.keepdim) * others, None, None


def _prod_of_others(x, axis):
    """others[..., k, ...] = prod over j != k of x[..., j, ...] along `axis`, with no division, so
    exact with zeros and differentiable again: the n x n copies of the axis with the diagonal
    set to 1, multiplied out. O(n^2) along the axis; used only when a zero is present."""
    n = x.shape[axis]
    expanded = x.unsqueeze(axis).expand(x.shape[:axis] + (n,) + x.shape[axis:])  # (.., k, j, ..)
    from ..backend import array_module
    diag = array_module(x._data).eye(n, dtype=bool).reshape((n, n) + (1,) * (x.ndim - axis - 1))
    return expanded.masked_fill(diag, 1.0).prod(dim=axis + 1)


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
    """softmax along dim: the kernel table's softmax_fwd; backward is SoftmaxBackward."""

    def forward(self, x, dim):
        self.dim = dim
        y = self.kernel("softmax_fwd")(x, dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return SoftmaxBackward.apply(y, gy, self.dim), None


class SoftmaxBackward(Function):
    """gx = y * (gy - sum(gy * y)): the softmax_bwd kernel forward, Tensor ops backward (so the
    fused op stays twice differentiable)."""

    def forward(self, y, gy, dim):
        self.dim = dim
        self.save_for_backward(y, gy)
        return self.kernel("softmax_bwd")(y, gy, dim)

    def backward(self, gg):
        y, gy = self.saved_tensors
        d = self.dim
        gy_grad = SoftmaxBackward.apply(y, gg, d) if self.inputs[1] is not None else None  # linear in gy
        y_grad = None
        if self.inputs[0] is not None:
            # d/dy_k: gg_k (gy_k - sum(gy y)) - gy_k sum(gg y)
            y_grad = gg * (gy - (gy * y).sum(dim=d, keepdim=True)) - gy * (gg * y).sum(dim=d, keepdim=True)
        return y_grad, gy_grad, None


class LogSoftmax(Function):
    """log_softmax along dim: the kernel table's log_softmax_fwd; backward LogSoftmaxBackward."""

    def forward(self, x, dim):
        self.dim = dim
        y = self.kernel("log_softmax_fwd")(x, dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return LogSoftmaxBackward.apply(y, gy, self.dim), None


class LogSoftmaxBackward(Function):
    """gx = gy - exp(y) * sum(gy): the log_softmax_bwd kernel forward, Tensor ops backward."""

    def forward(self, y, gy, dim):
        self.dim = dim
        self.save_for_backward(y, gy)
        return self.kernel("log_softmax_bwd")(y, gy, dim)

    def backward(self, gg):
        y, gy = self.saved_tensors
        d = self.dim
        p_gg = y.exp() * gg
        gy_grad = gg - p_gg.sum(dim=d, keepdim=True) if self.inputs[1] is not None else None
        y_grad = -p_gg * gy.sum(dim=d, keepdim=True) if self.inputs[0] is not None else None
        return y_grad, gy_grad, None
