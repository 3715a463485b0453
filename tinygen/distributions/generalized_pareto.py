"""GeneralizedPareto, as torch.distributions.generalized_pareto: the peaks-over-threshold
distribution with location loc, scale sigma and shape xi (concentration), z = (x - loc) / sigma:
    log p(x) = -log sigma - (1 / xi + 1) log(1 + xi z)     (xi != 0)
             = -log sigma - z                              (xi = 0, the exponential)
on x >= loc, and x <= loc - sigma / xi when xi < 0. rsample is the inverse cdf of a uniform
    icdf(u) = loc + sigma / xi ((1 - u)^(-xi) - 1)   (loc - sigma log(1 - u) at xi = 0).

Difference from PyTorch 2.13: log_prob, cdf and log_survival_function also work in float64
(PyTorch's compare the concentration with a float32 zero and fail for float64 parameters).
"""
from __future__ import annotations

import math

from ..ops.binary import where
from ..ops.compare import isclose
from . import constraints
from .continuous import _noise
from .distribution import Distribution, broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """GeneralizedPareto(loc, scale, concentration)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.shape, (), validate_args)

    def rsample(self, sample_shape=()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.loc)
        return self.icdf(u)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def _safe_concentration(self):
        """(xi == 0, xi with its zeros replaced by 1), so that no branch divides by 0."""
        eq_zero = isclose(self.concentration, self.concentration.detach() * 0)
        return eq_zero, where(eq_zero, 1.0, self.concentration)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        y = 1 / safe_conc + 1
        where_nonzero = where(y == 0, y, y * (safe_conc * z).log1p())
        return -self.scale.log() - where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        where_nonzero = -(safe_conc * z).log1p() / safe_conc
        return where(eq_zero, -z, where_nonzero)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        eq_zero, safe_conc = self._safe_concentration()
        logu = (-value).log1p()
        where_nonzero = self.loc + self.scale / safe_conc * (-safe_conc * logu).expm1()
        where_zero = self.loc - self.scale * logu
        return where(eq_zero, where_zero, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe_conc = where(valid, self.concentration, 0.5)
        return where(valid, self.loc + self.scale / (1 - safe_conc), math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe_conc = where(valid, self.concentration, 0.25)
        result = self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return where(valid, result, math.nan)

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(self._batch_shape)

    mode = property(lambda self: self.loc)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = where(self.concentration < 0, lower - self.scale / self.concentration,
                      math.inf)
        return constraints.interval(lower, upper)
