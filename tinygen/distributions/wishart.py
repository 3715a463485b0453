"""Wishart, as torch.distributions.wishart: positive-definite p x p matrices X = sum of df
outer products of N(0, Sigma) vectors (df real > p - 1), with Sigma = L L^T given as
covariance_matrix, precision_matrix or scale_tril:
    log p(X) = -df (p log 2 / 2 + log|L|) - mvlgamma(df / 2, p)
               + (df - p - 1) / 2 log|X| - tr(Sigma^-1 X) / 2.
rsample is the Bartlett decomposition: X = (L A)(L A)^T with A lower triangular, A_ii =
sqrt(Chi2(df - i)) and N(0, 1) below the diagonal (differentiable through the Chi2 draws).
An exponential family: natural parameters (-Sigma^-1 / 2, (df - p - 1) / 2); the KL between two
Wisharts is the Bregman divergence (ExponentialFamily's, as in PyTorch).

Difference from PyTorch 2.13: rsample redraws (up to max_try_correction times) only the
samples that are not positive definite; PyTorch's check is inverted, so it warns "Singular
sample detected." and redraws on every call (and backward through its rsample can then fail:
"modified by an inplace operation"). The gradient of log_prob with respect to scale_tril is
zero above the diagonal (log_prob reads only the lower triangle); PyTorch's cholesky_solve
backward puts values there.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import wrap
from ..ops.binary import where
from ..ops.decomp import cholesky, cholesky_solve, slogdet
from ..ops.random import random_array
from ..ops.special import digamma, mvlgamma
from . import constraints
from .distribution import broadcast_all, finfo, lazy_property
from .exp_family import ExponentialFamily
from .more import Chi2
from .multivariate import _precision_to_scale_tril

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def _mvdigamma(x, p):
    """The multivariate digamma: sum_{i < p} digamma(x - i / 2) (needs x > (p - 1) / 2)."""
    if not bool((x > (p - 1) / 2).all()):
        raise ValueError("Wrong domain for multivariate digamma function.")
    halves = wrap(x.device.xp.arange(p).astype(x._data.dtype)) / 2
    return digamma(x.unsqueeze(-1) - halves).sum(-1)


def _clamp_above_eps(x):
    return x.clamp(min=float(finfo(x).eps))


class Wishart(ExponentialFamily):
    """Wishart(df, covariance_matrix | precision_matrix | scale_tril (..., p, p))."""

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                                 "scale_tril may be specified.")
        param = given[0]
        if param.ndim < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if isinstance(df, (int, float)):
            batch_shape = tuple(param.shape[:-2])
            (self.df,) = broadcast_all(param.new_full((), float(df)))
        else:
            batch_shape = tuple(np.broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(batch_shape)
        p = param.shape[-1]
        if bool((self.df <= p - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        matrix = param.expand(batch_shape + (p, p))
        if scale_tril is not None:
            self.scale_tril = matrix
        elif covariance_matrix is not None:
            self.covariance_matrix = matrix
        else:
            self.precision_matrix = matrix
        if bool((self.df < p).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur "
                          "for ndim - 1 < df < ndim.", stacklevel=2)
        super().__init__(batch_shape, (p, p), validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self._dist_chi2 = self._chi2(self.df, batch_shape)

    def _chi2(self, df, batch_shape):
        """Chi2(df - i), i = 0..p-1: the squared diagonal of Bartlett's factor."""
        p = self._event_shape[-1]
        steps = wrap(df.device.xp.arange(p).astype(df._data.dtype))
        return Chi2(df.unsqueeze(-1) - steps.expand(tuple(batch_shape) + (p,)))

    def expand(self, batch_shape, _instance=None):
        new = _instance if _instance is not None else object.__new__(type(self))
        batch_shape = tuple(batch_shape)
        cov_shape = batch_shape + self._event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name].expand(cov_shape)
        ExponentialFamily.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._dist_chi2 = new._chi2(new.df, batch_shape)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        low = self._unbroadcasted_scale_tril
        return (low @ low.mT).expand(self._batch_shape + self._event_shape)

    @lazy_property
    def precision_matrix(self):
        low = self._unbroadcasted_scale_tril
        eye = wrap(low.device.xp.eye(self._event_shape[-1], dtype=low._data.dtype))
        return cholesky_solve(eye.expand(tuple(low.shape)), low).expand(
            self._batch_shape + self._event_shape)

    def _df_matrix(self, df):
        return df.reshape(self._batch_shape + (1, 1))

    @property
    def mean(self):
        return self._df_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = where(factor <= 0, float("nan"), factor)
        return self._df_matrix(factor) * self.covariance_matrix

    @property
    def variance(self):
        cov = self.covariance_matrix
        diag = cov.diagonal(0, -2, -1)
        return self._df_matrix(self.df) * (cov ** 2 + diag.unsqueeze(-1) * diag.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)                         # (..., p, p)
        low = self._unbroadcasted_scale_tril
        diagonal = _clamp_above_eps(self._dist_chi2.rsample(sample_shape).sqrt()).diag_embed()
        below = wrap(random_array("normal", shape, low.dtype, low.device)).tril(-1)
        chol = low @ (diagonal + below)
        return chol @ chol.mT

    def rsample(self, sample_shape=(), max_try_correction=None):
        """Bartlett draws; those that are not numerically positive definite are redrawn, up to
        max_try_correction (default 10) times, with a warning."""
        max_try_correction = 10 if max_try_correction is None else max_try_correction
        sample = self._bartlett_sampling(sample_shape)
        singular = ~self.support.check(sample.detach())
        if bool(singular.any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                redrawn = self._bartlett_sampling(sample_shape)
                sample = where(singular.unsqueeze(-1).unsqueeze(-1), redrawn, sample)
                singular = ~self.support.check(sample.detach())
                if not bool(singular.any()):
                    break
        return sample

    def _log_det_scale(self):
        p = self._event_shape[-1]
        return p * _LOG_2 / 2 + self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        low = self._unbroadcasted_scale_tril
        shape = tuple(np.broadcast_shapes(tuple(value.shape), tuple(low.shape)))
        trace = cholesky_solve(value.expand(shape), low.expand(shape)).diagonal(0, -2, -1)
        return -nu * self._log_det_scale() - mvlgamma(nu / 2, p) + \
            (nu - p - 1) / 2 * slogdet(value).logabsdet - trace.sum(-1) / 2

    def entropy(self):
        nu, p = self.df, self._event_shape[-1]
        return (p + 1) * self._log_det_scale() + mvlgamma(nu / 2, p) - \
            (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2

    @property
    def _natural_params(self):
        nu, p = self.df, self._event_shape[-1]
        return -self.precision_matrix / 2, (nu - p - 1) / 2

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        return (y + (p + 1) / 2) * (-slogdet(-2 * x).logabsdet + _LOG_2 * p) + \
            mvlgamma(y + (p + 1) / 2, p)
