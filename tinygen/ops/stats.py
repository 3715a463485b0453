"""Cumulative ops and order statistics, as torch.*: cumprod, cummax, cummin, logcumsumexp,
median, nanmedian, mode, kthvalue, quantile, nanquantile, aminmax, std_mean, var_mean, nansum,
nanmean, count_nonzero, msort.

The order statistics pick elements (indices from a sort, computed on the arrays) and read them
with Gather, so the gradient goes to the chosen element, as in PyTorch; quantile interpolates
between two such picks. cumprod without zeros is one Function (gx = revcumsum(gy y) / x); with
zeros, and logcumsumexp always, are exact compositions over an (n, n) lower-triangular mask:
    cumprod(x)_k = prod_j where(j <= k, x_j, 1),  logcumsumexp(x)_k = logsumexp_j where(j <= k,
    x_j, -inf)
(O(n^2) memory along the dim: these are for the short dims of small models).
"""
from __future__ import annotations

import collections

import numpy as np

from ..autograd.function import Function, wrap
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .args import norm_dim, norm_dims
from .binary import where
from .convert import as_float, type_name
from .index import Gather, values_indices
from .reduce import (Cumsum, EvenlyDistributed, _accumulated, _require_floating, _std,
                     _var, amax, amin, logsumexp, mean, sum)
from .shape import stack

min_max = collections.namedtuple("aminmax", ["min", "max"])


class Cumprod(Function):
    """Running product along dim, for inputs without zeros: gx = revcumsum(gy * y) / x."""

    def forward(self, x, dim):
        self.dim = dim
        y = self.xp.cumprod(x, axis=dim)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        if x.shape[self.dim] == 1:               # PyTorch's shortcut: y is x, so gy (not
            return gy, None                      # gy y / x, NaN for an inf or NaN element)
        return Cumsum.apply(gy * y, self.dim, True) / x, None


def _lower_triangle(n, like, dim):
    """A bool (n, n) mask [k, j] = j <= k, shaped to broadcast over x.unsqueeze(dim) (k at dim,
    j at dim + 1)."""
    mask = np.tril(np.ones((n, n), dtype=bool))
    trailing = like.ndim - dim - 1
    return wrap(like.device.xp.asarray(mask.reshape((n, n) + (1,) * trailing)))


def _running_rows(x, d, fill):
    """(..., n, n, ...): row k holds x_j for j <= k and `fill` after (k at d, j at d + 1)."""
    n = x.shape[d]
    rows = x.unsqueeze(d).expand(tuple(x.shape[:d]) + (n,) + tuple(x.shape[d:]))
    return where(_lower_triangle(n, x, d), rows, fill)


def cumprod(input, dim, dtype=None):
    """Running product along dim; integer and bool inputs give int64 (or dtype), float16
    accumulates in float32, as cumsum."""
    d = norm_dim(dim, input.ndim, "cumprod")
    if dtype is not None and _dt.to_np_dtype(dtype) == np.bool_ and input.numel():
        raise NotImplementedError('"cumprod_out_cpu" not implemented for \'Bool\'')
    return _accumulated(input, dtype, lambda x: _cumprod(x, d))


def _cumprod(x, d):
    if x.ndim == 0:
        return x * 1
    # a branch on the data, read through a tensor so a captured step sees it (runs eagerly)
    if x._data.dtype.kind == "f" and not bool((x == 0).any()):
        return Cumprod.apply(x, d)
    if x._data.dtype.kind != "f":
        return wrap(array_module(x._data).cumprod(x._data, axis=d))
    return _running_rows(x, d, 1.0).prod(dim=d + 1)


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along dim, exact for any range of values (see the module doc).
    Floating inputs only, as PyTorch's CPU kernel."""
    if input._data.dtype.kind not in "fV":
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{type_name(input._data.dtype)}'")
    x = as_float(input)
    d = norm_dim(dim, x.ndim, "logcumsumexp")
    if x.ndim == 0:
        return x * 1
    return logsumexp(_running_rows(x, d, float("-inf")), d + 1)


def _cumulative_extreme(x, dim, is_min, name):
    d = norm_dim(dim, x.ndim, name)
    if x.ndim == 0:                          # (x * 1 would make a bool tensor int64)
        return values_indices(x.clone(), wrap(array_module(x._data).zeros((), np.int64)))
    data = np.moveaxis(x.cpu().numpy(), d, 0)
    idx = np.zeros(data.shape, dtype=np.int64)
    best = data[:1].copy()
    nan_at = np.isnan(data) if data.dtype.kind == "f" else None
    if nan_at is not None and not nan_at.any():
        nan_at = None
    for k in range(1, data.shape[0]):            # ties take the later index, as PyTorch
        better = data[k] <= best[0] if is_min else data[k] >= best[0]
        if nan_at is not None:                   # a NaN takes over and stays; a later NaN
            better = nan_at[k] | (better & ~np.isnan(best[0]))      # takes its index (PyTorch)
        idx[k] = np.where(better, k, idx[k - 1])
        best[0] = np.where(better, data[k], best[0])
    idx = x.device.xp.asarray(np.moveaxis(idx, 0, d))
    return values_indices(Gather.apply(x, d, idx), wrap(idx))


def cummax(input, dim):
    """(running maximum, its index) along dim; ties take the later index; from a NaN on, the
    values are NaN and the index is the latest NaN's (PyTorch)."""
    return _cumulative_extreme(input, dim, False, "cummax")


def cummin(input, dim):
    return _cumulative_extreme(input, dim, True, "cummin")


# ---- order statistics ----------------------------------------------------------------------------
def _pick(x, d, order, position, keepdim):
    """(values, indices): the element at sorted `position` (an int array broadcast over the other
    dims, kept as a size-1 dim d) of each slice along d, with `order` the argsort along d."""
    idx = np.take_along_axis(order, position, axis=d)
    idx = x.device.xp.asarray(idx.astype(np.int64))
    values = Gather.apply(x, d, idx)
    idx = wrap(idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values_indices(values, idx)


def _argsort(x, d):
    return np.argsort(x.cpu().numpy(), axis=d, kind="stable")     # NaN sorts last


def _flat_or_dim(x, dim, name):
    """(tensor, dim): the flattened input with dim 0 when dim is None."""
    if dim is None:
        return x.reshape(-1), 0
    return x, norm_dim(dim, x.ndim, name)


def _check_nonempty(name, x, d):
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}: expected a non-empty dim {d}, got input of shape "
                         f"{tuple(x.shape)}")


def median(input, dim=None, keepdim=False):
    """The lower median (the ((n - 1) // 2)-th smallest element): of all elements (dim None, a
    0-d tensor; NaN for an empty float tensor; the gradient shared evenly by the elements equal
    to it, as PyTorch), or (values, indices) along dim (the gradient to the returned index).
    NaN propagates (it sorts last)."""
    return _median(input, dim, keepdim, "median", ignore_nan=False)


def nanmedian(input, dim=None, keepdim=False):
    """median over the non-NaN elements (NaN only where a slice holds nothing else)."""
    return _median(input, dim, keepdim, "nanmedian", ignore_nan=True)


def _median(input, dim, keepdim, name, ignore_nan):
    _refuse_bool(input, name, "_cpu" if dim is None else "_out")
    if dim is None:
        out = EvenlyDistributed.apply(input, _lower_median_of, ignore_nan)
        return out.reshape((1,) * input.ndim) if keepdim else out
    x, d = _flat_or_dim(input if input.ndim else input.reshape(1), dim, name)
    _check_nonempty(name, x, d)
    data = x.cpu().numpy()
    order = _argsort(x, d)
    nan = np.isnan(data) if data.dtype.kind == "f" else np.zeros(data.shape, bool)
    counts = (~nan).sum(axis=d, keepdims=True) if ignore_nan else \
        np.full(nan.sum(axis=d, keepdims=True).shape, x.shape[d])
    position = np.maximum(counts - 1, 0) // 2
    if not ignore_nan:                             # a NaN anywhere makes the result NaN
        position = np.where(nan.any(axis=d, keepdims=True), x.shape[d] - 1, position)
    out = _pick(x, d, order, position, keepdim)
    if dim is None:
        return out.values.reshape(()) if not keepdim else out.values
    return out if input.ndim else values_indices(out.values.reshape(()), out.indices.reshape(()))


def _lower_median_of(a, ignore_nan):
    """The lower median of all of array a (NaN if a holds one, unless ignore_nan; NaN when
    nothing is left): median()'s value, picked by EvenlyDistributed."""
    xp = array_module(a)
    flat = a.reshape(-1)
    if flat.dtype.kind == "f":
        nan = xp.isnan(flat)
        if nan.any():
            if not ignore_nan:
                return xp.asarray(xp.nan, dtype=a.dtype)
            flat = flat[~nan]
    if flat.size == 0:
        if a.dtype.kind != "f":
            raise IndexError(f"median(): cannot take the median of an empty {a.dtype} tensor "
                             f"(shape {a.shape})")
        return xp.asarray(xp.nan, dtype=a.dtype)
    return xp.sort(flat)[(flat.size - 1) // 2]


def _refuse_bool(input, name, kernel):
    if input._data.dtype == np.bool_:
        raise NotImplementedError(f'"{name}{kernel}" not implemented for \'Bool\' ({name}: input '
                                  f"shape {tuple(input.shape)})")


def kthvalue(input, k, dim=-1, keepdim=False):
    """(the k-th smallest element, its index) along dim (k counts from 1; NaN sorts last).
    Among equal elements the index is the one PyTorch's CPU kernel returns: its quickselect's
    (_quickselect, run on the slices where the k-th value is tied; deterministic, but neither
    the first nor the last occurrence)."""
    _refuse_bool(input, "kthvalue", "_cpu")
    x = input if input.ndim else input.reshape(1)
    d = norm_dim(dim, x.ndim, "kthvalue")
    if not 1 <= k <= x.shape[d]:
        raise RuntimeError(f"kthvalue: k ({k}) is out of range for dim {d} of size {x.shape[d]}")
    data = np.moveaxis(x.cpu().numpy(), d, -1)              # (..., n)
    rows = data.reshape(-1, data.shape[-1])
    order = np.argsort(rows, axis=-1, kind="stable")
    idx = order[:, k - 1].copy()
    kth = rows[np.arange(len(rows)), idx]
    same = (rows == kth[:, None]) | (np.isnan(rows) & np.isnan(kth)[:, None])
    for r in np.flatnonzero(same.sum(axis=-1) > 1):          # ties: PyTorch's pick
        idx[r] = _quickselect(rows[r].tolist(), k - 1)
    idx = np.expand_dims(idx.reshape(data.shape[:-1]), d)       # the picks, as an `order`
    out = _pick(x, d, idx, np.zeros(idx.shape, np.int64), keepdim)
    return out if input.ndim else values_indices(out.values.reshape(()), out.indices.reshape(()))


def _quickselect(values, k):
    """The index PyTorch's kthvalue returns (ATen's quick_select_template, the Numerical Recipes
    quickselect with median-of-three pivots; NaN counts as the largest): partition values in
    place, moving the original indices along, until position k holds the k-th smallest."""
    def gt(a, b):                                # a > b, or a is NaN and b is not
        return a > b or (a != a and b == b)

    pos = list(range(len(values)))

    def swap(i, j):
        values[i], values[j] = values[j], values[i]
        pos[i], pos[j] = pos[j], pos[i]

    lo, hi = 0, len(values) - 1
    while hi > lo + 1:
        mid = lo + (hi - lo) // 2
        swap(mid, lo + 1)
        for i, j in ((lo + 1, hi), (lo, hi), (lo + 1, lo)):     # median of three -> values[lo]
            if gt(values[i], values[j]):
                swap(i, j)
        i, j, pivot = lo + 1, hi, values[lo]
        while True:
            i += 1
            while gt(pivot, values[i]):
                i += 1
            j -= 1
            while gt(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    if hi == lo + 1 and gt(values[lo], values[hi]):
        swap(lo, hi)
    return pos[k]


def mode(input, dim=-1, keepdim=False):
    """(the most frequent value, the index of its last occurrence) along dim; among equally
    frequent values the smallest. NaNs are left out of the count (an all-NaN slice gives NaN,
    index 0): with NaN present, PyTorch's own answer depends on where its sort, whose `<` is not
    a strict weak order with NaN, happens to leave them, so it can differ here."""
    x = input if input.ndim else input.reshape(1)
    d = norm_dim(dim, x.ndim, "mode")
    _check_nonempty("mode", x, d)
    data = np.moveaxis(x.cpu().numpy(), d, -1)
    flat = data.reshape(-1, data.shape[-1])
    best = np.empty(flat.shape[0], dtype=np.int64)
    for r, row in enumerate(flat):
        nan = np.isnan(row) if row.dtype.kind == "f" else None
        if nan is not None and nan.all():
            best[r] = 0
            continue
        numbers = row if nan is None else row[~nan]
        values, counts = np.unique(numbers, return_counts=True)  # sorted: ties -> smallest
        value = values[np.argmax(counts)]
        best[r] = np.flatnonzero(row == value)[-1]
    idx = np.moveaxis(best.reshape(data.shape[:-1] + (1,)), -1, d)
    idx = x.device.xp.asarray(idx)
    values = Gather.apply(x, d, idx)
    out = values_indices(values, wrap(idx))
    if not keepdim:
        out = values_indices(values.squeeze(d), wrap(idx).squeeze(d))
    return out if input.ndim else values_indices(out.values.reshape(()), out.indices.reshape(()))


def quantile(input, q, dim=None, keepdim=False, interpolation="linear"):
    """The q-quantiles (q a number or a 1-D tensor in [0, 1]) along dim (all elements when None):
    position q * (n - 1) in sorted order, interpolated 'linear' | 'lower' | 'higher' |
    'midpoint' | 'nearest'. A tensor q adds a leading dim."""
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", ignore_nan=False)


def nanquantile(input, q, dim=None, keepdim=False, interpolation="linear"):
    """quantile over the non-NaN elements of each slice."""
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", ignore_nan=True)


def _quantile(input, q, dim, keepdim, interpolation, name, ignore_nan):
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"{name}: interpolation must be one of linear, lower, higher, midpoint "
                         f"and nearest, got {interpolation!r}")
    if input._data.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype, got "
                           f"{type_name(input._data.dtype)} (shape {tuple(input.shape)})")
    if input.numel() == 0:                   # PyTorch's checks (any empty input, any dim)
        raise RuntimeError(f"{name}() input tensor must be non-empty (shape "
                           f"{tuple(input.shape)})")
    if hasattr(q, "_data") and q._data.dtype != input._data.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor, got "
                           f"{type_name(q._data.dtype)} and {type_name(input._data.dtype)}")
    qs = np.atleast_1d(q.cpu().numpy() if hasattr(q, "_data") else np.asarray(q, np.float64))
    if qs.ndim > 1 or (qs < 0).any() or (qs > 1).any():
        raise RuntimeError(f"{name}: q must be a number or a 1-D tensor of values in [0, 1], got "
                           f"{q!r}")
    x0 = as_float(input)
    x, d = _flat_or_dim(x0 if x0.ndim else x0.reshape(1), dim, name)
    _check_nonempty(name, x, d)
    order = _argsort(x, d)
    data = x.cpu().numpy()
    nan = np.isnan(data)
    n = (~nan).sum(axis=d, keepdims=True) if ignore_nan else \
        np.full(nan.sum(axis=d, keepdims=True).shape, x.shape[d])
    outs = [_one_quantile(x, d, order, float(v), n, nan, interpolation, ignore_nan)
            for v in qs]
    out = stack(outs)                                  # (len(q), ...)
    if not keepdim:
        out = out.squeeze(d + 1)
    elif dim is None:
        out = out.reshape((len(qs),) + (1,) * x0.ndim)
    if x0.ndim == 0:                         # a 0-d input keeps no dim, keepdim or not
        out = out.reshape((len(qs),))
    return out[0] if not hasattr(q, "_data") and np.ndim(q) == 0 else out


def _one_quantile(x, d, order, q, n, nan, interpolation, ignore_nan):
    """The q-quantile along d, keeping d as a size-1 dim. A slice that gives NaN (quantile: one
    holding a NaN; nanquantile: an all-NaN one) picks a NaN, as PyTorch: the last in sorted
    order (quantile) or the first (nanquantile), which then gets the gradient."""
    # the rank in the input's dtype, as PyTorch's (float32: 0.6 * 5 is 3, where float64's
    # 3.0000001 makes 'higher' pick the next element)
    dt = x._data.dtype.type
    pos = (dt(q) * np.maximum(n - 1, 0).astype(dt)).astype(np.float64)
    if not ignore_nan:
        pos = np.where(nan.any(axis=d, keepdims=True), x.shape[d] - 1, pos)
    lower, upper = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    if interpolation == "nearest":
        lower = upper = np.round(pos).astype(np.int64)           # half to even, as PyTorch
    low = _pick(x, d, order, lower, True).values
    high = _pick(x, d, order, upper, True).values
    if interpolation == "lower":
        out = low
    elif interpolation in ("higher", "nearest"):
        out = high
    else:           # PyTorch's lerp (midpoint: at 0.5): -inf + (x + inf) w is -inf for w >= 0.5
        w = (pos - lower).astype(x._data.dtype)
        if interpolation == "midpoint":
            w = np.full_like(w, 0.5)
        xp = x.device.xp
        out = where(wrap(xp.asarray(w < 0.5)), low + (high - low) * wrap(xp.asarray(w)),
                    high - (high - low) * wrap(xp.asarray(1 - w)))
    return out


# ---- reduction pairs and NaN-ignoring reductions -------------------------------------------------
def aminmax(input, dim=None, keepdim=False):
    """(amin, amax) in one call (a namedtuple min, max)."""
    return min_max(amin(input, dim, keepdim), amax(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """(std, mean); floating inputs only, as in PyTorch."""
    return _std(input, dim, unbiased, keepdim, correction, "std_mean"), mean(input, dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """(var, mean); floating inputs only, as in PyTorch."""
    return _var(input, dim, unbiased, keepdim, correction, "var_mean"), mean(input, dim, keepdim)


def nansum(input, dim=None, keepdim=False, dtype=None):
    """sum with NaN counted as 0 (integer and bool inputs: sum, so int64)."""
    if input._data.dtype.kind != "f":
        return sum(input, dim, keepdim, dtype)
    return sum(where(input.detach().isnan(), 0.0, input), dim, keepdim, dtype)


def nanmean(input, dim=None, keepdim=False):
    """mean over the non-NaN elements; floating inputs only, as in PyTorch. Where tinygen
    differs, deliberately: the gradient of an all-NaN slice (whose mean is NaN) is 0, where
    PyTorch's is NaN (its nansum backward multiplies gy / 0 by 0)."""
    _require_floating(input, "nanmean(): expected input to have floating point or complex dtype "
                             "but got ")
    x = input
    keep = ~x.detach().isnan()
    return nansum(x, dim, keepdim) / sum(keep, dim, keepdim).to(x.dtype)


def count_nonzero(input, dim=None):
    """The number of nonzero elements (over dim, or all): int64, no gradient."""
    axes = norm_dims(dim, input.ndim, "count_nonzero")
    if input.ndim == 0:                      # dim 0 or -1 of a 0-d tensor: the tensor itself
        axes = None
    xp = array_module(input._data)
    return wrap(xp.asarray((input._data != 0).sum(axis=axes)).astype(np.int64))


def msort(input):
    """input sorted along dim 0 (the values)."""
    return input.sort(dim=0).values


def cov(input, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of input (variables, observations)
    (a 1-D input: one variable), with frequency and / or analytic observation weights:
    sum_i w_i (x_i - mean)(x_i - mean)^T / (sum w - correction * sum(w aw) / sum w)."""
    x = as_float(input)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    if x.ndim != 2:
        raise RuntimeError(f"cov: expected a 1-D or 2-D input, got shape {tuple(input.shape)}")
    n = x.shape[1]
    w = None
    for weights in (fweights, aweights):
        if weights is not None:
            w = weights.to(x.dtype) if w is None else w * weights.to(x.dtype)
    if w is None:
        centred = x - mean(x, 1, keepdim=True)
        out = (centred @ centred.t()) / max(n - correction, 0)
    else:
        total = sum(w)
        avg = sum(x * w, 1, keepdim=True) / total
        factor = total - correction * (sum(w * aweights.to(x.dtype)) / total
                                       if aweights is not None else 1)
        centred = x - avg
        out = ((centred * w) @ centred.t()) / factor
    return out.squeeze() if input.ndim < 2 else out


def corrcoef(input):
    """Pearson correlation coefficients of the rows of input (clipped to [-1, 1])."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = c.diagonal(0, -2, -1).sqrt()
    return (c / std.unsqueeze(1) / std.unsqueeze(0)).clamp(-1, 1)
