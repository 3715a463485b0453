"""Rearrangements built from the shape and index ops, as torch.*: movedim, flips and rot90, the
stacking and splitting variants (hstack, vstack, dstack, column_stack, tensor_split, hsplit...),
atleast_1d/2d/3d, tile, ravel, meshgrid, cartesian_prod, combinations, Tensor.unfold,
repeat_interleave, diff, select.

Nothing here is a Function of its own: each is a composition of views (reshape, permute, flip,
split, cat) or of index_select, whose backward rules make them differentiable to any order.

    x.unfold(0, size=3, step=2)       # (7,) -> (3, 3): windows x[0:3], x[2:5], x[4:7]
    tg.repeat_interleave(x, 2)        # (3,) -> (6,): x0 x0 x1 x1 x2 x2
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.function import wrap
from ..autograd import function as _fn
from .args import norm_dim, shape_arg
from .index import index_select
from .strided import as_strided
from .shape import (_required, cat, expand, flip, permute, repeat, reshape, split, stack,
                    transpose, unbroadcast)


def movedim(input, source, destination):
    """Move the dims `source` to the positions `destination` (ints or sequences); the other dims
    keep their order."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must have the "
                           "same number of dims")
    nd = input.ndim
    src = [norm_dim(d, nd, "movedim") for d in src]
    dst = [norm_dim(d, nd, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {source} or destination "
                           f"{destination}")
    rest = iter(d for d in range(nd) if d not in src)
    placed = dict(zip(dst, src))
    return permute(input, tuple(placed[d] if d in placed else next(rest) for d in range(nd)))


moveaxis = movedim


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


def fliplr(input):
    """Reverse dim 1 (left/right); input of at least 2 dims."""
    if input.ndim < 2:
        raise RuntimeError(f"fliplr: expected a tensor of at least 2 dims, got shape "
                           f"{tuple(input.shape)}")
    return flip(input, 1)


def flipud(input):
    """Reverse dim 0 (up/down); input of at least 1 dim."""
    if input.ndim < 1:
        raise RuntimeError("flipud: expected a tensor of at least 1 dim, got a 0-d tensor")
    return flip(input, 0)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane dims, from the first axis toward the second."""
    if len(dims) != 2 or input.ndim < 2:
        raise RuntimeError(f"rot90: expected 2 dims and a tensor of at least 2 dims, got dims "
                           f"{tuple(dims)} and shape {tuple(input.shape)}")
    d0, d1 = (norm_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: the rotation dims must differ, got {tuple(dims)}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input.clone()                     # a new tensor, as PyTorch's rot90 (k % 4 == 0)


# ---- at least n dims; stacking -------------------------------------------------------------------
def _each(tensors, fn):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = tuple(fn(t) for t in tensors)
    return out[0] if len(out) == 1 else out


def atleast_1d(*tensors):
    return _each(tensors, lambda t: reshape(t, 1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    return _each(tensors, lambda t: reshape(t, (1,) * (2 - t.ndim) + tuple(t.shape))
                 if t.ndim < 2 else t)


def _three_d(t):
    if t.ndim == 0:
        return reshape(t, 1, 1, 1)
    if t.ndim == 1:
        return reshape(t, 1, t.shape[0], 1)                    # (1, n, 1), as numpy
    if t.ndim == 2:
        return reshape(t, tuple(t.shape) + (1,))
    return t


def atleast_3d(*tensors):
    return _each(tensors, _three_d)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0 after making every tensor at least 2-D."""
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate along dim 2 after making every tensor at least 3-D."""
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    """0-d and 1-D tensors become columns (n, 1); then concatenate along dim 1."""
    cols = [reshape(t, t.numel(), 1) if t.ndim <= 1 else t for t in tensors]
    return cat(cols, 1)


# ---- splitting -----------------------------------------------------------------------------------
def tensor_split(input, indices_or_sections, dim=0):
    """An int n: n pieces, the first size % n one longer; a list of indices: the pieces between
    them (pieces may be empty)."""
    d = norm_dim(dim, input.ndim, "tensor_split")
    size = input.shape[d]
    if isinstance(indices_or_sections, _fn.Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be positive, got {n}")
        sizes = [size // n + (1 if i < size % n else 0) for i in range(n)]
    else:
        bounds = [min(max(int(i) if i >= 0 else int(i) + size, 0), size)
                  for i in indices_or_sections]
        edges = [0] + bounds + [size]
        # each piece starts at its own index, not where the last one ended: with indices out
        # of order the pieces are empty or overlap ([3, 1] on 5: [0:3], [3:1] = [], [1:5])
        if any(b < a for a, b in zip(edges[:-1], edges[1:])):
            return tuple(input.narrow(d, a, max(b - a, 0)) for a, b in zip(edges[:-1], edges[1:]))
        sizes = [b - a for a, b in zip(edges[:-1], edges[1:])]
    return split(input, sizes, d) if len(sizes) > 1 else (input,)


def _split_along(op, input, sections, dim, min_dims):
    if input.ndim < min_dims:
        raise RuntimeError(f"{op}: expected a tensor of at least {min_dims} dims, got shape "
                           f"{tuple(input.shape)}")
    if isinstance(sections, int) and input.shape[dim] % sections:
        raise RuntimeError(f"{op}: the size {input.shape[dim]} of dim {dim} is not divisible by "
                           f"{sections} (input of shape {tuple(input.shape)})")
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    return _split_along("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input, indices_or_sections):
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


# ---- tiling, grids, windows ----------------------------------------------------------------------
def tile(input, *dims):
    """repeat() with fewer reps allowed (missing leading reps are 1)."""
    _required("tile", "dims", dims)
    dims = shape_arg(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + tuple(dims))


def ravel(input):
    return reshape(input, -1)


def broadcast_to(input, size):
    return expand(input, tuple(size))


def broadcast_shapes(*shapes):
    """The shape that all shapes broadcast to (a tuple, PyTorch's torch.Size)."""
    try:
        return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                           for s in shapes]))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: shapes {shapes} cannot be broadcast together") \
            from None


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors: out[i] varies along dim i ('ij'); 'xy' swaps the
    first two dims (Cartesian indexing)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError(f"meshgrid expects all tensors to have the same dtype, got "
                               f"{tensors[0].dtype} and {t.dtype}")
    flat = [reshape(t, -1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    order = [1, 0] + list(range(2, len(flat))) if swap else list(range(len(flat)))
    shape = tuple(flat[i].shape[0] for i in order)
    grids = []
    for k, t in enumerate(flat):
        pos = order.index(k)
        view = [1] * len(flat)
        view[pos] = t.shape[0]
        grids.append(expand(reshape(t, view), shape))
    return tuple(grids)


def cartesian_prod(*tensors):
    """Every combination of one element per 1-D tensor: (prod n_i, len(tensors)) (a single
    tensor is returned as it is)."""
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, -1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of the elements of a 1-D tensor, one per row (itertools
    order)."""
    if input.ndim != 1:
        raise RuntimeError(f"combinations: expected a 1-D tensor, got shape {tuple(input.shape)}")
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    if rows.shape[0] == 0:
        return reshape(index_select(input, 0, wrap(input.device.xp.zeros(0, np.int64))), 0, r)
    idx = wrap(input.device.xp.asarray(rows.reshape(-1)))
    return reshape(index_select(input, 0, idx), rows.shape)


def unfold(input, dimension, size, step):
    """Windows of `size` every `step` along `dimension`, as a new last dim:
    (..., n, ...) -> (..., (n - size) // step + 1, ..., size) (Tensor.unfold). A view, as
    PyTorch's (dim d's stride times step, the window's stride dim d's own), except of an input
    with a negative stride (tinygen's flip, a view where PyTorch's is a copy): then a copy."""
    d = norm_dim(dimension, input.ndim, "unfold")
    n = input.shape[d] if input.ndim else 1
    if size > n or size < 0 or step <= 0:
        raise RuntimeError(f"unfold: size {size} must be in [0, {n}] and step {step} positive "
                           f"(dim {d} of input of shape {tuple(input.shape)})")
    count = (n - size) // step + 1
    strides = tuple(s // input._data.itemsize for s in input._data.strides)
    if input.ndim == 0:
        return as_strided(input, (size,), (1,))
    if min(strides, default=0) >= 0:
        shape, stride = list(input.shape), list(strides)
        shape[d], stride[d] = count, step * strides[d]
        return as_strided(input, tuple(shape) + (size,), tuple(stride) + (strides[d],))
    starts = np.arange(count)[:, None] * step + np.arange(size)[None, :]     # (count, size)
    picked = index_select(input, d, wrap(input.device.xp.asarray(starts.reshape(-1))))
    shape = tuple(input.shape[:d]) + (count, size) + tuple(input.shape[d + 1:])
    return movedim(reshape(picked, shape), d + 1, -1)                       # size last


def repeat_interleave(input, repeats=None, dim=None, output_size=None):
    """Repeat each element (of the flattened input when dim is None, else each slice along dim)
    repeats times (an int, or a tensor with one count per element). With only a tensor of counts,
    repeat_interleave(counts) repeats its indices: [2, 1] -> [0, 0, 1]."""
    if repeats is None:
        counts = input._data
        return wrap(input.device.xp.repeat(input.device.xp.arange(counts.shape[0]), counts))
    x = reshape(input, -1) if dim is None else input
    d = 0 if dim is None else norm_dim(dim, input.ndim, "repeat_interleave")
    counts = repeats.cpu().numpy() if isinstance(repeats, _fn.Tensor) else np.asarray(repeats)
    n = x.shape[d]
    if counts.ndim and counts.shape[0] not in (1, n):
        raise RuntimeError(f"repeat_interleave: repeats must have 1 or {n} elements (the size of "
                           f"dim {d}), got {counts.shape[0]}")
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    idx = np.repeat(np.arange(n), counts.reshape(-1) if counts.ndim else int(counts))
    return index_select(x, d, wrap(x.device.xp.asarray(idx.astype(np.int64))))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (prepend / append concatenated first)."""
    d = norm_dim(dim, input.ndim, "diff")
    x = cat([t for t in (prepend, input, append) if t is not None], d) \
        if prepend is not None or append is not None else input
    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        head, tail = split(x, [size - 1, 1], d)[0], split(x, [1, size - 1], d)[1]
        x = tail - head
    return x


def select(input, dim, index):
    """input indexed with `index` along dim (that dim removed): a view."""
    d = norm_dim(dim, input.ndim, "select")
    return input[(slice(None),) * d + (index,)]


def narrow_copy(input, dim, start, length):
    return input.narrow(dim, start, length).clone()


def sum_to_size(input, *size):
    """input summed over broadcast dims down to `size` (the adjoint of expand)."""
    size = shape_arg(size)
    try:
        np.broadcast_shapes(tuple(size), tuple(input.shape))
    except ValueError:
        raise RuntimeError(f"sum_to_size: size {tuple(size)} is not expandable to the tensor's "
                           f"shape {tuple(input.shape)}") from None
    return unbroadcast(input, tuple(size))
