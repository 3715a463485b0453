"""NegativeBinomial, as torch.distributions.negative_binomial: the number of successes of
Bernoulli(probs) trials before total_count failures (total_count may be any real >= 0).

    log p(k) = total_count log(1 - p) + k log p + lgamma(total_count + k)
               - lgamma(k + 1) - lgamma(total_count)

(0 for total_count = k = 0, where lgamma(0) is infinite). Draws are Poisson(Gamma(total_count,
rate = (1 - p) / p)) (the Gamma-Poisson mixture), as PyTorch's.
"""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..ops.activation import logsigmoid
from ..ops.binary import where
from ..ops.random import poisson
from ..ops.special import lgamma
from . import constraints
from .continuous import Gamma
from .discrete import BinaryProbs, _count_and_chance
from .distribution import lazy_property

__all__ = ["NegativeBinomial"]


class NegativeBinomial(BinaryProbs):
    """total_count (float or Tensor, >= 0) and exactly one of probs (in [0, 1)) / logits."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        super().__init__(_count_and_chance(self, "NegativeBinomial", total_count, probs, logits),
                         (), validate_args)

    param_shape = property(lambda self: self._batch_shape)
    mean = property(lambda self: self.total_count * self.logits.exp())
    variance = property(lambda self: self.mean / (-self.logits).sigmoid())

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @lazy_property
    def _gamma(self):
        # not validated: total_count may be 0
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(),
                     validate_args=False)

    def sample(self, sample_shape=()):
        with no_grad():
            rate = self._gamma.sample(sample_shape)
            return poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized_prob = self.total_count * logsigmoid(-self.logits) + \
            value * logsigmoid(self.logits)
        log_normalization = -lgamma(self.total_count + value) + lgamma(1.0 + value) + \
            lgamma(self.total_count)
        log_normalization = where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
