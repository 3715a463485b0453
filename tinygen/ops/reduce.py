"""Reductions (the softmax family: softmax.py, re-exported here). `axes` is a tuple of
non-negative ints or None (all)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Function, on_arrays, wrap, wrap_constant, wrap_grad
from ..autograd.grad_mode import GRAD
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .args import kept_shape, norm_dim, norm_dims
from .binary import compare
from .convert import as_float, to, type_name
from .elementwise import ZeroWhere, guard, quiet
from .index import Gather, values_indices
from .shape import sum_array
from .softmax import (LogSoftmax, LogSoftmaxBackward, Softmax, SoftmaxBackward,  # noqa: F401
                      log_softmax, softmax)


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
    """max over axes; ties share the gradient evenly (PyTorch's amax/amin). A slice holding NaN
    gets a NaN gradient, as in PyTorch (no element equals the NaN result: 0 / 0); max() and
    min() without dim use EvenlyDistributed instead."""

    def forward(self, x, axes, keepdim, is_min=False):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        y = x.min(axis=axes, keepdims=True) if is_min else x.max(axis=axes, keepdims=True)
        mask = (x == y)
        count = mask.sum(axis=axes, keepdims=True)
        if x.dtype.kind == "f" and not count.all():     # a slice holding NaN: 0 / 0 = NaN,
            count = self.xp.where(count == 0, self.xp.nan, count)     # without the warning
        self.weights = mask / count.astype(x.dtype)
        self.weights = self.weights.astype(x.dtype, copy=False)
        return y if keepdim else y.reshape([s for d, s in enumerate(x.shape)
                                            if not (axes is None or d in axes)])

    def backward(self, gy):
        return expand_back(gy, self.in_shape, self.axes, self.keepdim) * wrap(self.weights), None, None, None


class EvenlyDistributed(Function):
    """A full reduction whose result is one of x's elements (max(), min(), median() and
    nanmedian() without dim): pick(x, *args) gives the 0-d result, and its gradient is shared
    evenly by every element equal to it, or by every NaN when it is NaN (PyTorch's
    evenly_distribute_backward: max() of [1, nan] sends the gradient to the NaN, not NaN to
    all)."""

    def forward(self, x, pick, *args):
        self.in_shape = x.shape
        y = self.xp.asarray(pick(x, *args))
        mask = self.xp.isnan(x) if y.dtype.kind == "f" and self.xp.isnan(y) else (x == y)
        count = int(mask.sum()) or 1               # (no element picked: an empty median)
        self.weights = (mask / count).astype(x.dtype, copy=False)
        return y

    def backward(self, gy):
        return (expand_back(gy, self.in_shape, None, False) * wrap(self.weights),) + \
            (None,) * (len(self.inputs) - 1)


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
    """Running sum along dim (reverse: from the end); its gradient is the reverse running sum."""

    def forward(self, x, dim, reverse=False):
        self.dim, self.reverse = dim, reverse
        xp = self.xp
        if reverse:
            return xp.flip(xp.flip(x, dim).cumsum(axis=dim), dim)
        return x.cumsum(axis=dim)

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


class NormP(Function):
    """The p-norm over axes for p other than 2 (0, 1, inf, -inf, any other number), with PyTorch's
    norm_backward, written in Tensor ops (differentiable again):
      p = 0: no gradient; p = 1: sgn(x) gy; p = +-inf: sgn(x) gy shared evenly by the elements
      whose |x| is the norm (or NaN); p < 1: sgn(x) |x|^(p-1) (0 where x = 0) gy norm^(1-p);
      p > 1: sgn(x) |x|^(p-1) gy / norm^(p-1), 0 where the norm is 0.
    sgn(NaN) is 0 here, as in PyTorch, so a NaN element gets a 0 gradient (not NaN) where the
    composition |x| ** p would give NaN; an all-zero slice gets 0 (not 0 * inf)."""

    def forward(self, x, p, axes, keepdim):
        self.p, self.axes, self.keepdim, self.in_shape = p, axes, keepdim, x.shape
        xp = self.xp
        a = xp.abs(x)
        if p == 0:
            y = (x != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype)
        elif math.isinf(p):
            y = a.max(axis=axes, keepdims=keepdim) if p > 0 else a.min(axis=axes, keepdims=keepdim)
        elif p == 1:
            y = a.sum(axis=axes, keepdims=keepdim)
        else:
            with np.errstate(divide="ignore"):         # 0 ** negative p: inf, as in PyTorch
                y = (a ** x.dtype.type(p)).sum(axis=axes, keepdims=keepdim) ** x.dtype.type(1 / p)
        self.save_for_backward(x, y)
        return y

    @quiet
    def backward(self, gy):
        x, y = self.saved_tensors
        p = self.p
        if p == 0:
            return None, None, None, None
        data = x._data
        sgn = wrap(((data > 0).astype(data.dtype) - (data < 0).astype(data.dtype)))  # sgn(NaN) = 0
        if not self.keepdim:                       # gy and the norm with the reduced dims kept
            shape = kept_shape(self.in_shape, self.axes)
            gy, y = gy.reshape(shape), y.reshape(shape)
        if p == 1:
            return sgn * gy, None, None, None
        if math.isinf(p):
            a = array_module(data).abs(data)
            mask = (a == y._data) | array_module(data).isnan(a)
            share = wrap((mask / mask.sum(axis=self.axes, keepdims=True)).astype(data.dtype))
            return sgn * gy * share, None, None, None
        if p < 1:
            scaled = ZeroWhere.apply(x.abs() ** (p - 1), data == 0)
            return sgn * scaled * gy * y ** (1 - p), None, None, None
        scale = ZeroWhere.apply(gy / y ** (p - 1), y._data == 0)
        return sgn * x.abs() ** (p - 1) * scale, None, None, None


class StdFromVar(Function):
    """std = sqrt(var), with PyTorch's std backward: gy / (2 std), and 0 where std is 0 (a
    constant slice gets a 0 gradient, not the NaN of 0 / 0)."""

    def forward(self, v):
        y = self.xp.sqrt(v)
        self.save_for_backward(y)
        return y

    @quiet
    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(gy / (y * 2), wrap(y._data))    # guard: 0 where the std is 0


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def _require_floating(input, message):
    """Raise RuntimeError(message + the dtype) unless input is floating (PyTorch's mean, var,
    std, norm, nanmean refuse integer and bool tensors instead of casting them)."""
    npd = input._data.dtype
    if npd.kind not in "fV":                       # "V": ml_dtypes' bfloat16
        raise RuntimeError(f"{message}{type_name(npd)} ({npd.name}, shape {tuple(input.shape)})")


def _axes(dim, ndim, name):
    """norm_dims with PyTorch's rule for 0-d tensors: dim 0 or -1 is the tensor itself."""
    axes = norm_dims(dim, ndim, name)
    return None if ndim == 0 else axes


def _no_integer_result(input, dtype):
    """PyTorch's refusal of an integer or bool dtype= for a tensor that requires grad, in grad
    mode (sum(x, dtype=torch.int32)): its result could not carry the gradient."""
    if (dtype is not None and input._requires_grad and GRAD.enabled
            and _dt.to_np_dtype(dtype).kind in "biu"):
        raise RuntimeError(f"Autograd not support dtype: {type_name(_dt.to_np_dtype(dtype))}")


def _accumulated(input, dtype, reduce):
    """reduce(x) with PyTorch's accumulation rules (sum, prod, cumsum, cumprod): dtype= casts the
    input first; integer and bool inputs accumulate in int64 and give int64 (or dtype) where
    NumPy gives uint64 for unsigned ones; float16 accumulates in float32 and rounds once at the
    end (a float16 running sum stops growing at 2048)."""
    _no_integer_result(input, dtype)
    x = input if dtype is None else to(input, dtype)
    npd = x._data.dtype
    if npd.kind in "biu":
        out = reduce(x if npd == np.int64 else to(x, _dt.int64))
        return out if dtype is None or npd == np.int64 else to(out, npd)
    if npd == np.float16:
        return to(reduce(to(x, _dt.float32)), _dt.float16)
    return reduce(x)


def sum(input, dim=None, keepdim=False, dtype=None):
    """The sum over dim (all dims when None). Integer and bool inputs give int64 (PyTorch; NumPy
    gives uint64 for unsigned ones), float16 accumulates in float32; dtype= casts the input
    first (dtype=bool: whether any element is nonzero)."""
    axes = norm_dims(dim, input.ndim, "sum")
    if axes is not None and not input.ndim:        # dim 0 or -1 of a 0-d tensor: itself
        axes = None
    npd = input._data.dtype
    if dtype is None and npd.kind == "f" and npd.itemsize > 2:       # the common case
        return Sum.apply(input, axes, keepdim)
    if dtype is not None and _dt.to_np_dtype(dtype) == np.bool_:
        _no_integer_result(input, dtype)
        out = any(input, dim, keepdim)               # (uint8 for a uint8 input: made bool)
        return out if out._data.dtype == np.bool_ else wrap(out._data.astype(np.bool_))
    return _accumulated(input, dtype, lambda x: Sum.apply(x, axes, keepdim))


def mean(input, dim=None, keepdim=False, dtype=None):
    """The mean over dim. Integer and bool inputs raise, as in PyTorch (cast first, or pass a
    floating dtype=)."""
    if dtype is None:
        if input._data.dtype.kind not in "fV":
            _require_floating(input, "mean(): could not infer output dtype. Input dtype must be "
                                     "either a floating point or complex dtype. Got: ")
        x = input
    else:
        npd = _dt.to_np_dtype(dtype)
        if npd.kind not in "fV":
            raise RuntimeError("mean(): could not infer output dtype. Optional dtype must be "
                               f"either a floating point or complex dtype. Got: {type_name(npd)}")
        x = to(input, dtype)
    axes = norm_dims(dim, input.ndim, "mean")
    return Mean.apply(x, axes if input.ndim else None, keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over dim with `correction` (default 1: unbiased, as unbiased=True): the sum of
    squared deviations / max(0, n - correction), so inf (or NaN for a constant slice) when
    correction >= n, with PyTorch's warning. float16 is computed in float32. Where tinygen
    differs, deliberately: the gradient there (correction >= n) is NaN, the composition's 0 * inf;
    PyTorch's is +-inf of one sign for the whole slice, whatever the signs of x - mean."""
    return _var(input, dim, unbiased, keepdim, correction, "var")


def _var(input, dim, unbiased, keepdim, correction, name):
    _require_floating(input, f"{name}(): std and var only support floating point and complex "
                             "dtypes, got ")
    if input._data.dtype == np.float16:
        return to(_var(to(input, _dt.float32), dim, unbiased, keepdim, correction, name),
                  _dt.float16)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(dim, input.ndim, name)
    n = input.numel() if axes is None else math.prod(input.shape[a] for a in axes)
    centred = input - mean(input, axes, keepdim=True)
    if n - correction > 0:
        return sum(centred * centred, axes, keepdim) * (1.0 / (n - correction))
    warnings.warn(f"{name}(): degrees of freedom is <= 0 (correction {correction}, {n} elements "
                  "per slice): the result is inf, or NaN for a constant slice", stacklevel=3)
    with np.errstate(invalid="ignore"):             # 0 * inf: NaN, as PyTorch's 0 / 0
        return sum(centred * centred, axes, keepdim) * float("inf")


def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """sqrt(var): a constant slice gets a 0 gradient (PyTorch's std backward), not NaN."""
    return _std(input, dim, unbiased, keepdim, correction, "std")


def _std(input, dim, unbiased, keepdim, correction, name):
    if input._data.dtype == np.float16:             # in float32, rounded once at the end
        return to(_std(to(input, _dt.float32), dim, unbiased, keepdim, correction, name),
                  _dt.float16)
    return StdFromVar.apply(_var(input, dim, unbiased, keepdim, correction, name))


_ALL = object()                              # prod's dim when not given


def prod(input, dim=_ALL, keepdim=False, dtype=None):
    """The product over dim (all when not given); integer and bool inputs give int64, as sum.
    dim=None is refused, as PyTorch (prod takes one int dim)."""
    if dim is None:
        raise TypeError("prod(): argument 'dim' must be int, not NoneType")
    dim = None if dim is _ALL else dim
    if dim is None or input.ndim == 0:
        if dim is not None:
            norm_dim(dim, 0, "prod")
        if input.ndim == 0:       # one factor: itself, whose gradient is gy (PyTorch's shortcut;
            return _accumulated(input, dtype, lambda x: x * 1)   # prod / x is NaN at inf, NaN)
        flat = input.reshape(-1)
        return _accumulated(flat, dtype, lambda x: Prod.apply(x, 0, False)).reshape(())
    d = norm_dim(dim, input.ndim, "prod")
    return _accumulated(input, dtype, lambda x: Prod.apply(x, d, keepdim))


def amax(input, dim=None, keepdim=False):
    return Amax.apply(input, _axes(dim, input.ndim, "amax"), keepdim, False)


def amin(input, dim=None, keepdim=False):
    return Amax.apply(input, _axes(dim, input.ndim, "amin"), keepdim, True)


def max(input, dim=None, keepdim=False):
    """The largest element (dim None), the elementwise maximum (dim a Tensor), or
    (values, indices) along dim."""
    return _extreme(input, dim, keepdim, False, "max")


def min(input, dim=None, keepdim=False):
    return _extreme(input, dim, keepdim, True, "min")


def _extreme(x, dim, keepdim, is_min, name):
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument (input shape {tuple(x.shape)})")
        return EvenlyDistributed.apply(x, _min_of if is_min else _max_of)
    if hasattr(dim, "_data"):                      # max(other): elementwise
        return x.minimum(dim) if is_min else x.maximum(dim)
    d = norm_dim(dim, x.ndim, name)
    if x.ndim == 0:                          # values: a new tensor, as PyTorch's (not x itself)
        return values_indices(x.clone(), wrap(array_module(x._data).zeros((), np.int64)))
    _check_reduced_size(x, d, name)
    idx = compare(_arg_along, x, ("argmin" if is_min else "argmax", d, True))   # an op
    values = Gather.apply(x, d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values_indices(values, idx)


def _max_of(a):
    return a.max()


def _min_of(a):
    return a.min()


def _check_reduced_size(x, d, name):
    if x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size (input "
                         f"shape {tuple(x.shape)})")


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
    if x._data.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input (shape {tuple(x.shape)})")
    d = None if dim is None else norm_dim(dim, x.ndim, name)
    if d is None and x.numel() == 0:
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                         f"== 0 (input shape {tuple(x.shape)})")
    if x.ndim == 0:
        d = None
    elif d is not None:
        _check_reduced_size(x, d, name)
    out = compare(_arg_along, x, (name, d, keepdim))
    if d is None and keepdim and x.ndim:     # PyTorch keeps every dim, as size 1
        out = out.reshape((1,) * x.ndim)
    return out


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over dim, shifted by the max (a constant): never overflows."""
    axes = _axes(dim, input.ndim, "logsumexp")
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


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over dim: 'fro'/2 (Norm2), inf, -inf, 0 (count of nonzeros), 1, or any number
    (NormP: PyTorch's gradients at zeros and NaN). Integer and bool inputs raise, as in
    PyTorch; dtype= computes in that (floating) dtype."""
    _require_floating(input, "norm(): linalg.vector_norm: Expected a floating point or complex "
                             "tensor as input. Got ")
    axes = _axes(dim, input.ndim, "norm")
    x = input if dtype is None else to(input, dtype)
    if p in ("fro", 2, 2.0):
        return Norm2.apply(x, axes, keepdim)
    if p == "inf":
        p = float("inf")
    if isinstance(p, str):
        raise RuntimeError(f"norm: p={p!r} is not supported (expected 'fro', a number or inf)")
    return NormP.apply(x, float(p), axes, keepdim)


def cumsum(input, dim, dtype=None):
    """Running sum along dim; integer and bool inputs give int64 (or dtype), float16 accumulates
    in float32 (as PyTorch)."""
    d = norm_dim(dim, input.ndim, "cumsum")
    if input.ndim == 0:
        return _accumulated(input, dtype, lambda x: x * 1)
    return _accumulated(input, dtype, lambda x: Cumsum.apply(x, d, False))


_UINT8 = np.dtype(np.uint8)


def any(input, dim=None, keepdim=False):
    """Whether any element (over dim) is nonzero: bool, but uint8 for a uint8 input (0 or 1),
    as PyTorch. dim=() reduces nothing (PyTorch's all / any; sum(dim=()) reduces all)."""
    return _truth(input, dim, keepdim, "any")


def all(input, dim=None, keepdim=False):
    """Whether every element (over dim) is nonzero: bool (uint8 for uint8, as any)."""
    return _truth(input, dim, keepdim, "all")


def _truth(input, dim, keepdim, name):
    a = input._data
    if isinstance(dim, (tuple, list)) and not len(dim):          # reduces nothing
        out = array_module(a).asarray(a != 0)
    else:
        axes = _axes(dim, input.ndim, name)
        out = array_module(a).asarray(getattr(a, name)(axis=axes, keepdims=keepdim))
    return wrap(out.astype(np.uint8) if a.dtype is _UINT8 else out)
