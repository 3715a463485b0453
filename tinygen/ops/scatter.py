"""Writing at indices, as torch.*: scatter (a src tensor or a value, and reduce='add' |
'multiply'), index_add, index_copy, index_fill, index_put, masked_scatter, put; and reading:
masked_select,
take, take_along_dim. All out of place here; the in-place forms (scatter_, index_add_...) write
the result through ops/inplace.py.

Gradients follow the read/write adjoint pairs of index.py: what was written reads its gradient
back (Gather, IndexSelect, GetItem) and what was overwritten gets zero (a mask), so each op is
differentiable to any order. With repeated indices, scatter and index_copy keep one of the
written values (which one is unspecified, as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, wrap
from ..autograd import function as _fn
from ..autograd.grad_mode import GRAD
from ..backend.device import array_module
from .args import norm_dim
from .binary import where
from .index import (Gather, IndexAdd, IndexAddAt, MaskedFill, ScatterAdd, SetItem, _along,
                    gather, index_array, masked_fill)
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
            out[where_] = src
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
    d = norm_dim(dim, input.ndim, op)
    idx = index_array(index, op)
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
    if idx.size and (bool((idx < -shape[d]).any()) or bool((idx >= shape[d]).any())):
        raise IndexError(f"{op}: index out of range for dim {d} of size {shape[d]} (input "
                         f"{tuple(input.shape)})")
    return d, idx % shape[d] if idx.size else idx


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
    if isinstance(src, _fn.Tensor) and src.ndim == 0:
        src = src.item()
    if reduce is None:
        return Scatter.apply(input, d, idx, src)
    if reduce == "add":
        if not isinstance(src, _fn.Tensor):
            src = wrap(array_module(input._data).full(idx.shape, src, input._data.dtype))
        return ScatterAdd.apply(input, d, idx, src)
    if reduce == "multiply":
        return _scatter_multiply(input, d, idx, src)
    raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")


def _scatter_multiply(input, d, idx, src):
    tracked = input._requires_grad or (isinstance(src, _fn.Tensor) and src._requires_grad)
    if tracked and GRAD.enabled:
        raise RuntimeError("scatter(reduce='multiply'): the derivative is not implemented "
                           "(as in PyTorch); use scatter_reduce-free math or detach the inputs")
    xp = array_module(input._data)
    out = input._data.copy()
    values = src._data[tuple(slice(0, s) for s in idx.shape)] if isinstance(src, _fn.Tensor) \
        else xp.full(idx.shape, src, out.dtype)
    if xp.__name__ == "cupy":
        raise NotImplementedError("scatter(reduce='multiply') runs on the CPU only")
    np.multiply.at(out, _along(xp, idx, d), values)
    return wrap(out)


def index_add(input, dim, index, source, alpha=1):
    """input with alpha * source's slices added at `index` along dim (repeats accumulate)."""
    d = norm_dim(dim, input.ndim, "index_add")
    idx = _vector_index("index_add", input, d, index, source)
    src = source if alpha == 1 else source * alpha
    return input + IndexAdd.apply(src, tuple(input.shape), d, idx)


def index_copy(input, dim, index, source):
    """input with its slices at `index` along dim replaced by source's."""
    d = norm_dim(dim, input.ndim, "index_copy")
    idx = _vector_index("index_copy", input, d, index, source)
    return index_fill(input, d, wrap(idx), 0) + IndexAdd.apply(source, tuple(input.shape), d, idx)


def index_fill(input, dim, index, value):
    """input with its slices at `index` along dim set to value (a number or a 0-d tensor)."""
    d = norm_dim(dim, input.ndim, "index_fill")
    idx = index_array(index, "index_fill").reshape(-1)
    n = input.shape[d] if input.ndim else 1
    mask = np.zeros(n, dtype=bool)
    mask[np.asarray(idx.get() if hasattr(idx, "get") else idx) % max(n, 1)] = True
    shape = [1] * input.ndim
    if input.ndim:
        shape[d] = n
    mask = input.device.xp.asarray(mask.reshape(shape))
    if isinstance(value, _fn.Tensor):
        value = value.item()
    return masked_fill(input, wrap(mask), value)


def _vector_index(op, input, d, index, source):
    idx = index_array(index, op).reshape(-1)
    n = input.shape[d]
    expected = tuple(input.shape[:d]) + (idx.shape[0],) + tuple(input.shape[d + 1:])
    if tuple(source.shape) != expected:
        raise RuntimeError(f"{op}: expected source of shape {expected} (input "
                           f"{tuple(input.shape)}, {idx.shape[0]} indices along dim {d}), got "
                           f"{tuple(source.shape)}")
    if idx.size and (bool((idx < -n).any()) or bool((idx >= n).any())):
        raise IndexError(f"{op}: index out of range for dim {d} of size {n}")
    return idx % n if idx.size else idx


def masked_scatter(input, mask, source):
    """input with the positions where mask is True (mask broadcasts to input) filled, in
    row-major order, from the first mask.sum() elements of source."""
    m = mask._data if isinstance(mask, _fn.Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter: expected a bool mask, got {m.dtype}")
    xp = array_module(input._data)
    m = xp.broadcast_to(m, input.shape)
    positions = xp.flatnonzero(m)
    k = int(positions.shape[0])
    if source.numel() < k:
        raise RuntimeError(f"masked_scatter: source has {source.numel()} elements but the mask "
                           f"selects {k}")
    values = source.reshape(-1)[:k]
    placed = IndexAddAt.apply(values, (input.numel(),), (positions,), False).reshape(input.shape)
    return where(wrap(m), placed, input)


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
    """input, flattened, with source written (or added, accumulate=True) at `index`."""
    flat = input.reshape(-1)
    idx = wrap(index_array(index, "put").reshape(-1))
    src = source.reshape(-1)
    out = index_add(flat, 0, idx, src) if accumulate else index_copy(flat, 0, idx, src)
    return out.reshape(input.shape)


def index_put(input, indices, values, accumulate=False):
    """input with values written (or added, accumulate=True) at input[indices], indices a tuple
    of integer (or bool) tensors as in advanced indexing; values broadcast to the selection."""
    idx = tuple(i._data if isinstance(i, _fn.Tensor) else i for i in indices)
    selected = tuple(input._data[idx].shape)
    v = values if isinstance(values, _fn.Tensor) else wrap(
        array_module(input._data).asarray(values, dtype=input._data.dtype))
    v = expand(v, selected) if tuple(v.shape) != selected else v
    if accumulate:
        return input + IndexAddAt.apply(v, tuple(input.shape), idx, False)
    return SetItem.apply(input, idx, v)
