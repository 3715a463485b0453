"""Reductions and the softmax family. `axes` is a tuple of non-negative ints or None (all)."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, on_arrays, wrap, wrap_constant, wrap_grad
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .args import kept_shape, norm_dim, norm_dims
from .binary import compare
from .convert import as_float, to
from .elementwise import guard, quiet
from .index import Gather, values_indices
from .shape import sum_array


def expand_back(gy, in_shape, axes, keepdim, scale=None):
    """Broadcast a reduced gradient back over the reduced axes (times scale, when given)."""
    if on_arrays():                     # ExpandBack's forward without its op (see on_arrays)
        g = gy._data
        return wrap_grad(_expanded(array_module(g), g, in_shape, axes, keepdim, scale))
    return ExpandBack.apply(gy, in_shape, axes, keepdim, scale)


_FILL_MAX = 1 << 14


class ExpandBack(Function):
    """The gradient gy of a reduction over `axes` (keepdim or not) sent back to the input's shape,
    times scale (the mean's 1 / n) when given: gy with the axes kept, broadcast. Its backward is
    the sum over the same axes (times scale), so it is differentiable to any order.

    A full reduction's gradient (one number) onto a small CPU shape is written out with fill,
    under 1 us, where NumPy's broadcast_to view takes about 4: this runs in every
    loss.backward(). Larger shapes get the read-only broadcast view (no memory written)."""

    def forward(self, gy, in_shape, axes, keepdim, scale):
        self.axes, self.keepdim, self.scale = axes, keepdim, scale
        return _expanded(self.xp, gy, in_shape, axes, keepdim, scale)

    def backward(self, gg):
        g = Sum.apply(gg, self.axes, self.keepdim)
        return (g if self.scale is None else g * self.scale), None, None, None, None


def _expanded(xp, gy, in_shape, axes, keepdim, scale):
    """ExpandBack's array: gy (times scale) over in_shape."""
    if scale is not None:
        gy = gy * scale
    if gy.size == 1 and xp is np and math.prod(in_shape) <= _FILL_MAX:
        out = np.empty(in_shape, dtype=gy.dtype)
        out.fill(gy.reshape(()))
        return out
    if not keepdim:
        gy = gy.reshape(kept_shape(in_shape, axes))
    return xp.broadcast_to(gy, in_shape)


class Sum(Function):
    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        return sum_array(self, x, axes, keepdim)

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
        return expand_back(gy, self.in_shape, self.axes, self.keepdim, self.scale), None, None


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
        return expand_back(gy, self.in_shape, self.axes, self.keepdim) * wrap(self.weights), None, None, None


class Prod(Function):
    def forward(self, x, axis, keepdim):
        self.axis, self.keepdim = axis, keepdim
        self.save_for_backward(x)
        return x.prod(axis=axis, keepdims=keepdim)

    def backward(self, gy):
        (x,) = self.saved_tensors
        axes = None if self.axis is None else (self.axis,)
        shape = x._data.shape
        # d prod / d x_k is the product of the others: prod / x without zeros, else spelled out.
        # A branch on the data, read through a tensor: a captured step (tg.compile) sees the
        # read and runs eagerly rather than keep the branch of the step it traced.
        if bool((x == 0).any()):
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
    diag = array_module(x._data).eye(n, dtype=bool).reshape((n, n) + (1,) * (x.ndim - axis - 1))
    return expanded.masked_fill(wrap_constant(diag), 1.0).prod(dim=axis + 1)


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

    @quiet
    def backward(self, gy):
        x, y = self.saved_tensors
        scale = guard(gy / y, wrap(y._data))        # 0 where the norm is 0
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


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def sum(input, dim=None, keepdim=False, dtype=None):
    x = input if dtype is None else to(input, dtype)
    if x._data.dtype.kind == "b":
        x = to(x, _dt.int64)
    return Sum.apply(x, norm_dims(dim, input.ndim, "sum"), keepdim)


def mean(input, dim=None, keepdim=False, dtype=None):
    x = as_float(input) if dtype is None else to(input, dtype)
    return Mean.apply(x, norm_dims(dim, input.ndim, "mean"), keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over dim with `correction` (default 1: unbiased, as unbiased=True)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    x = as_float(input)
    axes = norm_dims(dim, input.ndim, "var")
    n = x.numel() if axes is None else int(np.prod([x.shape[a] for a in axes]))
    centred = x - mean(x, axes, keepdim=True)
    scale = 1.0 / (n - correction) if n - correction > 0 else float("nan")
    return sum(centred * centred, axes, keepdim) * scale


def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return var(input, dim, unbiased, keepdim, correction).sqrt()


def prod(input, dim=None, keepdim=False):
    if dim is None:
        return Prod.apply(input.reshape(-1), 0, False).reshape(())
    return Prod.apply(input, norm_dim(dim, input.ndim, "prod"), keepdim)


def amax(input, dim=None, keepdim=False):
    return Amax.apply(input, norm_dims(dim, input.ndim, "amax"), keepdim, False)


def amin(input, dim=None, keepdim=False):
    return Amax.apply(input, norm_dims(dim, input.ndim, "amin"), keepdim, True)


def max(input, dim=None, keepdim=False):
    """The largest element (dim None), the elementwise maximum (dim a Tensor), or
    (values, indices) along dim."""
    return _extreme(input, dim, keepdim, False, "max")


def min(input, dim=None, keepdim=False):
    return _extreme(input, dim, keepdim, True, "min")


def _extreme(x, dim, keepdim, is_min, name):
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{name}(): expected a non-empty tensor")
        return Amax.apply(x, None, False, is_min)
    if hasattr(dim, "_data"):                      # max(other): elementwise
        return x.minimum(dim) if is_min else x.maximum(dim)
    d = norm_dim(dim, x.ndim, name)
    if x.ndim == 0:
        return values_indices(x, wrap(array_module(x._data).zeros((), np.int64)))
    idx = compare(_arg_along, x, ("argmin" if is_min else "argmax", d, True))   # an op
    values = Gather.apply(x, d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values_indices(values, idx)


def _arg_along(a, spec):
    """a.argmax or a.argmin (spec: name, axis or None, keepdims) as int64."""
    name, axis, keepdims = spec
    out = getattr(a, name)() if axis is None else getattr(a, name)(axis=axis, keepdims=keepdims)
    return array_module(a).asarray(out).astype(np.int64, copy=False)


def argmax(input, dim=None, keepdim=False):
    return _arg_extreme(input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False):
    return _arg_extreme(input, dim, keepdim, "argmin")


def _arg_extreme(x, dim, keepdim, name):
    d = None if dim is None else norm_dim(dim, x.ndim, name)
    return compare(_arg_along, x, (name, d, keepdim))


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over dim, shifted by the max (a constant): never overflows."""
    axes = norm_dims(dim, input.ndim, "logsumexp")
    x = as_float(input)
    m = compare(_finite_max, x, axes)                          # an op: a captured step redoes it
    out = sum((x - m).exp(), axes, keepdim=True).log() + m
    if keepdim:
        return out
    return out.reshape(tuple(s for d, s in enumerate(x.shape) if d not in (axes or range(x.ndim))))


def _finite_max(a, axes):
    """The max over axes (kept), 0 where it is not finite or the array is empty: logsumexp's
    shift."""
    xp = array_module(a)
    m = a.max(axis=axes, keepdims=True) if a.size else \
        xp.zeros(kept_shape(a.shape, axes), a.dtype)
    return xp.where(xp.isfinite(m), m, 0).astype(a.dtype)


def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over dim: 'fro'/2 (Norm2), inf, -inf, 0 (count of nonzeros), 1, or any p."""
    axes = norm_dims(dim, input.ndim, "norm")
    x = as_float(input)
    if p in ("fro", 2, 2.0):
        return Norm2.apply(x, axes, keepdim)
    if p in (float("inf"), "inf"):
        return amax(x.abs(), axes, keepdim)
    if p == float("-inf"):
        return amin(x.abs(), axes, keepdim)
    if p == 1:
        return sum(x.abs(), axes, keepdim)
    if p == 0:
        return sum(to(x != 0, x.dtype), axes, keepdim)
    return sum(x.abs() ** p, axes, keepdim) ** (1.0 / p)


def cumsum(input, dim):
    return Cumsum.apply(input, norm_dim(dim, input.ndim, "cumsum"), False)


def softmax(input, dim):
    return Softmax.apply(as_float(input), norm_dim(dim, input.ndim, "softmax"))


def log_softmax(input, dim):
    return LogSoftmax.apply(as_float(input), norm_dim(dim, input.ndim, "log_softmax"))


def any(input, dim=None, keepdim=False):
    return wrap(array_module(input._data).asarray(
        input._data.any(axis=norm_dims(dim, input.ndim, "any"), keepdims=keepdim)))


def all(input, dim=None, keepdim=False):
    return wrap(array_module(input._data).asarray(
        input._data.all(axis=norm_dims(dim, input.ndim, "all"), keepdims=keepdim)))
