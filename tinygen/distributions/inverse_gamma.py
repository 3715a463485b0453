"""InverseGamma, as torch.distributions.inverse_gamma: 1 / X for X ~ Gamma(concentration,
rate), density rate^a x^(-a - 1) exp(-rate / x) / Gamma(a) on x > 0. A TransformedDistribution
of Gamma by PowerTransform(-1), as PyTorch builds it (so its cdf is 1 - Gamma's cdf at 1 / x,
where tinygen's Gamma has a cdf).
"""
from __future__ import annotations

import math

from ..ops.binary import where
from ..ops.special import digamma, lgamma
from . import constraints
from .continuous import Gamma
from .transformed import TransformedDistribution
from .transforms import PowerTransform

__all__ = ["InverseGamma"]


class InverseGamma(TransformedDistribution):
    """InverseGamma(concentration a, rate b): mean b / (a - 1) for a > 1 (else inf), variance
    b^2 / ((a - 1)^2 (a - 2)) for a > 2 (else inf)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base_dist = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -base_dist.rate.detach().new_ones(())
        super().__init__(base_dist, PowerTransform(neg_one), validate_args=validate_args)

    concentration = property(lambda self: self.base_dist.concentration)
    rate = property(lambda self: self.base_dist.rate)

    @property
    def mean(self):
        result = self.rate / (self.concentration - 1)
        return where(self.concentration > 1, result, math.inf)

    mode = property(lambda self: self.rate / (self.concentration + 1))

    @property
    def variance(self):
        a = self.concentration
        result = self.rate.square() / ((a - 1).square() * (a - 2))
        return where(a > 2, result, math.inf)

    def entropy(self):
        a = self.concentration
        return a + self.rate.log() + lgamma(a) - (1 + a) * digamma(a)
