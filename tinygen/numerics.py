"""torch.* array helpers: dtype rules, out-of-place fills and scatters, and the numerical calculus
of sampled functions (finite differences, the trapezoidal rule), as PyTorch 2.13 has them.

    tg.result_type(x, 2.5), tg.can_cast(tg.float64, tg.int32)      dtype rules (promotion)
    tg.fill(x, 3.0), tg.rsub(x, 1.0)                               a filled copy, 1 - x
    tg.select_scatter(x, row, 0, 1), tg.slice_scatter(x, block, start=2)
    tg.diagonal_scatter(x, d)                                      x with a region replaced
    tg.frexp(x), tg.unravel_index(idx, (2, 3)), tg.vander(x, N=3)
    tg.gradient(f, spacing=0.1), tg.trapezoid(y, x), tg.cumulative_trapezoid(y, dx=0.5)

Everything differentiable in PyTorch is here too: the calculus ops are compositions of Tensor ops
(slices, arithmetic, sums), the scatters and fills Functions of ops/region.py. The Tensor methods
PyTorch has for them (x.select_scatter, x.slice_scatter, x.diagonal_scatter, x.frexp) are set on
Tensor at the bottom of this file, with those of the special functions torch also has at its top
level (x.i0, x.igamma, x.igammac, tg.special's) and their in-place twins (x.i0_, tg.i0_, ...).
"""
from __future__ import annotations

import collections
import numbers
import operator

import numpy as np

from . import creation as _creation
from .backend import dtypes as _dt
from .ops.args import norm_dim
from .ops.arrange import diff
from .ops.binary import sub
from .ops.region import DiagonalRegion, Fill, Frexp, IndexRegion, RegionScatter
from .ops.bessel import i0
from .ops.diagonal import _diagonal_index
from .ops.inplace import twin
from .ops.shape import cat
from .ops.special_more import igamma, igammac
from .ops.stats import cumprod
from .tensor import Tensor

frexp_result = collections.namedtuple("frexp", ["mantissa", "exponent"])


def _check_tensor(op, name, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(value).__name__}")


def concatenate(tensors, axis=0, *, dim=None):
    """Alias of cat (NumPy's name; `axis` and `dim` both name the dim)."""
    return cat(tensors, axis if dim is None else dim)


# ---- dtype rules ---------------------------------------------------------------------------------
def _operand(op, value):
    """(NumPy dtype or None, kind) of a result_type operand: kind 2 a tensor with dims, 1 a 0-d
    tensor, 0 a Python number (NumPy scalars count as their Python numbers, as in PyTorch)."""
    if isinstance(value, Tensor):
        return value._data.dtype, (2 if value.ndim else 1)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float)):
        return value, 0
    raise TypeError(f"{op}(): expected a Tensor or a Python number (bool, int, float), got "
                    f"{type(value).__name__}")


def result_type(tensor1, tensor2):
    """The dtype PyTorch's promotion gives an arithmetic op on these operands (tensors or Python
    numbers): categories bool < integer < floating; a Python number or a 0-d tensor changes the
    dtype only when it brings a higher category."""
    a, kind_a = _operand("result_type", tensor1)
    b, kind_b = _operand("result_type", tensor2)
    if kind_a == 0 and kind_b == 0:
        number = float if any(isinstance(v, float) for v in (a, b)) else (
            int if any(not isinstance(v, bool) for v in (a, b)) else bool)
        return _dt.from_np_dtype(_dt.to_np_dtype(number))
    if kind_a == 0 or kind_b == 0:
        arr, scalar = (b, a) if kind_a == 0 else (a, b)
        return _dt.from_np_dtype(_dt.result_type_scalar(arr, scalar))
    return _dt.from_np_dtype(_dt.promote_types(a, b, kind_a == 1, kind_b == 1))


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow from_ -> to: never to a lower category (floating ->
    integer or bool, integer -> bool); within a category any cast (float64 -> float16)."""
    for name, value in (("from_", from_), ("to", to)):
        if not isinstance(value, _dt.dtype):
            raise TypeError(f"can_cast(): argument '{name}' must be tinygen.dtype, not "
                            f"{type(value).__name__}")
    return from_.category <= to.category


# ---- fills, reverse subtraction, float decomposition, indices ------------------------------------
def fill(input, value):
    """A tensor of input's shape and dtype filled with value (a number, or a 0-d tensor that then
    gets the gradient's sum); a value the dtype cannot hold raises, as PyTorch."""
    _check_tensor("fill", "input", input)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill: fill_ only supports 0-dimension value tensor but got "
                               f"tensor with {value.ndim} dimensions (shape {tuple(value.shape)})")
        return Fill.apply(input, value)
    try:
        checked = _creation.full((), value, dtype=input.dtype)     # casts and range checks
    except (RuntimeError, TypeError) as error:
        raise type(error)(f"fill: {error}") from None
    return Fill.apply(input, checked._data)


def rsub(input, other, alpha=1):
    """other - alpha * input (a Python number `other` promotes as PyTorch's wrapped numbers)."""
    _check_tensor("rsub", "input", input)
    if not isinstance(other, Tensor):
        if isinstance(other, np.generic):
            other = other.item()
        if not isinstance(other, (bool, int, float)):
            raise TypeError(f"rsub(): argument 'other' must be Tensor or Number, not "
                            f"{type(other).__name__}")
        other = _creation.tensor(other, device=input.device)
    return sub(other, input, alpha=alpha)


def frexp(input):
    """(mantissa, exponent), input = mantissa * 2 ** exponent with |mantissa| in [0.5, 1)
    (0, inf and NaN keep themselves with exponent 0); exponent int32, a namedtuple as PyTorch's.
    The mantissa is differentiable (gradient / 2 ** exponent)."""
    _check_tensor("frexp", "input", input)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"frexp: torch.frexp() only supports floating-point dtypes, got "
                           f"{input.dtype}")
    return frexp_result(*Frexp.apply(input))


def _shape_of(op, shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    shape = tuple(shape)
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{op}: expected 'shape' sequence to only contain ints, but got "
                            f"{type(size)}")
    if any(size < 0 for size in shape):
        raise ValueError(f"{op}: 'shape' cannot have negative values, but got {shape}")
    return tuple(int(size) for size in shape)


def unravel_index(indices, shape):
    """The coordinates (a tuple of int64 tensors of indices' shape) of flat indices into an array
    of `shape`, row-major. As PyTorch, indices outside the array wrap around (modulo its size,
    -1 is the last element). Where tinygen differs: a shape with a zero dim raises a
    RuntimeError naming it (PyTorch's says ZeroDivisionError), a Python int index a TypeError."""
    op = "unravel_index"
    _check_tensor(op, "indices", indices)
    if indices.dtype.category != 1:
        raise TypeError(f"{op}: expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = _shape_of(op, shape)
    if not shape:
        return ()
    if 0 in shape:
        raise RuntimeError(f"{op}: shape {shape} has a zero dim: no flat index falls inside it")
    strides = [int(np.prod(shape[k + 1:], dtype=np.int64)) for k in range(len(shape))]
    strides = _creation.tensor(strides, dtype=_dt.int64, device=indices.device)      # (D,)
    sizes = _creation.tensor(list(shape), dtype=_dt.int64, device=indices.device)    # (D,)
    coords = (indices.long().unsqueeze(-1) // strides) % sizes                       # (*, D)
    return tuple(coords.unbind(-1))


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D x: column k holds x ** (N - 1 - k) (x ** k when
    increasing); N defaults to len(x). Integer and bool x give int64, as PyTorch. Where tinygen
    differs: the result is differentiable (PyTorch's backward fails on its in-place build)."""
    op = "vander"
    _check_tensor(op, "x", x)
    if x.ndim != 1:
        raise RuntimeError(f"{op}: x must be a one-dimensional tensor, got shape {tuple(x.shape)}")
    n = x.shape[0]
    N = n if N is None else N
    if N < 0:
        raise RuntimeError(f"{op}: N must be non-negative, got {N}")
    dtype = x.dtype if x.dtype.is_floating_point else _dt.int64
    x = x.to(dtype)
    ones = _creation.ones((n, min(N, 1)), dtype=dtype, device=x.device)             # (n, 1)
    if N <= 1:
        return ones
    powers = cumprod(x.unsqueeze(1).expand(n, N - 1), 1)                             # (n, N-1)
    result = cat([ones, powers], 1)                                                  # (n, N)
    return result if increasing else result.flip(1)


# ---- finite differences: torch.gradient ----------------------------------------------------------
def _gradient_dims(input, dim):
    if dim is None:
        return list(range(input.ndim))
    dims = [dim] if isinstance(dim, numbers.Integral) else list(dim)
    dims = [norm_dim(d, input.ndim, "gradient") for d in dims]
    for d in dims:
        if dims.count(d) > 1:
            raise RuntimeError(f"gradient: dim {d} appears multiple times in the list of dims")
    return dims


def _spacing_item(input, item, d):
    """One entry of a spacing list: a number (the step) or a 1-D tensor of coordinates."""
    if isinstance(item, Tensor) and item.ndim == 0:
        item = item.item()
    if isinstance(item, Tensor):
        if item.ndim != 1 or item.shape[0] != input.shape[d]:
            raise RuntimeError(f"gradient: expected the coordinates of dim {d} to be a 1-D "
                               f"tensor of {input.shape[d]} values, got shape "
                               f"{tuple(item.shape)}")
        return item
    if isinstance(item, bool) or not isinstance(item, numbers.Real):
        raise TypeError(f"gradient: expected spacing to hold numbers or 1-D coordinate tensors, "
                        f"got {type(item).__name__}")
    return item


def _gradient_spacing(input, spacing, dim, dims):
    """spacing (a number, a 0-d tensor, or a list with one entry per dim) -> one entry per dim."""
    if isinstance(spacing, Tensor) and spacing.ndim == 0:
        spacing = spacing.item()
    if not isinstance(spacing, (list, tuple)):
        return [_spacing_item(input, spacing, d) for d in dims]
    if dim is None and len(spacing) != input.ndim:
        raise RuntimeError(f"gradient: expected spacing to be unspecified, a scalar, or a list of "
                           f"length equal to 'self.dim() = {input.ndim}', since dim argument was "
                           f"not given, but got a list of length {len(spacing)}")
    if dim is not None and len(spacing) != len(dims):
        raise RuntimeError(f"gradient: expected spacing to be unspecified, a scalar or it's "
                           f"spacing and dim arguments to have the same length, but got a "
                           f"spacing argument of length {len(spacing)} and a dim argument of "
                           f"length {len(dims)}.")
    return [_spacing_item(input, item, d) for item, d in zip(spacing, dims)]


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates of the partial derivatives of the function sampled by input, one tensor per dim
    (all dims, or those of `dim`): central differences inside, one-sided differences of
    `edge_order` (1 or 2) at the ends. spacing: a number (the step of every dim), a list of
    numbers (one per dim), or a list of 1-D tensors (each dim's sample coordinates, unevenly
    spaced allowed). Differentiable in input and in coordinate tensors.

    Where tinygen differs: coordinates whose length is not the dim's size raise (PyTorch reads
    them without a check)."""
    _check_tensor("gradient", "input", input)
    if input.dtype == _dt.uint8:
        raise RuntimeError("gradient: torch.gradient does not support uint8 input.")
    dims = _gradient_dims(input, dim)
    steps = _gradient_spacing(input, spacing, dim, dims)
    if edge_order not in (1, 2):
        raise RuntimeError(f"gradient: only supports edge_order=1 and edge_order=2, got "
                           f"{edge_order}")
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError(f"gradient: expected each dimension size to be at least "
                               f"edge_order+1 = {edge_order + 1}, got dim {d} of size "
                               f"{input.shape[d]} (input of shape {tuple(input.shape)})")
    return tuple(_coordinate_gradient(input, d, h, edge_order) if isinstance(h, Tensor)
                 else _uniform_gradient(input, d, h, edge_order) for d, h in zip(dims, steps))


def _part(x, d, start, length):
    """x's slab [start, start + length) along d (a negative start counts from the end)."""
    return x.narrow(d, start if start >= 0 else x.shape[d] + start, length)


def _uniform_gradient(x, d, h, edge_order):
    n = x.shape[d]
    center = (_part(x, d, 2, n - 2) - _part(x, d, 0, n - 2)) / h
    if edge_order == 1:
        before = (_part(x, d, 1, 1) - _part(x, d, 0, 1)) / h
        after = (_part(x, d, -1, 1) - _part(x, d, -2, 1)) / h
    else:                                   # second-order one-sided stencils (-3/2, 2, -1/2)
        before = (_part(x, d, 0, 1) * -1.5 + _part(x, d, 1, 1) * 2 - _part(x, d, 2, 1) * 0.5) / h
        after = (_part(x, d, -3, 1) * 0.5 + _part(x, d, -2, 1) * -2 + _part(x, d, -1, 1) * 1.5) / h
    return cat([before, center / 2, after], d)


def _coordinate_gradient(x, d, coords, edge_order):
    """Second-order differences on uneven coordinates (numpy.gradient's, as PyTorch's):
    f'(x_i) ~ a f_{i-1} + b f_i + c f_{i+1} with steps h1 = x_i - x_{i-1}, h2 = x_{i+1} - x_i."""
    n = x.shape[d]
    steps = diff(coords)                                                  # (n - 1,)
    h1, h2 = steps[:-1], steps[1:]                                        # (n - 2,) each
    shape = [1] * x.ndim
    shape[d] = -1                                                         # along d
    a = (-h2 / (h1 * (h1 + h2))).reshape(shape)
    b = ((h2 - h1) / (h1 * h2)).reshape(shape)
    c = (h1 / (h2 * (h1 + h2))).reshape(shape)
    center = a * _part(x, d, 0, n - 2) + b * _part(x, d, 1, n - 2) + c * _part(x, d, 2, n - 2)
    if edge_order == 1:
        before = (_part(x, d, 1, 1) - _part(x, d, 0, 1)) / steps[0]
        after = (_part(x, d, -1, 1) - _part(x, d, -2, 1)) / steps[-1]
    else:
        s0, s1 = steps[0], steps[1]
        before = (-(2.0 * s0 + s1) / (s0 * (s0 + s1)) * _part(x, d, 0, 1)
                  + (s0 + s1) / (s0 * s1) * _part(x, d, 1, 1)
                  - s0 / (s1 * (s0 + s1)) * _part(x, d, 2, 1))
        last, prev = steps[-1], steps[-2]
        after = (last / (prev * (last + prev)) * _part(x, d, -3, 1)
                 - (last + prev) / (last * prev) * _part(x, d, -2, 1)
                 + (2 * last + prev) / (last * (last + prev)) * _part(x, d, -1, 1))
    return cat([before, center, after], d)


# ---- the trapezoidal rule ------------------------------------------------------------------------
def _integration_dim(op, y, x, dx, dim):
    _check_tensor(op, "y", y)
    if x is not None and dx is not None:
        raise TypeError(f"{op}(): pass either x (the sample points) or dx (their spacing), not "
                        "both")
    if x is not None:
        _check_tensor(op, "x", x)
    if dx is not None and (isinstance(dx, bool) or not isinstance(dx, numbers.Real)):
        raise RuntimeError(f"{op}: Currently, we only support dx as a real number, got {dx!r}")
    if y.ndim == 0:
        raise IndexError(f"{op}: Dimension specified as {dim} but tensor has no dimensions")
    return norm_dim(dim, y.ndim, op)


def _check_not_bool(op, y, x):
    if y.dtype == _dt.bool_ or (x is not None and x.dtype == _dt.bool_):
        raise RuntimeError(f"{op}: received a bool input for `x` or `y`, but bool is not "
                           "supported")


def _sample_steps(op, y, x, d):
    """x_{i+1} - x_i along d, x viewed against y as PyTorch does (a 1-D x along d, a shorter x
    padded with leading 1-dims) and left to broadcast with y's differences."""
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point (x of "
                               f"length {x.shape[0]}, y of shape {tuple(y.shape)} along dim {d})")
        shape = [1] * y.ndim
        shape[d] = x.shape[0]
        x = x.reshape(shape)
    elif x.ndim < y.ndim:
        x = x.reshape((1,) * (y.ndim - x.ndim) + tuple(x.shape))
    n = x.shape[d]
    if n == 0:
        return x
    return x.narrow(d, 1, n - 1) - x.narrow(d, 0, n - 1)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of the samples y along dim by the trapezoidal rule: at the points x (1-D
    along dim, or broadcasting with y) or evenly spaced by dx (default 1). No samples give 0.
    Integer y gives the default float dtype, as PyTorch."""
    op = "trapezoid"
    d = _integration_dim(op, y, x, dx, dim)
    n = y.shape[d]
    if n == 0:
        shape = tuple(s for k, s in enumerate(y.shape) if k != d)
        return _creation.zeros(shape, dtype=y.dtype, device=y.device)
    _check_not_bool(op, y, x)
    if x is None:       # sum(y) - (y_0 + y_n) / 2, times the spacing
        ends = y.narrow(d, 0, 1).squeeze(d) + y.narrow(d, n - 1, 1).squeeze(d)
        return (y.sum(d) - ends * 0.5) * (1 if dx is None else dx)
    steps = _sample_steps(op, y, x, d)
    return ((y.narrow(d, 0, n - 1) + y.narrow(d, 1, n - 1)) * steps).sum(d) / 2.0


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of trapezoid (PyTorch's older name)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral of y along dim (one value fewer than y has samples),
    at the points x or evenly spaced by dx (default 1)."""
    op = "cumulative_trapezoid"
    d = _integration_dim(op, y, x, dx, dim)
    _check_not_bool(op, y, x)
    n = y.shape[d]
    pairs = y.narrow(d, 0, max(n - 1, 0)) + y.narrow(d, min(1, n), max(n - 1, 0))
    if x is None:
        return ((1 if dx is None else dx) / 2.0 * pairs).cumsum(d)
    return (pairs * _sample_steps(op, y, x, d)).cumsum(d) / 2.0


# ---- out-of-place scatters into a region ---------------------------------------------------------
def _scatter_checks(op, input, src):
    _check_tensor(op, "input", input)
    _check_tensor(op, "src", src)
    if input.device != src.device:
        raise RuntimeError(f"{op}: expected input and src on one device, got {input.device} "
                           f"and {src.device}")


def _check_region(op, src, region_shape):
    if tuple(src.shape) != tuple(region_shape):
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src "
                           f"size = {list(src.shape)}, slice size = {list(region_shape)}")


def select_position(op, input, dim, index):
    """(dim, index) of input.select(dim, index) checked as PyTorch checks them: dim normalised,
    index an int in [-size, size) (as given: negative counts from the end)."""
    if input.ndim == 0:
        raise IndexError(f"{op}: select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, op)
    size, index = input.shape[d], operator.index(index)
    if not -size <= index < size:
        raise IndexError(f"{op}: select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return d, index


def select_scatter(input, src, dim, index):
    """A copy of input with input.select(dim, index) replaced by src (of that slice's shape);
    src is cast to input's dtype. Gradients: src gets the slice's, input the rest."""
    op = "select_scatter"
    _scatter_checks(op, input, src)
    d, index = select_position(op, input, dim, index)
    size = input.shape[d]
    _check_region(op, src, input.shape[:d] + input.shape[d + 1:])
    region = IndexRegion((slice(None),) * d + (index % size,))
    return RegionScatter.apply(input, src, region)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of input with the slice start:end:step of dim replaced by src (of that slice's
    shape; start and end as Python slices take them, step > 0)."""
    op = "slice_scatter"
    _scatter_checks(op, input, src)
    if input.ndim == 0:
        raise IndexError(f"{op}: slice() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, op)
    if step <= 0:
        raise RuntimeError(f"{op}: slice step must be positive, got {step}")
    window = slice(start, end, step)
    length = len(range(*window.indices(input.shape[d])))
    _check_region(op, src, input.shape[:d] + (length,) + input.shape[d + 1:])
    return RegionScatter.apply(input, src, IndexRegion((slice(None),) * d + (window,)))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of input with its diagonal `offset` of the planes (dim1, dim2) replaced by src
    (of input.diagonal(offset, dim1, dim2)'s shape: the other dims, then the diagonal)."""
    op = "diagonal_scatter"
    _scatter_checks(op, input, src)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: expected input of at least 2 dims, got shape "
                           f"{tuple(input.shape)}")
    d1, d2 = norm_dim(dim1, input.ndim, op), norm_dim(dim2, input.ndim, op)
    if d1 == d2:
        raise RuntimeError(f"{op}: dim1 and dim2 cannot be the same (both {d1})")
    rows, _ = _diagonal_index(input.shape, int(offset), d1, d2)
    others = tuple(s for k, s in enumerate(input.shape) if k not in (d1, d2))
    _check_region(op, src, others + (len(rows),))
    return RegionScatter.apply(input, src, DiagonalRegion(int(offset), d1, d2))


# PyTorch's Tensor methods of these (tensor.py stays thin: they are set here, as legacy.py does)
Tensor.select_scatter = select_scatter
Tensor.slice_scatter = slice_scatter
Tensor.diagonal_scatter = diagonal_scatter
Tensor.frexp = frexp
Tensor.i0, Tensor.igamma, Tensor.igammac = i0, igamma, igammac
i0_, igamma_, igammac_ = twin("i0"), twin("igamma"), twin("igammac")
Tensor.i0_, Tensor.igamma_, Tensor.igammac_ = i0_, igamma_, igammac_
