"""Indexing: x[idx], gather / scatter_add, index_select / index_add, masked_fill.

Each pair is the other's adjoint: reading at indices (GetItem, Gather, IndexSelect) has as
backward accumulating at the same indices (IndexAddAt, ScatterAdd, IndexAdd), whose backward reads
again. Accumulation (not assignment) makes repeated indices correct.

x[idx] follows PyTorch where it differs from NumPy (index_rules.numpy_index): ints are applied first, as
basic indexing, so `x[0, :, [0, 1]]` of a (2, 3, 4) tensor is (3, 2) (NumPy: (2, 3)); a short
list holding lists, tensors, slices, None or Ellipsis is a tuple of indices; `[]` is an empty
int64 index; a uint8 tensor is a mask.
"""
from __future__ import annotations

import collections

import numpy as np

from ..autograd.function import Function
from ..autograd import function as _fn
from ..backend.device import array_module
from . import binary as _binary
from .args import norm_dim
from .convert import Cast, to
from .index_rules import check_step, numpy_index, tensor_index
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
    """x[idx] (NumPy's rules); pre, where given, is a basic index of ints applied first:
    x[pre][idx] (PyTorch's order, see numpy_index)."""

    def forward(self, x, idx, pre=None):
        self.in_shape, self.idx, self.pre, self.dtype = x.shape, idx, pre, x.dtype
        self.basic = pre is None and _is_basic(idx)
        if pre is not None:
            x = x[pre]
        out = x[idx]
        if self.basic and isinstance(out, np.generic):
            # x[1] of a 1-D array is a NumPy scalar (a copy); x[1, ...] is the 0-d view that
            # PyTorch's select gives
            out = x[(idx if type(idx) is tuple else (idx,)) + (Ellipsis,)]
        return out

    @property
    def is_view(self):
        return self.basic

    def backward(self, gy):
        return IndexAddAt.apply(gy, self.in_shape, self.idx, self.basic, self.pre), None, None


class IndexAddAt(Function):
    """zeros(shape) with gy added at [idx] (at [pre][idx] where pre is given: the adjoint of
    GetItem)."""

    def forward(self, gy, shape, idx, basic, pre=None):
        self.idx, self.pre = idx, pre
        out = self.xp.zeros(shape, dtype=gy.dtype)
        target = out if pre is None else out[pre]      # basic indexing: a view of out
        if basic:
            target[idx] = gy
        else:
            _add_at(self.xp, target, idx, gy)
        return out

    def backward(self, gg):
        return GetItem.apply(gg, self.idx, self.pre), None, None, None, None


def scalar_as(value, dtype):
    """A Python number as dtype with C casting, as PyTorch converts a scalar: -2 -> 254 for
    uint8, 1.5 -> 1 for an int (NumPy 2 raises OverflowError for an int out of range)."""
    return np.asarray(value).astype(dtype)[()]


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
    """x with `value` where mask is True (mask broadcast against x). value: a number, or a 0-d
    array (a tensor's), which then gets as gradient the sum of gy over the filled places."""

    def forward(self, x, mask, value):
        self.mask = mask
        self.in_shape = x.shape
        if hasattr(value, "dtype"):
            self.value_dtype = value.dtype
            fill = value.astype(x.dtype, copy=False)
        else:
            fill = x.dtype.type(value) if x.dtype.kind == "f" else scalar_as(value, x.dtype)
        return self.xp.where(mask, fill, x)

    def backward(self, gy):
        gx = gv = None
        if self.inputs[0] is not None:
            gx = unbroadcast(MaskedFill.apply(gy, self.mask, 0.0), self.in_shape)
        if self.inputs[2] is not None:
            gv = MaskedFill.apply(gy, self.xp.logical_not(self.mask), 0.0).sum()
            if gv._data.dtype != self.value_dtype:
                gv = Cast.apply(gv, self.value_dtype)
        return gx, None, gv


class SetItem(Function):
    """x with x[idx] = value (x[pre][idx] where pre is given), out of place (item assignment
    inside a graph)."""

    def forward(self, x, idx, value, pre=None):
        self.idx, self.pre = idx, pre
        self.value_shape = getattr(value, "shape", None)
        out = x.copy()
        assign(out, idx, value, pre)
        return out

    def backward(self, gy):
        gx = SetItem.apply(gy, self.idx, 0.0, self.pre) if self.inputs[0] is not None else None
        gv = None
        if self.inputs[2] is not None:
            gv = unbroadcast(GetItem.apply(gy, self.idx, self.pre), self.value_shape)
        return gx, None, gv, None


def assign(out, idx, value, pre=None):
    """out[idx] = value in place (out[pre][idx] where pre is given), NumPy's broadcasting and
    casting; its errors restated naming setitem, the shapes and the index (an out-of-range index:
    IndexError; a value that does not broadcast to the selection: RuntimeError, as PyTorch)."""
    target = out
    try:
        if pre is not None:
            target = out[pre]
        if type(value) is int and out.dtype.kind in "iu":    # (out of range: C's wrap)
            value = scalar_as(value, out.dtype)
        target[idx] = value
    except IndexError as e:
        raise _fn._OpIndexError(f"setitem: {e} (tensor of shape {tuple(out.shape)}, index "
                                f"{_show_index(idx, pre)})") from None
    except ValueError as e:
        vshape = tuple(getattr(value, "shape", ()))
        try:
            selected = tuple(target[idx].shape)
        except (IndexError, ValueError, TypeError):
            selected = None
        if selected is not None and "broadcast" in str(e):
            raise RuntimeError(
                f"setitem: shape mismatch: value of shape {vshape} cannot be broadcast to the "
                f"indexing result of shape {selected} (tensor of shape {tuple(out.shape)}, index "
                f"{_show_index(idx, pre)})") from None
        raise _fn.OpError(f"setitem: {e} (tensor of shape {tuple(out.shape)}, index "
                          f"{_show_index(idx, pre)}, value of shape {vshape})") from None


def _show_index(idx, pre=None):
    """An index for an error message: small arrays as lists, larger ones as shape and dtype."""
    def one(i):
        if hasattr(i, "shape") and hasattr(i, "dtype"):
            if i.size <= 8:
                return repr(i.tolist())
            return f"array(shape={tuple(i.shape)}, dtype={i.dtype})"
        if type(i) is slice:
            text = ("" if i.start is None else str(i.start)) + ":" + (
                "" if i.stop is None else str(i.stop))
            return text if i.step is None else f"{text}:{i.step}"
        return "..." if i is Ellipsis else repr(i)
    items = idx if type(idx) is tuple else (idx,)
    shown = "[" + ", ".join(one(i) for i in items) + "]"
    if pre is not None:
        shown = "[" + ", ".join(one(i) for i in pre) + "]" + shown
    return shown


class Embedding(Function):
    """weight[indices]; the row `padding_idx` gets no gradient (as in PyTorch). by_freq
    (scale_grad_by_freq): each looked-up row's gradient is divided by the number of times its
    index occurs in `indices`, as PyTorch's."""

    def forward(self, weight, indices, padding_idx, by_freq=False):
        num = weight.shape[0]
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= num):
            bad = indices[(indices < 0) | (indices >= num)].reshape(-1)[0]
            raise IndexError(f"index {int(bad)} is out of range for weight of shape "
                             f"{tuple(weight.shape)} (indices must be in [0, {num}))")
        self.num, self.indices, self.padding_idx = num, indices, padding_idx
        if by_freq:                       # 1 / count of each position's index: indices.shape + (1,)
            counts = self.xp.bincount(indices.reshape(-1), minlength=num)
            self.scale = (1 / counts[indices]).astype(weight.dtype)[..., None]
        return weight[indices]

    def backward(self, gy):
        scale = self.__dict__.get("scale")
        if scale is None:
            return EmbeddingBackward.apply(gy, self.num, self.indices, self.padding_idx), None, None
        return EmbeddingBackward.apply(gy, self.num, self.indices, self.padding_idx,
                                       scale=scale), None, None


class EmbeddingBackward(Function):
    """The rows of gy (times scale, for scale_grad_by_freq) added up per index. Its backward
    reads gg at the indices, unscaled, as PyTorch's embedding_dense_double_backward."""

    def forward(self, gy, num, indices, padding_idx, scale=None):
        self.indices, self.padding_idx = indices, padding_idx
        if scale is not None:
            gy = gy * scale
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
def getitem(input, idx):
    t = type(idx)
    if t is int:                                   # the hot paths: x[0], x[1:3], x[index]
        return GetItem.apply(input, idx)
    if t is slice:
        step = idx.step
        if step is not None and not (type(step) is int and step > 0):
            check_step(idx)                        # x[::-1] raises, as PyTorch
        return GetItem.apply(input, idx)
    if isinstance(idx, _fn.Tensor):
        d = idx._data
        if d.ndim and d.dtype.kind == "i":           # (tensor_index's common case, inline)
            return GetItem.apply(input, d)
        return GetItem.apply(input, tensor_index(idx))
    idx, pre = numpy_index(idx)
    if pre is None:
        return GetItem.apply(input, idx)
    return GetItem.apply(input, idx, pre)


def index_array(index, op):
    """An integer index (Tensor or array-like) as an array, or an IndexError naming the op."""
    arr = index._data if isinstance(index, _fn.Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise IndexError(f"{op}: expected an integer (int64) index tensor, got {arr.dtype}")
    return arr


def _check_range(op, idx, size, dim, input_shape, error=RuntimeError):
    """`error` naming op, dim, size and a bad index where idx leaves [0, size): PyTorch's check,
    where NumPy would wrap a negative index (one min and one max over idx)."""
    if idx.size == 0:
        return
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise error(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size} "
                    f"(input {tuple(input_shape)}, index {tuple(idx.shape)}; indices must be "
                    f"in [0, {size}))")


def _arg(given, arr):
    """An op's index or mask argument: the Tensor itself where one was given, so a captured step
    (tg.compile) reads it as state of the step like any other tensor; else the array."""
    return given if isinstance(given, _fn.Tensor) else arr


def gather(input, dim, index):
    """out[i][j] = input[i][index[i][j]] for dim 1 (and likewise for the others). index: as
    many dims as input, no larger than it apart from dim, entries in [0, input.shape[dim])."""
    d = norm_dim(dim, input.ndim, "gather")
    idx = index_array(index, "gather")
    if idx.ndim != input.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dims but the input has {input.ndim} "
                           f"(input {tuple(input.shape)}, index {tuple(idx.shape)})")
    if idx.size:
        for k, (i, s) in enumerate(zip(idx.shape, input.shape)):
            if k != d and i > s:
                raise RuntimeError(f"gather: index {tuple(idx.shape)} is larger than the input "
                                   f"{tuple(input.shape)} in dimension {k} (it may be larger "
                                   f"only in dimension {d})")
        _check_range("gather", idx, input.shape[d] if input.ndim else 1, d, input.shape)
    return Gather.apply(input, d, _arg(index, idx))


def scatter_add(input, dim, index, src):
    """input with src[i][j] added at [i][index[i][j]] for dim 1 (and likewise for the others);
    only src's leading index.shape part is used. As PyTorch: index has input's number of dims,
    is no larger than src in any dim nor than input apart from dim (NumPy would broadcast a
    smaller src), and its entries are in [0, input.shape[dim])."""
    d = norm_dim(dim, input.ndim, "scatter_add")
    if isinstance(src, _fn.Tensor) and src._data.dtype != input._data.dtype:
        raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype (scatter_add: "
                           f"{input.dtype} and {src.dtype})")
    idx = index_array(index, "scatter_add")
    if idx.size:
        src_shape = tuple(getattr(src, "shape", ()))
        if idx.ndim != input.ndim or len(src_shape) != idx.ndim:
            raise RuntimeError(f"scatter_add: index, input and src must have the same number of "
                               f"dims (input {tuple(input.shape)}, index {tuple(idx.shape)}, "
                               f"src {src_shape})")
        for k, (i, s, n) in enumerate(zip(idx.shape, src_shape, input.shape)):
            if i > s or (k != d and i > n):
                raise RuntimeError(f"scatter_add: index {tuple(idx.shape)} must be no larger "
                                   f"than src {src_shape} in every dimension and no larger than "
                                   f"the input {tuple(input.shape)} apart from dimension {d} "
                                   f"(dimension {k} is too large)")
        _check_range("scatter_add", idx, input.shape[d] if input.ndim else 1, d, input.shape)
    return ScatterAdd.apply(input, d, _arg(index, idx), src)


def index_select(input, dim, index):
    """input's slices at `index` (1-D, or 0-d: one slice kept as a dim) along dim; a 0-d input
    takes one index, 0, and stays 0-d (as PyTorch)."""
    d = norm_dim(dim, input.ndim, "index_select")
    idx = index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
    _check_range("index_select", idx, input.shape[d] if input.ndim else 1, d, input.shape,
                 IndexError)
    if input.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(f"index_select: a 0-d input takes exactly one index, got "
                               f"{idx.size} (index shape {tuple(idx.shape)})")
        return IndexSelect.apply(input.reshape(1), 0, _arg(index, idx)).reshape(())
    return IndexSelect.apply(input, d, _arg(index, idx))


def masked_fill(input, mask, value):
    """input with value where mask (bool, broadcast against input) is True. value: a number or
    a 0-d tensor, which stays in the graph (its gradient: the sum of the upstream gradient over
    the filled places) and is cast to input's dtype; a tensor with dims is refused, as PyTorch."""
    m = mask._data if isinstance(mask, _fn.Tensor) else mask
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill: expected a bool mask, got {m.dtype}")
    if isinstance(value, _fn.Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill: only a 0-d value tensor is supported, got one of "
                               f"shape {tuple(value.shape)} (input {tuple(input.shape)})")
        if value.device != input.device:
            value = to(value, input.device)
    return MaskedFill.apply(input, _arg(mask, m), value)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along dim (always stable); gradients flow through the values."""
    d = norm_dim(dim, input.ndim, "sort")
    if input.ndim == 0:                      # PyTorch: the element (a copy) and index 0
        out = sort(input.reshape(1), 0, descending, stable)
        return values_indices(out.values.reshape(()), out.indices.reshape(()))
    idx = _binary.compare(_sort_order, input, (d, descending))      # an op (tg.compile)
    return values_indices(Gather.apply(input, d, idx), idx)


def _sort_order(data, spec):
    """The stable argsort of data along axis (spec: axis, descending), int64."""
    d, descending = spec
    xp = array_module(data)
    if not descending:
        idx = xp.argsort(data, axis=d, kind="stable")           # NaN last, as PyTorch
    else:
        # PyTorch's descending order: NaN first (the largest), equal elements in their order.
        # The ascending stable sort of the reversed data, read backwards, gives it for every
        # dtype (-data wraps unsigned ints and keeps NaN last; flipping an ascending sort
        # reverses the ties)
        n = data.shape[d]
        idx = (n - 1) - xp.flip(xp.argsort(xp.flip(data, d), axis=d, kind="stable"), d)
    return idx.astype(np.int64, copy=False)


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim and their indices, sorted."""
    d = norm_dim(dim, input.ndim, "topk")
    if input._data.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU (as PyTorch)")
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {n}")
    if input.ndim == 0:                      # PyTorch: the element and index 0 (k 0 or 1)
        out = sort(input.reshape(1), 0, largest)
        return values_indices(out.values.reshape(()), out.indices.reshape(()))
    _, idx = sort(input, d, descending=largest)
    keep = [slice(None)] * input.ndim
    keep[d] = slice(0, k)
    idx = idx[tuple(keep)]
    return values_indices(Gather.apply(input, d, idx), idx)
