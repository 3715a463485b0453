"""HalfCauchy, as torch.distributions.half_cauchy: |X| for X ~ Cauchy(0, scale), density
2 / (pi scale (1 + (x / scale)^2)) on x >= 0. A TransformedDistribution of Cauchy(0, scale) by
AbsTransform, as PyTorch builds it.
"""
from __future__ import annotations

import math

from ..ops.binary import where
from . import constraints
from .continuous import _as_dtype_of
from .more import Cauchy
from .transformed import TransformedDistribution
from .transforms import AbsTransform

__all__ = ["HalfCauchy"]


class HalfCauchy(TransformedDistribution):
    """HalfCauchy(scale): mean infinite, mode 0."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        base_dist = Cauchy(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    scale = property(lambda self: self.base_dist.scale)

    @property
    def mean(self):
        return self.scale.detach().new_full(self._extended_shape(), math.inf)

    mode = property(lambda self: self.scale * 0)
    variance = property(lambda self: self.base_dist.variance)

    def log_prob(self, value):
        value = _as_dtype_of(value, self.scale)              # PyTorch casts the value too
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return where(value >= 0, log_prob, float("-inf"))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)
