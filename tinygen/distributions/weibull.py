"""Weibull, as torch.distributions.weibull: scale * E^(1 / concentration), E ~ Exponential(1),
i.e. density (k / lambda) (x / lambda)^(k - 1) exp(-(x / lambda)^k) on x > 0. A
TransformedDistribution of Exponential(1) by [PowerTransform(1 / k), AffineTransform(0,
lambda)], as PyTorch builds it.
"""
from __future__ import annotations

from ..ops.special import lgamma
from . import constraints
from .continuous import Exponential
from .distribution import broadcast_all
from .more import EULER
from .transformed import TransformedDistribution
from .transforms import AffineTransform, PowerTransform

__all__ = ["Weibull"]


class Weibull(TransformedDistribution):
    """Weibull(scale lambda, concentration k)."""

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base_dist = Exponential(self.scale.detach() * 0 + 1, validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration_reciprocal),
                      AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    @property
    def mean(self):
        return self.scale * lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self):
        k = self.concentration
        return self.scale * ((k - 1) / k) ** k.reciprocal()

    @property
    def variance(self):
        return self.scale ** 2 * (lgamma(1 + 2 * self.concentration_reciprocal).exp() -
                                  (2 * lgamma(1 + self.concentration_reciprocal)).exp())

    def entropy(self):
        return EULER * (1 - self.concentration_reciprocal) + \
            (self.scale * self.concentration_reciprocal).log() + 1
