"""LogisticNormal, as torch.distributions.logistic_normal: StickBreakingTransform of a Normal
vector, a distribution on the simplex. A TransformedDistribution of
Independent(Normal(loc, scale), 1) (loc of shape (..., K) gives points of the K+1 simplex), as
PyTorch builds it; a scalar loc and scale are taken as a vector of one.

    X ~ LogisticNormal(loc, scale)  <=>  y ~ Normal(loc, scale), x = StickBreaking(y)
"""
from __future__ import annotations

from . import constraints
from .continuous import Normal
from .transformed import TransformedDistribution
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """LogisticNormal(loc, scale): event_shape (K + 1,) for loc / scale broadcast to (..., K)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    loc = property(lambda self: self.base_dist.base_dist.loc)
    scale = property(lambda self: self.base_dist.base_dist.scale)
