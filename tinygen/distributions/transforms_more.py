"""The structured transforms of torch.distributions.transforms (re-exported by transforms.py):
maps that act on whole vectors or matrices, or on parts of a tensor.

    IndependentTransform(t, n)   t with n more rightmost dims as event dims (log-Jacobian summed)
    ReshapeTransform(in, out)    reshape the rightmost dims (volume preserving)
    SoftmaxTransform             real vector -> simplex by softmax (not bijective; no Jacobian)
    StickBreakingTransform       R^K -> simplex in R^(K+1), bijective (the stick-breaking
                                 construction, with an offset so that 0 maps to the centre)
    LowerCholeskyTransform       square matrix -> lower triangle, diagonal exponentiated
    PositiveDefiniteTransform    square matrix -> L L^T of the above
    CorrCholeskyTransform        R^(D(D-1)/2) -> Cholesky factor of a D x D correlation matrix
                                 (tanh, then stick-breaking on each row; LKJ 2009)
    CatTransform / StackTransform   transforms applied to slices along a dim, as torch.cat /
                                 torch.stack join them
    CumulativeDistributionTransform  a distribution's cdf (its log_prob as the Jacobian)

The formulas are PyTorch's, term for term, so that values and gradients agree.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import wrap
from ..ops.activation import logsigmoid, softplus
from ..ops.decomp import cholesky
from ..ops.shape import cat, stack
from . import constraints
from .distribution import finfo
from .transforms_core import Transform, _sum_rightmost


def _clipped_sigmoid(x):
    f = finfo(x)
    return x.sigmoid().clamp(float(f.tiny), 1.0 - float(f.eps))


def _arange_like(like, n):
    return wrap(like.device.xp.arange(n).astype(like._data.dtype))


def _index(like, positions):
    return wrap(like.device.xp.asarray(positions, dtype=np.int64))


def _tril_positions(n, diag):
    """Flat (row-major) positions of the entries with col <= row + diag of an n x n matrix."""
    rows = np.arange(n)[:, None]
    cols = np.arange(n)[None, :]
    return np.flatnonzero(np.broadcast_to(cols < rows + (diag + 1), (n, n)))


def tril_matrix_to_vec(mat, diag=0):
    """The entries of (..., D, D) with col <= row + diag, row by row, as (..., N)."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    flat = mat.reshape(tuple(mat.shape[:-2]) + (n * n,))
    return flat[..., _index(mat, _tril_positions(n, diag))]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: (..., N) -> (..., D, D), zeros elsewhere."""
    b = 1 + 2 * diag
    n = (-b + (b * b + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(n) - n) > float(finfo(vec).eps):
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be "
                         f"expressed as the lower triangular part of a square D x D matrix.")
    n = round(n)
    positions = _tril_positions(n, diag)
    gather = np.full(n * n, len(positions), dtype=np.int64)      # -> the appended zero
    gather[positions] = np.arange(len(positions))
    padded = cat([vec, vec.new_zeros(tuple(vec.shape[:-1]) + (1,))], -1)
    return padded[..., _index(vec, gather)].reshape(tuple(vec.shape[:-1]) + (n, n))


class IndependentTransform(Transform):
    """base_transform with its reinterpreted_batch_ndims rightmost dims as event dims: the
    values are base_transform's, the log-Jacobian is summed over those dims."""

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims,
                                    cache_size=cache_size)

    @property
    def domain(self):
        return constraints.independent(self.base_transform.domain,
                                       self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return constraints.independent(self.base_transform.codomain,
                                       self.reinterpreted_batch_ndims)

    bijective = property(lambda self: self.base_transform.bijective)
    sign = property(lambda self: self.base_transform.sign)

    def _call(self, x):
        if x.ndim < self.domain.event_dim:
            raise ValueError("Too few dimensions on input")
        return self.base_transform(x)

    def _inverse(self, y):
        if y.ndim < self.codomain.event_dim:
            raise ValueError("Too few dimensions on input")
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        result = self.base_transform.log_abs_det_jacobian(x, y)
        return _sum_rightmost(result, self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """Reshapes the rightmost dims from in_shape to out_shape (a unit Jacobian)."""

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if int(np.prod(self.in_shape)) != int(np.prod(self.out_shape)):
            raise ValueError("in_shape, out_shape have different numbers of elements")
        super().__init__(cache_size=cache_size)

    domain = property(lambda self: constraints.independent(constraints.real,
                                                           len(self.in_shape)))
    codomain = property(lambda self: constraints.independent(constraints.real,
                                                             len(self.out_shape)))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def _call(self, x):
        batch_shape = tuple(x.shape[:x.ndim - len(self.in_shape)])
        return x.reshape(batch_shape + self.out_shape)

    def _inverse(self, y):
        batch_shape = tuple(y.shape[:y.ndim - len(self.out_shape)])
        return y.reshape(batch_shape + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(tuple(x.shape[:x.ndim - len(self.in_shape)]))

    def forward_shape(self, shape):
        return _swap_tail(tuple(shape), self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        return _swap_tail(tuple(shape), self.out_shape, self.in_shape)


def _swap_tail(shape, tail, new_tail):
    if len(shape) < len(tail):
        raise ValueError("Too few dimensions on input")
    cut = len(shape) - len(tail)
    if shape[cut:] != tail:
        raise ValueError(f"Shape mismatch: expected {shape[cut:]} but got {tail}")
    return shape[:cut] + new_tail


def _at_least_1d(shape):
    if len(shape) < 1:
        raise ValueError("Too few dimensions on input")
    return tuple(shape)


class SoftmaxTransform(Transform):
    """Real vectors to the simplex by exp and normalisation. Not bijective (adding a constant
    to x gives the same y); the inverse is log (one preimage) and there is no
    log_abs_det_jacobian, as in PyTorch."""

    domain = constraints.real_vector
    codomain = constraints.simplex

    def __eq__(self, other):
        return isinstance(other, SoftmaxTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        probs = (x - x.amax(-1, keepdim=True)).exp()
        return probs / probs.sum(-1, keepdim=True)

    def _inverse(self, y):
        return y.log()

    def forward_shape(self, shape):
        return _at_least_1d(shape)

    def inverse_shape(self, shape):
        return _at_least_1d(shape)


class StickBreakingTransform(Transform):
    """R^K to the simplex in R^(K+1): z_k = sigmoid(x_k - log(K + 1 - k)) breaks off a fraction
    z_k of the stick left; bijective, with a triangular Jacobian."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other):
        return isinstance(other, StickBreakingTransform)

    __hash__ = Transform.__hash__

    @staticmethod
    def _offset(like, k):
        return k + 1 - (_arange_like(like, k) + 1)          # K, K - 1, ..., 1

    def _call(self, x):
        z = _clipped_sigmoid(x - self._offset(x, x.shape[-1]).log())
        z_cumprod = (1 - z).cumprod(-1)
        ones = x.new_ones(tuple(x.shape[:-1]) + (1,))
        return cat([z, ones], -1) * cat([ones, z_cumprod], -1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        offset = self._offset(y, y.shape[-1] - 1)
        sf = (1 - y_crop.cumsum(-1)).clamp(min=float(finfo(y).tiny))
        return y_crop.log() - sf.log() + offset.log()

    def log_abs_det_jacobian(self, x, y):
        x = x - self._offset(x, x.shape[-1]).log()
        return (-x + logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        shape = _at_least_1d(shape)
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        shape = _at_least_1d(shape)
        return shape[:-1] + (shape[-1] - 1,)


class LowerCholeskyTransform(Transform):
    """Square matrices to lower-triangular ones with a positive diagonal: the strict lower
    triangle kept, the diagonal exponentiated (no log_abs_det_jacobian, as in PyTorch)."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def __eq__(self, other):
        return isinstance(other, LowerCholeskyTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.tril(-1) + x.diagonal(0, -2, -1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(0, -2, -1).log().diag_embed()


class PositiveDefiniteTransform(Transform):
    """Square matrices to positive-definite ones: L L^T of LowerCholeskyTransform's L (no
    log_abs_det_jacobian, as in PyTorch)."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def __eq__(self, other):
        return isinstance(other, PositiveDefiniteTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        lower = LowerCholeskyTransform()(x)
        return lower @ lower.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(cholesky(y))


class CorrCholeskyTransform(Transform):
    """R^(D(D-1)/2) to the Cholesky factors of D x D correlation matrices: x -> tanh(x) fills
    the strict lower triangle row by row (partial correlations), then each row is
    stick-broken so that it has unit norm (Lewandowski, Kurowicka & Joe 2009)."""

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        x = x.tanh()
        eps = float(finfo(x).eps)
        x = x.clamp(min=-1 + eps, max=1 - eps)
        r = vec_to_tril_matrix(x, diag=-1)                           # (..., D, D)
        z1m_cumprod_sqrt = (1 - r ** 2).sqrt().cumprod(-1)
        d = r.shape[-1]
        r = r + wrap(r.device.xp.eye(d, dtype=r._data.dtype))
        ones = r.new_ones(tuple(r.shape[:-1]) + (1,))
        return r * cat([ones, z1m_cumprod_sqrt[..., :-1]], -1)

    def _inverse(self, y):
        y_cumsum = 1 - (y * y).cumsum(-1)
        ones = y.new_ones(tuple(y.shape[:-1]) + (1,))
        y_cumsum_shifted = cat([ones, y_cumsum[..., :-1]], -1)
        y_vec = tril_matrix_to_vec(y, diag=-1)
        y_cumsum_vec = tril_matrix_to_vec(y_cumsum_shifted, diag=-1)
        t = y_vec / y_cumsum_vec.sqrt()
        return (t.log1p() - (-t).log1p()) / 2                       # atanh

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        y1m_cumsum = 1 - (y * y).cumsum(-1)
        y1m_cumsum_tril = tril_matrix_to_vec(y1m_cumsum, diag=-2)
        stick_breaking_logdet = 0.5 * y1m_cumsum_tril.log().sum(-1)
        tanh_logdet = -2 * (x + softplus(-2 * x) - math.log(2.0)).sum(-1)
        return stick_breaking_logdet + tanh_logdet

    def forward_shape(self, shape):
        shape = _at_least_1d(shape)
        n = shape[-1]
        d = round((0.25 + 2 * n) ** 0.5 + 0.5)
        if d * (d - 1) // 2 != n:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return shape[:-1] + (d, d)

    def inverse_shape(self, shape):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        d = shape[-1]
        return shape[:-2] + (d * (d - 1) // 2,)


def _check_part(what, t, dim, size, expected):
    if not -t.ndim <= dim < t.ndim:
        raise ValueError(f"{what}: dim {dim} out of range for a tensor with {t.ndim} "
                         f"dimensions")
    if t.shape[dim] != expected:
        raise ValueError(f"{what}: {size}.size({dim}) = {t.shape[dim]} must equal "
                         f"{expected}")


class CatTransform(Transform):
    """transforms[i] applied to the i-th slice (of lengths[i], default 1) along dim, the
    results joined with cat; the log-Jacobians joined the same way (summed where dim is an
    event dim)."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("CatTransform: every element of tseq must be a Transform")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError(f"CatTransform: {len(self.lengths)} lengths for "
                             f"{len(self.transforms)} transforms")
        self.dim = dim

    event_dim = property(lambda self: max(t.event_dim for t in self.transforms))
    length = property(lambda self: sum(self.lengths))
    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    domain = property(lambda self: constraints.cat([t.domain for t in self.transforms],
                                                   self.dim, self.lengths))
    codomain = property(lambda self: constraints.cat([t.codomain for t in self.transforms],
                                                     self.dim, self.lengths))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _slices(self, t):
        start = 0
        for length in self.lengths:
            yield t.narrow(self.dim, start, length)
            start = start + length

    def _call(self, x):
        _check_part("CatTransform", x, self.dim, "x", self.length)
        return cat([t(s) for t, s in zip(self.transforms, self._slices(x))], self.dim)

    def _inverse(self, y):
        _check_part("CatTransform", y, self.dim, "y", self.length)
        return cat([t.inv(s) for t, s in zip(self.transforms, self._slices(y))], self.dim)

    def log_abs_det_jacobian(self, x, y):
        _check_part("CatTransform", x, self.dim, "x", self.length)
        _check_part("CatTransform", y, self.dim, "y", self.length)
        parts = []
        for t, xs, ys in zip(self.transforms, self._slices(x), self._slices(y)):
            part = t.log_abs_det_jacobian(xs, ys)
            if t.event_dim < self.event_dim:
                part = _sum_rightmost(part, self.event_dim - t.event_dim)
            parts.append(part)
        dim = self.dim - x.ndim if self.dim >= 0 else self.dim
        dim = dim + self.event_dim
        if dim < 0:
            return cat(parts, dim)
        return sum(parts)


class StackTransform(Transform):
    """transforms[i] applied to x.select(dim, i), the results stacked along dim (the
    log-Jacobians too)."""

    def __init__(self, tseq, dim=0, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("StackTransform: every element of tseq must be a Transform")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms, self.dim = list(tseq), dim

    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    domain = property(lambda self: constraints.stack([t.domain for t in self.transforms],
                                                     self.dim))
    codomain = property(lambda self: constraints.stack([t.codomain for t in self.transforms],
                                                       self.dim))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _slice(self, z, what):
        _check_part("StackTransform", z, self.dim, what, len(self.transforms))
        return [z.select(self.dim, i) for i in range(z.shape[self.dim])]

    def _call(self, x):
        parts = zip(self._slice(x, "x"), self.transforms)
        return stack([t(s) for s, t in parts], self.dim)

    def _inverse(self, y):
        parts = zip(self._slice(y, "y"), self.transforms)
        return stack([t.inv(s) for s, t in parts], self.dim)

    def log_abs_det_jacobian(self, x, y):
        parts = zip(self._slice(x, "x"), self._slice(y, "y"), self.transforms)
        return stack([t.log_abs_det_jacobian(xs, ys) for xs, ys, t in parts], self.dim)


class CumulativeDistributionTransform(Transform):
    """x -> distribution.cdf(x) onto the unit interval; the inverse is its icdf and the
    log-Jacobian its log_prob (a copula's building block)."""

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    domain = property(lambda self: self.distribution.support)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)
