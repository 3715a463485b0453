"""Indexing: x[idx], gather / scatter_add, index_select / index_add, masked_fill.

Each pair is the other's adjoint: reading at indices (GetItem, Gather, IndexSelect) has as
backward accumulating at the same indices (IndexAddAt, ScatterAdd, IndexAdd), whose backward reads
again. Accumulation (not assignment) makes repeated indices correct.
"""
from __future__ import annotations

import collections

import numpy as np

from ..autograd.function import Function, wrap
from ..autograd import function as _fn
from ..backend.device import array_module
from . import binary as _binary
from .args import norm_dim
from .shape import Pad, unbroadcast

values_indices = collections.namedtuple("values_indices", ["values", "indices"])


def _is_basic(idx):
    """True when idx has only ints, slices, None and Ellipsis (numpy basic indexing: no repeats)."""
    items = idx if type(idx) is tuple else (idx,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (int, slice))):
            return False
    return True


class GetItem(Function):
    def forward(self, x, idx):
        self.in_shape, self.idx, self.dtype = x.shape, idx, x.dtype
        self.basic = _is_basic(idx)
        return x[idx]

    @property
    def is_view(self):
        return self.basic

    def backward(self, gy):
        return IndexAddAt.apply(gy, self.in_shape, self.idx, self.basic), None


class IndexAddAt(Function):
    """zeros(shape) with gy added at [idx] (the adjoint of x[idx])."""

    def forward(self, gy, shape, idx, basic):
        self.idx = idx
        out = self.xp.zeros(shape, dtype=gy.dtype)
        if basic:
            out[idx] = gy
        else:
            _add_at(self.xp, out, idx, gy)
        return out

    def backward(self, gg):
        return GetItem.apply(gg, self.idx), None, None, None


def _add_at(xp, out, idx, values):
    if xp.__name__ == "cupy":
        import cupyx  # lazy: CuPy is optional
        cupyx.scatter_add(out, idx, values)
    else:                      # NumPy's ufunc (the test device's arrays are NumPy subclasses)
        np.add.at(out, idx, values)


def _along(xp, index, dim):
    """The full index tuple for an index array used along `dim` (gather / scatter semantics)."""
    grids = xp.indices(index.shape, sparse=True)
    return tuple(index if d == dim else g for d, g in enumerate(grids))


class Gather(Function):
    def forward(self, x, dim, index):
        self.in_shape, self.dim, self.index = x.shape, dim, index
        return x[_along(self.xp, index, dim)]

    def backward(self, gy):
        return ScatterAddNew.apply(gy, self.in_shape, self.dim, self.index), None, None


class ScatterAddNew(Function):
    """zeros(shape).scatter_add(dim, index, src)."""

    def forward(self, src, shape, dim, index):
        self.dim, self.index = dim, index
        out = self.xp.zeros(shape, dtype=src.dtype)
        _add_at(self.xp, out, _along(self.xp, index, dim), src[tuple(slice(0, s) for s in index.shape)])
        return out

    def backward(self, gg):
        return Gather.apply(gg, self.dim, self.index), None, None, None


class ScatterAdd(Function):
    """x.scatter_add(dim, index, src) out of place."""

    def forward(self, x, dim, index, src):
        self.dim, self.index = dim, index
        out = x.copy()
        _add_at(self.xp, out, _along(self.xp, index, dim), src[tuple(slice(0, s) for s in index.shape)])
        self.src_shape = src.shape
        return out

    def backward(self, gy):
        gsrc = None
        if self.inputs[3] is not None:
            g = Gather.apply(gy, self.dim, self.index)
            if g.shape != self.src_shape:
                pads = tuple((0, s - gs) for s, gs in zip(self.src_shape, g.shape))
                g = Pad.apply(g, pads, 0.0)
            gsrc = g
        return gy, None, None, gsrc


class IndexSelect(Function):
    def forward(self, x, dim, index):
        index = index.reshape(-1)                  # a 0-d index selects one slice, kept as 1
        self.in_shape, self.dim, self.index = x.shape, dim, index
        return self.xp.take(x, index, axis=dim)

    def backward(self, gy):
        return IndexAdd.apply(gy, self.in_shape, self.dim, self.index), None, None


class IndexAdd(Function):
    """zeros(shape) with gy's slices added at `index` along `dim` (adjoint of index_select)."""

    def forward(self, gy, shape, dim, index):
        self.dim, self.index = dim, index
        out = self.xp.zeros(shape, dtype=gy.dtype)
        idx = (slice(None),) * dim + (index,)
        _add_at(self.xp, out, idx, gy)
        return out

    def backward(self, gg):
        return IndexSelect.apply(gg, self.dim, self.index), None, None, None


class MaskedFill(Function):
    def forward(self, x, mask, value):
        self.mask = mask
        self.in_shape = x.shape
        return self.xp.where(mask, x.dtype.type(value), x)

    def backward(self, gy):
        return unbroadcast(MaskedFill.apply(gy, self.mask, 0.0), self.in_shape), None, None


class SetItem(Function):
    """x with x[idx] = value, out of place (item assignment inside a graph)."""

    def forward(self, x, idx, value):
        self.idx = idx
        self.value_shape = getattr(value, "shape", None)
        out = x.copy()
        out[idx] = value
        return out

    def backward(self, gy):
        gx = SetItem.apply(gy, self.idx, 0.0) if self.inputs[0] is not None else None
        gv = None
        if self.inputs[2] is not None:
            gv = unbroadcast(GetItem.apply(gy, self.idx), self.value_shape)
        return gx, None, gv


class Embedding(Function):
    """weight[indices]; the row `padding_idx` gets no gradient (as in PyTorch)."""

    def forward(self, weight, indices, padding_idx):
        num = weight.shape[0]
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= num):
            bad = indices[(indices < 0) | (indices >= num)].reshape(-1)[0]
            raise IndexError(f"index {int(bad)} is out of range for weight of shape "
                             f"{tuple(weight.shape)} (indices must be in [0, {num}))")
        self.num, self.indices, self.padding_idx = num, indices, padding_idx
        return weight[indices]

    def backward(self, gy):
        return EmbeddingBackward.apply(gy, self.num, self.indices, self.padding_idx), None, None


class EmbeddingBackward(Function):
    def forward(self, gy, num, indices, padding_idx):
        self.indices, self.padding_idx = indices, padding_idx
        dim = gy.shape[-1]
        # scatter-add of the rows of gy (no dense one-hot): the kernel table's embedding_bwd
        return self.kernel("embedding_bwd")(gy.reshape(-1, dim), indices.reshape(-1), num, padding_idx)

    def backward(self, gg):
        if self.padding_idx is not None:
            gg = MaskedFill.apply(gg, _row_mask(self.xp, gg.shape[0], self.padding_idx), 0.0)
        return Embedding.apply(gg, self.indices, None), None, None, None


def _row_mask(xp, n, row):
    m = xp.zeros((n, 1), dtype=bool)
    m[row] = True
    return m


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def convert_index(idx):
    """A Tensor index as its array (a 0-d integer one as an int), lists as arrays, recursively."""
    if isinstance(idx, _fn.Tensor):
        return idx._data if idx.ndim > 0 or idx._data.dtype.kind == "b" else int(idx.item())
    if isinstance(idx, tuple):
        return tuple(convert_index(i) for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def getitem(input, idx):
    return GetItem.apply(input, convert_index(idx))


def index_array(index, op):
    """An integer index (Tensor or array-like) as an array, or an IndexError naming the op."""
    arr = index._data if isinstance(index, _fn.Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise IndexError(f"{op}: expected an integer (int64) index tensor, got {arr.dtype}")
    return arr


def _arg(given, arr):
    """An op's index or mask argument: the Tensor itself where one was given, so a captured step
    (tg.compile) reads it as state of the step like any other tensor; else the array."""
    return given if isinstance(given, _fn.Tensor) else arr


def gather(input, dim, index):
    d = norm_dim(dim, input.ndim, "gather")
    idx = index_array(index, "gather")
    if idx.ndim != input.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dims but the input has {input.ndim} "
                           f"(input {tuple(input.shape)}, index {tuple(idx.shape)})")
    return Gather.apply(input, d, _arg(index, idx))


def scatter_add(input, dim, index, src):
    d = norm_dim(dim, input.ndim, "scatter_add")
    return ScatterAdd.apply(input, d, _arg(index, index_array(index, "scatter_add")), src)


def index_select(input, dim, index):
    d = norm_dim(dim, input.ndim, "index_select")
    idx = index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
    return IndexSelect.apply(input, d, _arg(index, idx))


def masked_fill(input, mask, value):
    m = mask._data if isinstance(mask, _fn.Tensor) else mask
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill: expected a bool mask, got {m.dtype}")
    if isinstance(value, _fn.Tensor):
        value = value.item()
    return MaskedFill.apply(input, _arg(mask, m), value)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along dim (always stable); gradients flow through the values."""
    d = norm_dim(dim, input.ndim, "sort")
    idx = _binary.compare(_sort_order, input, (d, descending))      # an op (tg.compile)
    return values_indices(Gather.apply(input, d, idx), idx)


def _sort_order(data, spec):
    """The stable argsort of data along axis (spec: axis, descending), int64."""
    d, descending = spec
    xp = array_module(data)
    if descending and data.dtype.kind == "b":
        idx = xp.flip(xp.argsort(data, axis=d, kind="stable"), d)
    else:
        idx = xp.argsort(-data if descending else data, axis=d, kind="stable")
    return idx.astype(np.int64, copy=False)


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim and their indices, sorted."""
    d = norm_dim(dim, input.ndim, "topk")
    if not 0 <= k <= input.shape[d]:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size "
                           f"{input.shape[d]}")
    _, idx = sort(input, d, descending=largest)
    keep = [slice(None)] * input.ndim
    keep[d] = slice(0, k)
    idx = idx[tuple(keep)]
    return values_indices(Gather.apply(input, d, idx), idx)
