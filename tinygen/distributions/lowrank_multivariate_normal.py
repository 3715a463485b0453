"""LowRankMultivariateNormal, as torch.distributions: a Gaussian over vectors whose covariance is
a low-rank factor plus a diagonal,
    Sigma = W W^T + D,    loc (..., n), cov_factor W (..., n, m), cov_diag D (..., n),
for m << n (factor analysis, the posteriors of low-rank VAEs and SWAG). The n x n covariance is
never factorised: everything goes through the m x m capacitance matrix C = I + W^T D^{-1} W and
    log|Sigma| = log|C| + log|D|                                  (matrix determinant lemma)
    Sigma^{-1} = D^{-1} - D^{-1} W C^{-1} W^T D^{-1}               (Woodbury identity)
with C's Cholesky factor, so log_prob costs O(n m^2) instead of O(n^3). The formulas are
PyTorch's (torch/distributions/lowrank_multivariate_normal.py), term for term, so values and
gradients agree.

    q = LowRankMultivariateNormal(mu, W, softplus(d))     # mu (B, n), W (B, n, m), d (B, n)
    z = q.rsample()                                       # mu + W eps_m + sqrt(D) eps_n

Differences from PyTorch: validate_args checks the parameters before the capacitance matrix is
factorised, so a non-positive cov_diag raises ValueError naming cov_diag (PyTorch may raise its
LinAlgError from the Cholesky first); the parameters must be Tensors (a TypeError otherwise).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import wrap
from ..ops.decomp import cholesky, solve_triangular
from ..ops.random import random_array
from ..ops.shape import broadcast_tensors
from ..tensor import Tensor
from . import constraints
from .discrete import lazy_property
from .distribution import Distribution


def _eye_plus(k):
    """k + I over the last two dims (k square)."""
    n = k.shape[-1]
    return k + wrap(k.device.xp.eye(n, dtype=k._data.dtype))


def batch_mv(bmat, bvec):
    """Matrix-vector products over broadcast batch dims: (..., n, m) @ (..., m) -> (..., n)."""
    return (bmat @ bvec.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(bL, bx):
    """|L^{-1} x|^2 for a lower-triangular L (..., n, n) and x (..., n), batch dims broadcast."""
    solved = solve_triangular(bL, bx.unsqueeze(-1), upper=False).squeeze(-1)
    return (solved * solved).sum(-1)


def batch_trace_XXT(bmat):
    """tr(X X^T) = the sum of X's squared entries, over the last two dims."""
    return (bmat * bmat).sum((-2, -1))


def batch_capacitance_tril(W, D):
    """The Cholesky factor of C = I + W^T D^{-1} W: W (..., n, m), D (..., n) -> (..., m, m)."""
    Wt_Dinv = W.mT / D.unsqueeze(-2)                                       # (..., m, n)
    return cholesky(_eye_plus(Wt_Dinv @ W))


def batch_lowrank_logdet(W, D, capacitance_tril):
    """log|W W^T + D| = log|C| + log|D| (matrix determinant lemma)."""
    return 2 * capacitance_tril.diagonal(0, -2, -1).log().sum(-1) + D.log().sum(-1)


def batch_lowrank_mahalanobis(W, D, x, capacitance_tril):
    """x^T (W W^T + D)^{-1} x by the Woodbury identity:
    x^T D^{-1} x - |C_L^{-1} W^T D^{-1} x|^2, C_L the capacitance's Cholesky factor."""
    Wt_Dinv = W.mT / D.unsqueeze(-2)                                       # (..., m, n)
    term1 = (x * x / D).sum(-1)
    term2 = batch_mahalanobis(capacitance_tril, batch_mv(Wt_Dinv, x))
    return term1 - term2


def _check_shapes(loc, cov_factor, cov_diag):
    for name, value in (("loc", loc), ("cov_factor", cov_factor), ("cov_diag", cov_diag)):
        if not isinstance(value, Tensor):
            raise TypeError(f"LowRankMultivariateNormal: expected {name} to be a Tensor, got "
                            f"{type(value).__name__}")
    if loc.ndim < 1:
        raise ValueError("loc must be at least one-dimensional.")
    n = loc.shape[-1]
    if cov_factor.ndim < 2:
        raise ValueError("cov_factor must be at least two-dimensional, with optional leading "
                         "batch dimensions")
    if cov_factor.shape[-2] != n:
        raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m")
    if cov_diag.ndim < 1 or cov_diag.shape[-1] != n:
        raise ValueError(f"cov_diag must be a batch of vectors with shape {(n,)}")


class LowRankMultivariateNormal(Distribution):
    """N(loc, cov_factor cov_factor^T + diag(cov_diag)): batch_shape the broadcast batch shape of
    the three parameters, event_shape (n,). Moments and matrices (variance, scale_tril,
    covariance_matrix, precision_matrix) are computed on first use."""

    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        _check_shapes(loc, cov_factor, cov_diag)
        event_shape = (loc.shape[-1],)
        try:
            loc_, self.cov_factor, cov_diag_ = broadcast_tensors(
                loc.unsqueeze(-1), cov_factor, cov_diag.unsqueeze(-1))       # (..., n, m)
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"Incompatible batch shapes: loc {tuple(loc.shape)}, cov_factor "
                             f"{tuple(cov_factor.shape)}, cov_diag {tuple(cov_diag.shape)}"
                             ) from error
        self.loc = loc_[..., 0]
        self.cov_diag = cov_diag_[..., 0]
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        super().__init__(tuple(self.loc.shape[:-1]), event_shape, validate_args)
        self._capacitance_tril = batch_capacitance_tril(cov_factor, cov_diag)

    def expand(self, batch_shape, _instance=None):
        """Parameters expanded to batch_shape; the unbroadcasted ones and the capacitance
        factor shared, as PyTorch's."""
        batch_shape = tuple(batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        loc_shape = batch_shape + self._event_shape
        new.loc = self.loc.expand(loc_shape)
        new.cov_diag = self.cov_diag.expand(loc_shape)
        new.cov_factor = self.cov_factor.expand(loc_shape + tuple(self.cov_factor.shape[-1:]))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)

    def _full(self, value, event_dims=1):
        return value.expand(self._batch_shape + self._event_shape * event_dims)

    @lazy_property
    def variance(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return self._full((W * W).sum(-1) + D)

    @lazy_property
    def scale_tril(self):
        """sqrt(D) chol(I + D^{-1/2} W W^T D^{-1/2}): the bracket has eigenvalues >= 1, so its
        Cholesky is well conditioned (Rasmussen & Williams 2006, section 3.4.3)."""
        D_sqrt = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)            # (..., n, 1)
        Dinvsqrt_W = self._unbroadcasted_cov_factor / D_sqrt                   # (..., n, m)
        K = _eye_plus(Dinvsqrt_W @ Dinvsqrt_W.mT)                             # (..., n, n)
        return self._full(D_sqrt * cholesky(K), 2)

    @lazy_property
    def covariance_matrix(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return self._full(W @ W.mT + D.diag_embed(), 2)

    @lazy_property
    def precision_matrix(self):
        """D^{-1} - A^T A with A = C_L^{-1} W^T D^{-1} (Woodbury)."""
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        A = solve_triangular(self._capacitance_tril, W.mT / D.unsqueeze(-2), upper=False)
        return self._full(D.reciprocal().diag_embed() - A.mT @ A, 2)

    def rsample(self, sample_shape=()):
        """loc + W eps_W + sqrt(D) eps_D with eps_W (..., m) and eps_D (..., n) standard normal."""
        shape = self._extended_shape(sample_shape)
        W_shape = shape[:-1] + tuple(self.cov_factor.shape[-1:])
        eps_W = wrap(random_array("normal", W_shape, self.loc.dtype, self.loc.device))
        eps_D = wrap(random_array("normal", shape, self.loc.dtype, self.loc.device))
        return self.loc + batch_mv(self._unbroadcasted_cov_factor, eps_W) + \
            self._unbroadcasted_cov_diag.sqrt() * eps_D

    def _log_det(self):
        return batch_lowrank_logdet(self._unbroadcasted_cov_factor,
                                    self._unbroadcasted_cov_diag, self._capacitance_tril)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = batch_lowrank_mahalanobis(self._unbroadcasted_cov_factor,
                                      self._unbroadcasted_cov_diag, diff, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + self._log_det() + M)

    def entropy(self):
        H = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return H if not self._batch_shape else H.expand(self._batch_shape)


def combined_batch_shape(*shapes):
    """The broadcast of batch shapes (torch._C._infer_size)."""
    return tuple(np.broadcast_shapes(*(tuple(s) for s in shapes)))
