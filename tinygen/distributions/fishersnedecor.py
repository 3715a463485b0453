"""FisherSnedecor, as torch.distributions.fishersnedecor: the F-distribution with df1 and df2
degrees of freedom, (X1 / df1) / (X2 / df2) for X_i ~ Chi2(df_i):
    log p(x) = lgamma((d1 + d2) / 2) - lgamma(d1 / 2) - lgamma(d2 / 2) + d1 / 2 log(d1 / d2)
               + (d1 / 2 - 1) log x - (d1 + d2) / 2 log(1 + d1 x / d2).
rsample divides two reparameterised Gamma draws, Gamma(df / 2, rate df) each (clamped to the
smallest positive float, as PyTorch's). mean nan for df2 <= 2, variance nan for df2 <= 4,
mode nan for df1 <= 2; no entropy (PyTorch has none).

Difference from PyTorch: a bad df is reported as FisherSnedecor's parameter (PyTorch's inner
Gamma raises first, naming its concentration); the exception type is the same.
"""
from __future__ import annotations

import math

from ..ops.binary import where
from ..ops.special import lgamma
from . import constraints
from .continuous import Gamma
from .distribution import Distribution, broadcast_all, finfo

__all__ = ["FisherSnedecor"]


def _clamp_tiny(x):
    """x clamped below at the smallest positive float; the clamped entries get no gradient,
    as after PyTorch's in-place clamp_."""
    return x.clamp(min=float(finfo(x).tiny))


class FisherSnedecor(Distribution):
    """FisherSnedecor(df1, df2), both positive."""

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        # not validated here: a bad df is reported as FisherSnedecor's (PyTorch's Gamma raises)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False)
        super().__init__(self.df1.shape, (), validate_args)

    @property
    def mean(self):
        df2 = where(self.df2 <= 2, math.nan, self.df2)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return where(self.df1 <= 2, math.nan, mode)

    @property
    def variance(self):
        df2 = where(self.df2 <= 4, math.nan, self.df2)
        return 2 * df2 ** 2 * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2) ** 2 * (df2 - 4))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = _clamp_tiny(self._gamma2.rsample(sample_shape).reshape(shape))
        return _clamp_tiny(x1 / x2)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        ct1, ct2 = self.df1 * 0.5, self.df2 * 0.5
        ct3 = self.df1 / self.df2
        t1 = lgamma(ct1 + ct2) - lgamma(ct1) - lgamma(ct2)
        t2 = ct1 * ct3.log() + (ct1 - 1) * value.log()
        t3 = (ct1 + ct2) * (ct3 * value).log1p()
        return t1 + t2 - t3
