"""Discrete distributions, as torch.distributions: Bernoulli, Categorical, OneHotCategorical,
Poisson. Given by probs or by logits (exactly one); the other is computed on first use, as
PyTorch's lazy properties:
    Bernoulli:   logits = log p - log(1 - p),   probs = sigmoid(logits)
    Categorical: probs normalised over the last dim, logits = logits - logsumexp(logits)
with probabilities clamped to [eps, 1 - eps] before a log. Draws have no gradient (there is no
rsample: use the score function, or F.gumbel_softmax for a relaxation).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap
from ..autograd.grad_mode import no_grad
from ..ops.binary import where
from ..ops.loss import binary_cross_entropy_with_logits
from ..ops.pointwise import xlogy
from ..ops.random import _draw, bernoulli, multinomial, poisson
from ..ops.special import lgamma
from . import constraints
from .distribution import Distribution, broadcast_all, finfo, lazy_property


def _one_of(name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: either `probs` or `logits` must be specified, but not both")


def _count_and_chance(d, name, total_count, probs, logits):
    """Sets d.total_count and d.probs or d.logits (exactly one given), broadcast together, the
    count in their dtype; returns the batch shape (Binomial, NegativeBinomial)."""
    _one_of(name, probs, logits)
    chance = "probs" if probs is not None else "logits"
    count, value = broadcast_all(total_count, probs if probs is not None else logits)
    d.total_count = count.to(value.dtype)
    setattr(d, chance, value)
    return value.shape


def _clamp_probs(p):
    eps = float(finfo(p).eps)
    return p.clamp(eps, 1 - eps)


class BinaryProbs(Distribution):
    """A distribution given by a success probability, as probs or as logits (log-odds): each
    computed from the other on first use (Bernoulli, Geometric)."""

    @lazy_property
    def probs(self):
        return self.logits.sigmoid()

    @lazy_property
    def logits(self):
        p = _clamp_probs(self.probs)
        return p.log() - (-p).log1p()


class Bernoulli(BinaryProbs):
    """1 with probability probs (= sigmoid(logits)), else 0; elementwise."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of("Bernoulli", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            shape = self.probs.shape
        else:
            (self.logits,) = broadcast_all(logits)
            shape = self.logits.shape
        super().__init__(shape, (), validate_args)

    mean = property(lambda self: self.probs)
    variance = property(lambda self: self.probs * (1 - self.probs))

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return where(self.probs == 0.5, float("nan"), mode)

    def sample(self, sample_shape=()):
        with no_grad():
            return bernoulli(self.probs.expand(self._extended_shape(sample_shape)).detach())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = wrap(self.probs.device.xp.arange(2).astype(self.probs._data.dtype))
        values = values.reshape((2,) + (1,) * len(self._batch_shape))
        return values.expand((2,) + self._batch_shape) if expand else values


class Categorical(Distribution):
    """One of K classes with probabilities probs (..., K) (= softmax(logits)); batch_shape is
    probs.shape[:-1], a draw is an int64 index."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(
        constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of("Categorical", probs, logits)
        source = probs if probs is not None else logits
        if source.ndim < 1:
            raise ValueError("Categorical: `probs` / `logits` must be at least one-dimensional")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._num_events = source.shape[-1]
        super().__init__(source.shape[:-1], (), validate_args)

    @lazy_property
    def probs(self):
        return self.logits.softmax(-1)

    @lazy_property
    def logits(self):
        return _clamp_probs(self.probs).log()

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return self.probs.new_full(self._batch_shape, float("nan"))

    variance = mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        n = int(np.prod(shape[:len(shape) - len(self._batch_shape)], dtype=np.int64))
        rows = self.probs.detach().reshape(-1, self._num_events)           # (B, K)
        draws = multinomial(rows, max(n, 1), True).t()                       # (n, B)
        return draws[:n].reshape(shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long()
        shape = np.broadcast_shapes(tuple(value.shape), self._batch_shape)
        index = value.expand(shape).unsqueeze(-1)
        logits = self.logits.expand(tuple(shape) + (self._num_events,))
        return logits.gather(-1, index).squeeze(-1)

    def entropy(self):
        logits = self.logits.clamp(min=float(finfo(self.logits).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = wrap(self.probs.device.xp.arange(self._num_events, dtype=np.int64))
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((self._num_events,) + self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """A Categorical draw as a one-hot vector: event_shape (K,)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(
        constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=False)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args)

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    mean = property(lambda self: self._categorical.probs)
    variance = property(lambda self: self.probs * (1 - self.probs))

    @property
    def mode(self):
        return _one_hot(self._categorical.mode, self._event_shape[0], self.probs.dtype)

    def sample(self, sample_shape=()):
        draws = self._categorical.sample(sample_shape)
        return _one_hot(draws, self._event_shape[0], self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        k = self._event_shape[0]
        eye = wrap(self.probs.device.xp.eye(k, dtype=self.probs._data.dtype))
        values = eye.reshape((k,) + (1,) * len(self._batch_shape) + (k,))
        return values.expand((k,) + self._batch_shape + (k,)) if expand else values


def _one_hot(index, k, dtype):
    classes = wrap(index.device.xp.arange(k))
    return (index.unsqueeze(-1) == classes).to(dtype)


class Poisson(Distribution):
    """Poisson(rate): P(k) = rate^k exp(-rate) / k!."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, (), validate_args)

    mean = property(lambda self: self.rate)
    mode = property(lambda self: self.rate.floor())
    variance = property(lambda self: self.rate)

    def sample(self, sample_shape=()):
        with no_grad():
            return poisson(self.rate.expand(self._extended_shape(sample_shape)).detach())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)      # then dtypes promote as PyTorch's
        return xlogy(value, rate) - rate - lgamma(value + 1)


class Binomial(BinaryProbs):
    """The number of successes in total_count Bernoulli(probs) trials. sample draws with
    NumPy's binomial on the CPU (tinygen has no binomial op yet; torch.binomial's role)."""

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        super().__init__(_count_and_chance(self, "Binomial", total_count, probs, logits), (),
                         validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    mean = property(lambda self: self.total_count * self.probs)
    variance = property(lambda self: self.total_count * self.probs * (1 - self.probs))

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            n = self.total_count.expand(shape).detach().cpu().numpy().astype(np.int64)
            p = self.probs.expand(shape).detach().cpu().numpy()
            draws = _draw(self.probs.device, "binomial", n, p)
            return wrap(draws.astype(self.probs._data.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        clamp_by_zero = (logits.clamp(min=0) + logits - logits.clamp(max=0)) / 2
        normalize = n * clamp_by_zero + n * (-logits.abs()).exp().log1p() - lgamma(n + 1)
        return value * logits - lgamma(value + 1) - lgamma(n - value + 1) - normalize

    def _homogeneous_count(self, what):
        count = int(self.total_count.max().item())
        if self.total_count.min().item() != count:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return count

    def entropy(self):
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        count = self._homogeneous_count("enumerate_support")
        values = wrap(self.probs.device.xp.arange(1 + count).astype(self.probs._data.dtype))
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((1 + count,) + self._batch_shape) if expand else values
