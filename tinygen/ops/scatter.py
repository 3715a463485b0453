"""Writing at indices, as torch.*: scatter (a src tensor or a value, and reduce='add' |
'multiply'), index_add, index_copy, index_fill, index_put, masked_scatter, put; and reading:
masked_select, take, take_along_dim (scatter_reduce and index_reduce: scatter_reduce.py). All out of place here; the in-place forms (scatter_, index_add_...) write
the result through ops/inplace.py.

Gradients follow the read/write adjoint pairs of index.py: what was written reads its gradient
back (Gather, IndexSelect, GetItem) and what was overwritten gets zero (a mask), so each op is
differentiable to any order. With repeated indices, index_copy and put keep the last write
(PyTorch's CPU result); scatter keeps one of them (which one is unspecified, as in PyTorch).

Indices follow PyTorch op by op: scatter, index_add, index_copy (and scatter_reduce,
index_reduce) take them in [0, size); index_fill, index_put, put and take also count negative
ones from the end. Anything else is an IndexError naming the op, the dim, its size and the index.
Where tinygen differs, deliberately: an index out of range is refused even where nothing is
written (index_add into a size-0 dim, x[idx] = v or x[idx] with an empty slice beside it),
where PyTorch skips its check.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, wrap
from ..autograd import function as _fn
from ..autograd.grad_mode import GRAD
from ..backend.device import array_module
from .args import norm_dim
from .binary import where
from .convert import to
from .index import (Gather, IndexAdd, IndexAddAt, IndexSelect, MaskedFill, ScatterAdd, SetItem,
                    _along, gather, index_array, masked_fill, scalar_as)
from .shape import Pad, expand


class Scatter(Function):
    """input with src (or a scalar value) written at index along dim: out[i][index[i][j]] =
    src[i][j] for dim 1. input's gradient is zero where written; src's is gy gathered back."""

    def forward(self, x, dim, index, src):
        self.dim, self.index = dim, index
        out = x.copy()
        where_ = _along(self.xp, index, dim)
        if hasattr(src, "shape"):
            self.src_shape = src.shape
            out[where_] = src[tuple(slice(0, s) for s in index.shape)]
        else:
            self.src_shape = None
            out[where_] = scalar_as(src, out.dtype)
        written = self.xp.zeros(x.shape, dtype=bool)
        written[where_] = True
        self.written = written
        return out

    def backward(self, gy):
        gx = MaskedFill.apply(gy, self.written, 0.0) if self.inputs[0] is not None else None
        gsrc = None
        if self.src_shape is not None and self.inputs[3] is not None:
            gsrc = Gather.apply(gy, self.dim, self.index)
            if tuple(gsrc.shape) != tuple(self.src_shape):
                pads = tuple((0, s - g) for s, g in zip(self.src_shape, gsrc.shape))
                gsrc = Pad.apply(gsrc, pads, 0.0)
        return gx, None, None, gsrc


def _check_index(op, input, dim, index, src=None):
    """scatter's and scatter_reduce's (dim, index array), checked: index has input's number of
    dims, is no larger than input outside dim nor than src, and its entries lie in [0, size)
    (PyTorch takes no negative indices here)."""
    d = norm_dim(dim, input.ndim, op)
    idx = index_array(index, op)
    if not idx.size:                         # nothing is written: no check (as PyTorch, and
        return d, idx                        # as scatter_add here)
    if idx.ndim != max(input.ndim, 1) and idx.size:
        raise RuntimeError(f"{op}: index has {idx.ndim} dims but the input has {input.ndim} "
                           f"(input {tuple(input.shape)}, index {tuple(idx.shape)})")
    shape = input.shape if input.ndim else (1,)
    for k, (i, s) in enumerate(zip(idx.shape, shape)):
        if k != d and i > s:
            raise RuntimeError(f"{op}: index {tuple(idx.shape)} is larger than the input "
                               f"{tuple(input.shape)} in dim {k}")
    if src is not None and hasattr(src, "shape") and any(
            i > s for i, s in zip(idx.shape, src.shape)):
        raise RuntimeError(f"{op}: index {tuple(idx.shape)} is larger than src "
                           f"{tuple(src.shape)}")
    _check_range(op, idx, d, shape[d], input.shape)
    return d, idx


def _check_range(op, idx, d, n, shape, negatives=False):
    """An IndexError naming op, dim d, its size n and the first bad index, if any index falls
    outside [0, n) (or [-n, n) for the ops whose PyTorch twin wraps negative indices)."""
    if not idx.size:
        return
    low = -n if negatives else 0
    bad = (idx < low) | (idx >= n)
    if bool(bad.any()):
        first = int(idx[bad].reshape(-1)[0])
        rule = "" if negatives or first >= 0 else "; it takes no negative indices, as in PyTorch"
        raise IndexError(f"{op}: index {first} is out of bounds for dim {d} of size {n} (input "
                         f"{tuple(shape)}{rule})")


def _same_dtype(op, input, other, what):
    """PyTorch's refusal of a {what} whose dtype is not input's (no silent cast)."""
    if isinstance(other, _fn.Tensor) and other._data.dtype != input._data.dtype:
        raise RuntimeError(f"{op}: expected self and {what} to have the same dtype, but got "
                           f"(self) {input.dtype} and ({what}) {other.dtype}")


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """input with src's elements (or `value`) written at `index` along dim:
    out[index[i][j][k]][j][k] = src[i][j][k] for dim 0 (and likewise for the others).
    reduce='add' or 'multiply' combines with what is there instead (no gradient for multiply,
    as in PyTorch)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: expected src (a tensor) or value (a number)")
    d, idx = _check_index("scatter", input, dim, index, src)
    _same_dtype("scatter()", input, src, "src")
    if isinstance(src, _fn.Tensor) and src.ndim == 0:
        src = src.item()
    if reduce is None:
        return Scatter.apply(input, d, idx, src)
    if reduce == "add":
        if not isinstance(src, _fn.Tensor):
            src = wrap(array_module(input._data).full(idx.shape, scalar_as(src, input._data.dtype)))
        return ScatterAdd.apply(input, d, idx, src)
    if reduce == "multiply":
        return _scatter_multiply(input, d, idx, src)
    raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")


def _scatter_multiply(input, d, idx, src):
    tracked = input._requires_grad or (isinstance(src, _fn.Tensor) and src._requires_grad)
    if tracked and GRAD.enabled:
        raise RuntimeError("scatter(reduce='multiply'): the derivative is not implemented "
                           "(as in PyTorch); scatter_reduce(..., 'prod') has one, or detach the "
                           "inputs")
    xp = array_module(input._data)
    out = input._data.copy()
    values = src._data[tuple(slice(0, s) for s in idx.shape)] if isinstance(src, _fn.Tensor) \
        else xp.full(idx.shape, src, out.dtype)
    if xp.__name__ == "cupy":
        raise NotImplementedError("scatter(reduce='multiply') runs on the CPU only")
    np.multiply.at(out, _along(xp, idx, d), values)
    return wrap(out)


def index_add(input, dim, index, source, alpha=1):
    """input with alpha * source's slices added at `index` (0-d or 1-D, each in [0, size))
    along dim; repeats accumulate."""
    if input.ndim == 0:                        # a 0-d input is a vector of one slot
        return index_add(input.reshape(1), dim, index, source.reshape(-1), alpha).reshape(())
    if input._data.dtype == np.bool_ and source._data.dtype == np.bool_:
        # bools add as a logical or (PyTorch; a nonzero alpha is True): the result stays bool
        return index_add(input.long(), dim, index, source.long(), 1 if alpha else 0) != 0
    d = norm_dim(dim, input.ndim, "index_add")
    _same_dtype("index_add_()", input, source, "source")
    idx = _vector_index("index_add", input, d, index, source)
    src = source if alpha == 1 else source * alpha
    return input + IndexAdd.apply(_source_slices(src, input), tuple(input.shape), d, idx)


class IndexCopy(Function):
    """input with its slices at `index` along dim replaced by source's. A repeated index keeps
    the last of its slices (PyTorch's CPU order, made explicit here rather than left to NumPy's
    assignment order). input's gradient is gy zeroed at the written slices; source's is gy read
    back at `index` for every source slice, the overwritten ones too: PyTorch's rule
    (index_select of gy), which disagrees with its own forward for repeated indices."""

    def forward(self, x, dim, index, src):
        xp = self.xp
        self.dim, self.index = dim, index
        last = _last_occurrences(xp, index)
        out = x.copy()
        out[(slice(None),) * dim + (index[last],)] = xp.take(src, last, axis=dim)
        written = xp.zeros(x.shape[dim], dtype=bool)
        written[index] = True
        self.written = written.reshape((-1,) + (1,) * (x.ndim - dim - 1))   # broadcasts to x
        return out

    def backward(self, gy):
        gx = MaskedFill.apply(gy, self.written, 0.0) if self.inputs[0] is not None else None
        gsrc = IndexSelect.apply(gy, self.dim, self.index) if self.inputs[3] is not None else None
        return gx, None, None, gsrc


def _last_occurrences(xp, index):
    """The positions in `index` of each distinct value's last occurrence (ascending by value):
    with repeats, the write that a sequential loop leaves in place."""
    if index.size == 0:
        return xp.zeros(0, dtype=np.int64)
    _, first_from_end = xp.unique(index[::-1], return_index=True)
    return index.shape[0] - 1 - first_from_end


def index_copy(input, dim, index, source):
    """input with its slices at `index` (0-d or 1-D, each in [0, size)) along dim replaced by
    source's; with a repeated index the last of its slices is kept (see IndexCopy for the
    gradient)."""
    if input.ndim == 0:
        return index_copy(input.reshape(1), dim, index, source.reshape(-1)).reshape(())
    d = norm_dim(dim, input.ndim, "index_copy")
    _same_dtype("index_copy_()", input, source, "source")
    idx = _vector_index("index_copy", input, d, index, source)
    return IndexCopy.apply(input, d, idx, _source_slices(source, input))


def index_fill(input, dim, index, value):
    """input with its slices at `index` along dim set to value: a number, or a 0-d tensor, which
    then gets a gradient (the sum of gy over the filled slots), as in PyTorch. index is 0-d or
    1-D; negative indices count from the end (PyTorch's index_fill wraps them, unlike index_add
    and index_copy)."""
    d = norm_dim(dim, input.ndim, "index_fill")
    idx = index_array(index, "index_fill")
    if idx.ndim > 1:
        raise IndexError(f"index_fill: index must be a vector (0-d or 1-D), got shape "
                         f"{tuple(idx.shape)}")
    idx = idx.reshape(-1)
    n = input.shape[d] if input.ndim else 1
    _check_range("index_fill", idx, d, n, input.shape, negatives=True)
    mask = np.zeros(n, dtype=bool)
    mask[np.asarray(idx.get() if hasattr(idx, "get") else idx) % max(n, 1)] = True
    shape = [1] * input.ndim
    if input.ndim:
        shape[d] = n
    mask = input.device.xp.asarray(mask.reshape(shape))
    if not isinstance(value, _fn.Tensor):
        return masked_fill(input, wrap(mask), value)
    if value.ndim != 0:
        raise RuntimeError(f"index_fill: expected a number or a 0-d value tensor, got shape "
                           f"{tuple(value.shape)}")
    # where() rather than masked_fill(value.item()): the value stays in the graph
    return where(wrap(mask), to(value, input.dtype), input)


def _vector_index(op, input, d, index, source):
    """index_add's / index_copy's / index_reduce's index as a 1-D array, checked: 0-d or 1-D,
    every entry in [0, size) (PyTorch raises on negative ones for these ops), and source of the
    input's shape with index's length along d."""
    idx = index_array(index, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}: index must be a vector (0-d or 1-D), got shape "
                         f"{tuple(idx.shape)}")
    idx = idx.reshape(-1)
    expected = tuple(input.shape[:d]) + (idx.shape[0],) + tuple(input.shape[d + 1:])
    if tuple(source.shape) != expected and not (source.ndim == 0 and expected == (1,)):
        raise RuntimeError(f"{op}: expected source of shape {expected} (input "
                           f"{tuple(input.shape)}, {idx.shape[0]} indices along dim {d}), got "
                           f"{tuple(source.shape)}")
    _check_range(op, idx, d, input.shape[d], input.shape)
    return idx


def _source_slices(source, input):
    """source with the input's number of dims (a 0-d source of one slice becomes shape (1,))."""
    return source.reshape(1) if source.ndim == 0 and input.ndim == 1 else source


def masked_scatter(input, mask, source):
    """input with the positions where mask is True filled, in row-major order, from the first
    mask.sum() elements of source. mask and input broadcast together (as PyTorch's out-of-place
    masked_scatter: a mask with more dims than input gives the larger shape; the in-place form
    then refuses the shape change)."""
    m = mask._data if isinstance(mask, _fn.Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter: expected a bool mask, got {m.dtype}")
    _same_dtype("masked_scatter", input, source, "source")
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(m.shape))
    except ValueError:
        raise RuntimeError(f"masked_scatter: mask {tuple(m.shape)} and input "
                           f"{tuple(input.shape)} do not broadcast together") from None
    xp = array_module(input._data)
    x = expand(input, shape) if tuple(input.shape) != shape else input
    m = xp.broadcast_to(m, shape)
    positions = xp.flatnonzero(m)
    k = int(positions.shape[0])
    if source.numel() < k:
        raise RuntimeError(f"masked_scatter: source has {source.numel()} elements but the mask "
                           f"selects {k}")
    values = source.reshape(-1)[:k]
    placed = IndexAddAt.apply(values, (x.numel(),), (positions,), False).reshape(shape)
    return where(wrap(m), placed, x)


def masked_select(input, mask):
    """The elements of input where mask is True (the two broadcast), as a 1-D tensor."""
    m = mask._data if isinstance(mask, _fn.Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected a bool mask, got {m.dtype}")
    shape = np.broadcast_shapes(tuple(input.shape), tuple(m.shape))
    x = expand(input, shape) if tuple(input.shape) != shape else input
    return x[array_module(m).broadcast_to(m, shape)]


def take(input, index):
    """input, flattened, read at `index` (any shape; negative indices count from the end)."""
    idx = index_array(index, "take")
    n = input.numel()
    if idx.size and (bool((idx < -n).any()) or bool((idx >= n).any())):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    return input.reshape(-1)[idx % max(n, 1)]


def take_along_dim(input, indices, dim=None):
    """gather along dim after broadcasting input and indices over the other dims (flattened
    input when dim is None)."""
    idx = index_array(indices, "take_along_dim")
    if dim is None:
        return take(input.reshape(-1), wrap(idx.reshape(-1)))
    d = norm_dim(dim, input.ndim, "take_along_dim")
    if idx.ndim != input.ndim:
        raise RuntimeError(f"take_along_dim: input {tuple(input.shape)} and indices "
                           f"{tuple(idx.shape)} must have the same number of dims")
    shape_x, shape_i = list(input.shape), list(idx.shape)
    shape_x[d] = shape_i[d] = 1
    common = list(np.broadcast_shapes(tuple(shape_x), tuple(shape_i)))
    x_shape, i_shape = list(common), list(common)
    x_shape[d], i_shape[d] = input.shape[d], idx.shape[d]
    x = expand(input, tuple(x_shape))
    idx = array_module(idx).broadcast_to(idx, tuple(i_shape))
    return gather(x, d, wrap(idx % max(input.shape[d], 1)))


def put(input, index, source, accumulate=False):
    """input, flattened, with source written (or added, accumulate=True) at `index`; negative
    indices count from the end, as in PyTorch's put. With a repeated index and
    accumulate=False the last write wins (index_copy's rule and gradient)."""
    flat = input.reshape(-1)
    idx = index_array(index, "put").reshape(-1)
    n = flat.shape[0]
    if source.numel() != idx.shape[0]:
        raise IndexError(f"put: expected source and index to have the same number of "
                         f"elements, got source {tuple(source.shape)} and index "
                         f"{tuple(idx.shape)}")
    if idx.size and (bool((idx < -n).any()) or bool((idx >= n).any())):
        bad = int(idx[(idx < -n) | (idx >= n)].reshape(-1)[0])
        raise IndexError(f"put: index {bad} is out of range for a tensor of {n} elements "
                         f"(input {tuple(input.shape)})")
    idx = wrap(idx % n if n else idx)
    src = source.reshape(-1)
    out = index_add(flat, 0, idx, src) if accumulate else index_copy(flat, 0, idx, src)
    return out.reshape(input.shape)


def index_put(input, indices, values, accumulate=False):
    """input with values written (or added, accumulate=True) at input[indices], indices a tuple
    (or list) of integer or bool tensors as in advanced indexing, one per leading dim indexed;
    values (input's dtype, as PyTorch requires; a Python number is taken too) broadcast to the
    selection. Negative indices count from the end; one out of range raises an IndexError naming
    the dim. A bare tensor or a None as indices is refused, as PyTorch's binding refuses it."""
    _check_index_put_args(input, indices, values)
    idx = tuple(i._data for i in indices)
    _check_put_indices(input, idx)
    selected = tuple(input._data[idx].shape)
    v = values if isinstance(values, _fn.Tensor) else wrap(
        array_module(input._data).asarray(values, dtype=input._data.dtype))
    v = expand(v, selected) if tuple(v.shape) != selected else v
    if accumulate:
        return input + IndexAddAt.apply(v, tuple(input.shape), idx, False)
    return SetItem.apply(input, idx, v)


def _check_index_put_args(input, indices, values):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    for k, index in enumerate(indices):
        if not isinstance(index, _fn.Tensor):
            raise TypeError(f"index_put(): expected Tensor as element {k} in argument "
                            f"'indices', but got {type(index).__name__}")
        if index.dtype.is_floating_point:
            raise IndexError(f"index_put: tensors used as indices must be long, int, byte or "
                             f"bool tensors, got {index.dtype} at position {k}")
    if isinstance(values, _fn.Tensor) and values.dtype != input.dtype:
        raise RuntimeError(f"index_put: Index put requires the source and destination dtypes "
                           f"match, got {input.dtype} for the destination and {values.dtype} "
                           "for the source.")


def _check_put_indices(input, idx):
    """index_put's indices against input's shape: an integer index in [-size, size) of the dim it
    indexes, a bool one of the shape of the dims it covers, no more dims than input has. (Other
    entries, None or slices, end the check: NumPy's indexing judges the rest.)"""
    shape, dim = tuple(input.shape), 0
    for entry in idx:
        arr = np.asarray(entry) if isinstance(entry, (list, int, np.integer)) else entry
        if not hasattr(arr, "dtype") or arr.dtype.kind not in "biu":
            return
        covers = arr.ndim if arr.dtype.kind == "b" else 1
        if dim + covers > len(shape):
            raise IndexError(f"index_put: too many indices for a tensor of {len(shape)} dims "
                             f"(input {shape}, indices {len(idx)})")
        if arr.dtype.kind == "b":
            if tuple(arr.shape) != shape[dim:dim + covers]:
                raise IndexError(f"index_put: the bool index of shape {tuple(arr.shape)} does "
                                 f"not match dims {dim}..{dim + covers - 1} of the input {shape}")
        else:
            _check_range("index_put", arr, dim, shape[dim], shape, negatives=True)
        dim += covers
