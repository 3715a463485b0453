"""Multinomial, as torch.distributions.multinomial: counts of total_count draws from a
Categorical(probs / logits) over K classes (event_shape (K,)).

    m = Multinomial(100, probs=tg.tensor([1.0, 1.0, 1.0, 1.0]))
    x = m.sample()                                      # counts summing to 100
    Multinomial(probs=tg.tensor([1.0, 1.0, 1.0, 1.0])).log_prob(x)   # total_count not needed

    log p(x) = log n! - sum_k log x_k! + sum_k x_k log p_k,   n = sum_k x_k

sample needs one int total_count for every batch member (as PyTorch's); log_prob takes the
count from the value. Draws come from NumPy's multinomial on tinygen's generator (PyTorch
scatters Categorical draws; the distribution is the same).

Differences from PyTorch 2.13: entropy uses the exact log n! (PyTorch's lgamma of an integer
tensor is float32, about 1e-7 off in float64); sample with total_count 0 gives zeros (PyTorch
raises "cannot sample n_sample <= 0 samples"); an expand()ed Multinomial keeps its inner
Binomial, so its entropy works (PyTorch's expand drops it: AttributeError).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import wrap
from ..autograd.grad_mode import no_grad
from ..ops.binary import where
from ..ops.random import _draw
from ..ops.special import lgamma
from . import constraints
from .discrete import Binomial, Categorical
from .distribution import Distribution, broadcast_all

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """Counts of total_count (an int) draws from Categorical(probs / logits (..., K))."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    logits = property(lambda self: self._categorical.logits)
    probs = property(lambda self: self._categorical.probs)
    param_shape = property(lambda self: self._batch_shape + self._event_shape)
    mean = property(lambda self: self.probs * self.total_count)
    variance = property(lambda self: self.total_count * self.probs * (1 - self.probs))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)                 # (*sample, *batch, K)
        with no_grad():
            p = self.probs.detach().cpu().numpy().astype(np.float64)
            p = p / p.sum(-1, keepdims=True)
            counts = _draw(self.probs.device, "multinomial", self.total_count, p, shape[:-1])
            return wrap(counts.astype(self.probs._data.dtype))

    def entropy(self):
        n = self.total_count
        term1 = n * self._categorical.entropy() - math.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]      # (n, 1.., 1)
        binomial_probs = self._binomial.log_prob(support).exp()           # (n, *batch, K)
        weights = lgamma(support + 1)
        term2 = (binomial_probs * weights).sum(0).sum(-1)
        return term1 + term2

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = lgamma(value.sum(-1) + 1)
        log_factorial_xs = lgamma(value + 1).sum(-1)
        logits = where((value == 0) & (logits == float("-inf")), 0.0, logits)   # 0 * -inf
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers
