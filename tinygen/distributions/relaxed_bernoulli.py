"""The relaxed (Concrete) Bernoulli, as torch.distributions: LogitRelaxedBernoulli over the reals
and RelaxedBernoulli, its sigmoid, over (0, 1) (Maddison et al. 2017, "The Concrete
Distribution"; Jang et al. 2017, "Categorical Reparametrization with Gumbel-Softmax").

A draw with temperature t and log-odds l is, for U ~ U(0, 1) (clamped to [eps, 1 - eps]),
    x = (logit(U) + l) / t,        log p(x) = log t + (l - t x) - 2 log(1 + exp(l - t x)),
and y = sigmoid(x) in (0, 1) tends to a Bernoulli(sigmoid(l)) draw as t -> 0; rsample is
differentiable in the probabilities (and in t).

    z = RelaxedBernoulli(tg.tensor(0.5), logits=gate_logits).rsample()     # soft binary gates

Differences from PyTorch: temperature may also be a Python number (it becomes a tensor of the
parameter's dtype; PyTorch's log_prob needs a Tensor). As in PyTorch, LogitRelaxedBernoulli's
has_rsample is False although it has rsample, temperature is not validated, and
RelaxedBernoulli builds its base distribution with the default validate_args (so bad probs raise
even under validate_args=False).
"""
from __future__ import annotations

from ..autograd.function import wrap
from ..ops.random import random_array
from ..tensor import Tensor
from . import constraints
from .discrete import BinaryProbs, _clamp_probs, _one_of
from .distribution import Distribution, broadcast_all
from .transformed import TransformedDistribution
from .transforms import SigmoidTransform


def as_temperature(temperature, like):
    """temperature as given when a Tensor, else a 0-d tensor of like's dtype and device."""
    if isinstance(temperature, Tensor):
        return temperature
    return like.detach().new_full((), float(temperature))


class LogitRelaxedBernoulli(BinaryProbs):
    """The logit of a RelaxedBernoulli: temperature (a Tensor broadcasting with the batch) and
    exactly one of probs / logits; batch_shape is the parameter's shape, support the reals."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        _one_of("LogitRelaxedBernoulli", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            self._param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        self.temperature = as_temperature(temperature, self._param)
        super().__init__(tuple(self._param.shape), (), validate_args)

    def expand(self, batch_shape, _instance=None):
        """probs / logits expanded to batch_shape; temperature kept as it is (PyTorch's)."""
        batch_shape = tuple(batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        new.temperature = self.temperature
        for name in ("probs", "logits"):
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name].expand(batch_shape)
                new._param = new.__dict__[name]
        Distribution.__init__(new, batch_shape, (), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self):
        return tuple(self._param.shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = _clamp_probs(self.probs.expand(shape))
        uniforms = _clamp_probs(wrap(random_array("uniform", shape, probs.dtype, probs.device)))
        return (uniforms.log() - (-uniforms).log1p() + probs.log() - (-probs).log1p()) / \
            self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return self.temperature.log() + diff - 2 * diff.exp().log1p()


class RelaxedBernoulli(TransformedDistribution):
    """sigmoid of a LogitRelaxedBernoulli draw: a reparameterisable relaxation of
    Bernoulli(probs) with values in (0, 1); temperature and exactly one of probs / logits."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base_dist = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base_dist, SigmoidTransform(), validate_args=validate_args)

    temperature = property(lambda self: self.base_dist.temperature)
    logits = property(lambda self: self.base_dist.logits)
    probs = property(lambda self: self.base_dist.probs)
