"""OneHotCategorical and OneHotCategoricalStraightThrough, as
torch.distributions.one_hot_categorical.

OneHotCategoricalStraightThrough's rsample is the straight-through estimator (Bengio et al.
2013): the forward value is a one-hot draw, the gradient that of the probabilities,
    rsample() = sample() + (probs - probs.detach()).
"""
from __future__ import annotations

from .discrete import OneHotCategorical

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical with a straight-through rsample (biased, differentiable in probs)."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())
