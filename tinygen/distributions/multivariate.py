"""Distributions over vectors, as torch.distributions: Independent (batch dims reinterpreted as
event dims) and MultivariateNormal.

    q = Independent(Normal(mu, sigma), 1)       # a diagonal Gaussian over (N, D): batch (N,)
    q.log_prob(z)                               # sums the D per-dimension log densities

MultivariateNormal keeps the Cholesky factor L of the covariance (scale_tril, or
cholesky(covariance_matrix), or the factor of the inverse of precision_matrix):
    rsample = loc + L eps,   log_prob(x) = -(k log(2 pi) + |L^{-1} (x - loc)|^2) / 2 - sum log L_ii
through the triangular solve and Cholesky Functions of ops/decomp.py (differentiable).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import wrap
from ..ops.decomp import cholesky, cholesky_inverse, solve_triangular
from ..ops.random import random_array
from . import constraints
from .distribution import Distribution


class Independent(Distribution):
    """base_distribution with its last reinterpreted_batch_ndims batch dims made event dims:
    log_prob and entropy sum over them."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n = reinterpreted_batch_ndims
        batch = base_distribution.batch_shape
        if n > len(batch):
            raise ValueError(f"Independent: expected reinterpreted_batch_ndims <= "
                             f"len(base_distribution.batch_shape), actual {n} vs {len(batch)}")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        cut = len(batch) - n
        super().__init__(batch[:cut], batch[cut:] + base_distribution.event_shape, validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self):
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def support(self):
        if self.reinterpreted_batch_ndims == 0:            # the base's own, as PyTorch's
            return self.base_dist.support
        return constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    mean = property(lambda self: self.base_dist.mean)
    mode = property(lambda self: self.base_dist.mode)
    variance = property(lambda self: self.base_dist.variance)

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def enumerate_support(self, expand=True):
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError("Enumeration over cartesian product is not implemented")
        return self.base_dist.enumerate_support(expand=expand)

    def _sum_rightmost(self, value):
        for _ in range(self.reinterpreted_batch_ndims):
            value = value.sum(-1)
        return value

    def log_prob(self, value):
        return self._sum_rightmost(self.base_dist.log_prob(value))

    def entropy(self):
        return self._sum_rightmost(self.base_dist.entropy())

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"


def _precision_to_scale_tril(precision):
    """The lower Cholesky factor of precision^{-1} without inverting it (PyTorch's way): with
    Lf = chol(flip(P)), L = (flip(Lf)^T)^{-1} is lower triangular and L L^T = P^{-1}."""
    flipped = precision.flip(-2, -1)
    lower_f = cholesky(flipped)
    l_inv = lower_f.flip(-2, -1).transpose(-2, -1)
    eye = wrap(precision.device.xp.eye(precision.shape[-1], dtype=precision._data.dtype))
    return solve_triangular(l_inv, eye.expand(l_inv.shape), upper=False)


class MultivariateNormal(Distribution):
    """N(loc, Sigma) over vectors: loc (..., k) and one of covariance_matrix, precision_matrix,
    scale_tril (..., k, k); batch_shape is their broadcast batch shape, event_shape (k,)."""

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("MultivariateNormal: exactly one of covariance_matrix or "
                             "precision_matrix or scale_tril may be specified")
        matrix = given[0]
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if matrix.ndim < 2 or matrix.shape[-1] != loc.shape[-1]:
            raise ValueError(f"MultivariateNormal: expected loc (..., k) and a (..., k, k) "
                             f"matrix (at least two-dimensional, with optional leading batch "
                             f"dimensions), got loc {tuple(loc.shape)} and "
                             f"{tuple(matrix.shape)}")
        batch = tuple(np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        k = loc.shape[-1]
        self.loc = loc.expand(batch + (k,))
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch + (k, k))
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch + (k, k))
        else:
            self.precision_matrix = precision_matrix.expand(batch + (k, k))
        super().__init__(batch, (k,), validate_args)
        if scale_tril is None:
            self.scale_tril = cholesky(self.covariance_matrix) if covariance_matrix is not None \
                else _precision_to_scale_tril(self.precision_matrix)

    def __getattr__(self, name):
        # covariance and precision computed from scale_tril on first use
        if name == "covariance_matrix":
            value = self.scale_tril @ self.scale_tril.transpose(-2, -1)
        elif name == "precision_matrix":
            value = cholesky_inverse(self.scale_tril)
        else:
            raise AttributeError(f"'MultivariateNormal' object has no attribute {name!r}")
        self.__dict__[name] = value
        return value

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)
    variance = property(lambda self: (self.scale_tril * self.scale_tril).sum(-1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = wrap(random_array("normal", shape, self.loc.dtype, self.loc.device))
        return self.loc + (self.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self.scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc                                           # (..., k)
        shape = tuple(np.broadcast_shapes(tuple(diff.shape[:-1]), self._batch_shape))
        k = self._event_shape[0]
        tril = self.scale_tril.expand(shape + (k, k))
        solved = solve_triangular(tril, diff.expand(shape + (k,)).unsqueeze(-1), upper=False)
        mahalanobis = (solved.squeeze(-1) ** 2).sum(-1)
        return -0.5 * (k * math.log(2 * math.pi) + mahalanobis) - self._half_log_det()

    def entropy(self):
        k = self._event_shape[0]
        return 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
