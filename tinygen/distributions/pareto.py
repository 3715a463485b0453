"""Pareto (type I), as torch.distributions.pareto: scale * exp(E), E ~ Exponential(alpha),
i.e. density alpha scale^alpha / x^(alpha + 1) on x >= scale. A TransformedDistribution of
Exponential(alpha) by [ExpTransform(), AffineTransform(0, scale)], as PyTorch builds it.

    Pareto(tg.tensor([1.0]), tg.tensor([1.0])).sample()     # scale 1, alpha 1
"""
from __future__ import annotations

from . import constraints
from .continuous import Exponential
from .distribution import broadcast_all
from .transformed import TransformedDistribution
from .transforms import AffineTransform, ExpTransform

__all__ = ["Pareto"]


class Pareto(TransformedDistribution):
    """Pareto(scale, alpha): support [scale, inf); mean infinite for alpha <= 1, variance
    infinite for alpha <= 2."""

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base_dist = Exponential(self.alpha, validate_args=validate_args)
        transforms = [ExpTransform(), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)                        # inf for alpha <= 1
        return a * self.scale / (a - 1)

    mode = property(lambda self: self.scale)

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)                        # inf for alpha <= 2
        return self.scale ** 2 * a / ((a - 1) ** 2 * (a - 2))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())
