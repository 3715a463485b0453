"""Kumaraswamy, as torch.distributions.kumaraswamy: density a b x^(a - 1) (1 - x^a)^(b - 1) on
(0, 1), a = concentration1, b = concentration0. A TransformedDistribution of Uniform(0, 1) by
[PowerTransform(1 / b), AffineTransform(1, -1), PowerTransform(1 / a)]
(x = (1 - u^(1/b))^(1/a)), as PyTorch builds it.

    E[X^n] = b B(1 + n / a, b)

Difference from PyTorch: mode is the true mode (PyTorch 2.13's is nan everywhere).
"""
from __future__ import annotations

from ..ops.binary import where
from ..ops.special import digamma, lgamma
from . import constraints
from .continuous import Uniform
from .distribution import broadcast_all
from .more import EULER
from .transformed import TransformedDistribution
from .transforms import AffineTransform, PowerTransform

__all__ = ["Kumaraswamy"]


def _moments(a, b, n):
    """E[X^n] = b B(1 + n / a, b) of Kumaraswamy(a, b)."""
    arg1 = 1 + n / a
    log_value = lgamma(arg1) + lgamma(b) - lgamma(arg1 + b)
    return b * log_value.exp()


class Kumaraswamy(TransformedDistribution):
    """Kumaraswamy(concentration1 a, concentration0 b) on the unit interval."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        zeros = self.concentration0.detach() * 0
        base_dist = Uniform(zeros, zeros + 1, validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()),
                      AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    mean = property(lambda self: _moments(self.concentration1, self.concentration0, 1))

    @property
    def mode(self):
        """((a - 1) / (a b - 1))^(1 / a), nan where a < 1 or b < 1. Differs from PyTorch 2.13,
        whose formula (log1p(-b) / b - log1p(-a b)) gives nan for every a, b."""
        a, b = self.concentration1, self.concentration0
        log_mode = ((a - 1) / (a * b - 1)).log() / a
        return where((b < 1) | (a < 1), float("nan"), log_mode).exp()

    @property
    def variance(self):
        return _moments(self.concentration1, self.concentration0, 2) - self.mean ** 2

    def entropy(self):
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        h0 = digamma(self.concentration0 + 1) + EULER
        return t0 + t1 * h0 - self.concentration1.log() - self.concentration0.log()
