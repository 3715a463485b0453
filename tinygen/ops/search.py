"""Searching and counting, as torch.*: nonzero, argwhere, unique, unique_consecutive, bincount,
histc, histogram, searchsorted, bucketize, isin. Their outputs are indices or counts: integer
tensors outside the graph (histc's float counts too), as in PyTorch.

    tg.unique(x, return_inverse=True, return_counts=True)   # (values, inverse, counts)
    tg.searchsorted(edges, values, right=True)              # insertion points
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap
from ..autograd import function as _fn
from ..backend.device import array_module
from .args import norm_dim


def _data(x):
    return x._data if isinstance(x, _fn.Tensor) else np.asarray(x)


def _as_int64(xp, a):
    return wrap(xp.asarray(a).astype(np.int64, copy=False))


def nonzero(input, as_tuple=False):
    """Indices of the nonzero elements: (count, ndim) int64, or one 1-D tensor per dim. A 0-d
    input gives (1, 0) or (0, 0), and as_tuple one tensor of [0] or [] (as PyTorch: a 0-d
    tensor is read as one element there)."""
    data = input._data
    xp = array_module(data)
    if not data.ndim:
        if as_tuple:
            return (_as_int64(xp, xp.nonzero(data.reshape(1))[0]),)
        return _as_int64(xp, xp.zeros((int(bool(data)), 0)))
    found = xp.nonzero(data)
    if as_tuple:
        return tuple(_as_int64(xp, f) for f in found)
    return _as_int64(xp, xp.stack(found, axis=1))


def argwhere(input):
    """nonzero(input): (count, ndim) int64 indices."""
    return nonzero(input)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (always sorted: PyTorch's CPU order too), with the index of each
    element's value (return_inverse) and each value's count (return_counts). dim: unique slices
    along dim instead of elements."""
    data = input._data
    xp = array_module(data)
    nan = {"equal_nan": False} if xp is np else {}      # each NaN its own value, as PyTorch
    if dim is None:
        flat = data.reshape(-1)
        values, inverse, counts = xp.unique(flat, return_inverse=True, return_counts=True,
                                            **nan)
        inverse = inverse.reshape(data.shape)
    else:
        d = norm_dim(dim, input.ndim, "unique")
        if any(s == 0 for k, s in enumerate(input.shape) if k != d):
            raise RuntimeError(f"unique: there are 0 sized dimensions, and they aren't selected "
                               f"(dim {d} of shape {tuple(input.shape)}), so unique cannot be "
                               "applied")
        values, inverse, counts = np.unique(input.cpu().numpy(), return_inverse=True,
                                            return_counts=True, axis=d, equal_nan=False)
        values, inverse, counts = (xp.asarray(a) for a in (values, inverse.reshape(-1), counts))
    out = [wrap(values)]
    if return_inverse:
        out.append(_as_int64(xp, inverse))
    if return_counts:
        out.append(_as_int64(xp, counts))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (of the flattened input) to one."""
    if dim is not None:
        raise NotImplementedError("unique_consecutive: dim is not supported by tinygen")
    data = input.cpu().numpy().reshape(-1)
    xp = array_module(input._data)
    starts = np.ones(data.shape[0], dtype=bool)
    starts[1:] = data[1:] != data[:-1]
    out = [wrap(xp.asarray(data[starts]))]
    if return_inverse:
        out.append(_as_int64(xp, (np.cumsum(starts) - 1).reshape(input.shape)))
    if return_counts:
        edges = np.flatnonzero(np.append(starts, True))
        out.append(_as_int64(xp, np.diff(edges)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Counts of each value of a 1-D non-negative int tensor (int64), or sums of weights
    (float)."""
    data = input._data
    if input.ndim != 1 or data.dtype.kind not in "iu":
        raise RuntimeError(f"bincount: expected a 1-D integer tensor, got shape "
                           f"{tuple(input.shape)} and dtype {input.dtype}")
    if data.size and int(data.min()) < 0:
        raise RuntimeError("bincount: input must be non-negative")
    xp = array_module(data)
    if weights is None:
        return _as_int64(xp, xp.bincount(data, minlength=minlength))
    w = _data(weights)
    out = xp.bincount(data, weights=w, minlength=minlength)
    return wrap(out.astype(w.dtype if w.dtype.kind == "f" else np.float64, copy=False))


def histc(input, bins=100, min=0, max=0):
    """Counts in `bins` equal bins over [min, max] (min == max: the data's range); elements
    outside are ignored; the result has input's dtype."""
    data = input.cpu().numpy()
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max ({hi}) must be larger than min ({lo})")
    counts, _ = np.histogram(data, bins=bins, range=(lo, hi))
    return wrap(array_module(input._data).asarray(counts.astype(input._data.dtype)))


def histogram(input, bins=100, range=None, weight=None, density=False):
    """(hist, bin_edges) as numpy.histogram, with input's dtype."""
    data = input.cpu().numpy()
    w = None if weight is None else weight.cpu().numpy()
    if isinstance(bins, _fn.Tensor):
        bins = bins.cpu().numpy()
    hist, edges = np.histogram(data, bins=bins, range=range, weights=w, density=density)
    xp = array_module(input._data)
    return wrap(xp.asarray(hist.astype(data.dtype))), wrap(xp.asarray(edges.astype(data.dtype)))


def searchsorted(sorted_sequence, input, out_int32=False, right=False, side=None, sorter=None):
    """Indices where input's values would be inserted to keep sorted_sequence sorted (its last
    dim; leading dims pair up with input's). right / side='right': after equal values."""
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        right = side == "right"
    seq = sorted_sequence.cpu().numpy()
    values = input.cpu().numpy() if isinstance(input, _fn.Tensor) else np.asarray(input)
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter.cpu().numpy(), axis=-1)
    side = "right" if right else "left"
    if seq.ndim == 1:
        out = np.searchsorted(seq, values, side=side)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError(f"searchsorted: leading dims of sorted_sequence "
                               f"{tuple(seq.shape)} and input {tuple(values.shape)} must match")
        rows_s, rows_v = seq.reshape(-1, seq.shape[-1]), values.reshape(-1, values.shape[-1])
        out = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(rows_s, rows_v)])
        out = out.reshape(values.shape)
    xp = array_module(sorted_sequence._data)
    return wrap(xp.asarray(out.astype(np.int32 if out_int32 else np.int64)))


def bucketize(input, boundaries, out_int32=False, right=False):
    """The bucket index of each element for the 1-D sorted boundaries: i with
    boundaries[i - 1] < x <= boundaries[i] (right=False) or boundaries[i - 1] <= x <
    boundaries[i] (right=True)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape "
                           f"{tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32, right)


def isin(elements, test_elements, assume_unique=False, invert=False):
    """True where an element of `elements` occurs in test_elements (False with invert)."""
    data = _data(elements)
    xp = array_module(data)
    return wrap(xp.isin(data, _data(test_elements), invert=invert))
