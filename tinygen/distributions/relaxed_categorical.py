"""The relaxed (Concrete / Gumbel-softmax) one-hot categorical, as torch.distributions:
ExpRelaxedCategorical over log-simplex points and RelaxedOneHotCategorical, its exp, over the
simplex (Maddison et al. 2017; Jang et al. 2017).

With temperature t, logits l (..., K) and Gumbel noise g = -log(-log U):
    x = s - logsumexp(s),   s = (l + g) / t                                     (a draw)
    log p(x) = log (K - 1)! + (K - 1) log t + sum_k (l_k - t x_k) - K logsumexp(l - t x)
and exp(x) = softmax((l + g) / t) is F.gumbel_softmax's soft sample; it tends to a one-hot
Categorical(logits=l) draw as t -> 0, and rsample is differentiable in l (and t).

    y = RelaxedOneHotCategorical(tg.tensor(0.5), logits=logits).rsample()   # (N, K) soft one-hot

Differences from PyTorch: temperature may also be a Python number (it becomes a tensor of the
logits' dtype; PyTorch's log_prob needs a Tensor). As in PyTorch, temperature is not validated
and broadcasts against the (..., K) scores as given (shape it (..., 1) for one per batch row),
and the support checked by RelaxedOneHotCategorical's log_prob is the simplex.
"""
from __future__ import annotations

import math

from ..autograd.function import wrap
from ..ops.random import random_array
from . import constraints
from .discrete import Categorical, _clamp_probs
from .distribution import Distribution, broadcast_all
from .relaxed_bernoulli import as_temperature
from .transformed import TransformedDistribution
from .transforms import ExpTransform


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical draw: temperature and exactly one of probs /
    logits (..., K); batch_shape (...), event_shape (K,), support the real vectors (the draws lie
    on the submanifold logsumexp(x) = 0)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        self.temperature = as_temperature(temperature, probs if probs is not None else logits)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args)

    def expand(self, batch_shape, _instance=None):
        """The categorical expanded to batch_shape; temperature kept as it is (PyTorch's)."""
        batch_shape = tuple(batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    param_shape = property(lambda self: self._batch_shape + self._event_shape)
    logits = property(lambda self: self._categorical.logits)
    probs = property(lambda self: self._categorical.probs)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        logits = self.logits
        uniforms = _clamp_probs(wrap(random_array("uniform", shape, logits.dtype,
                                                  logits.device)))
        gumbels = -((-(uniforms.log())).log())
        scores = (logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        k = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_scale = math.lgamma(k) + self.temperature.log() * (k - 1)
        score = logits - value * self.temperature
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """exp of an ExpRelaxedCategorical draw: a reparameterisable relaxation of
    OneHotCategorical(probs / logits) with values on the simplex."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base_dist = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base_dist, ExpTransform(), validate_args=validate_args)

    temperature = property(lambda self: self.base_dist.temperature)
    logits = property(lambda self: self.base_dist.logits)
    probs = property(lambda self: self.base_dist.probs)
