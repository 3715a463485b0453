"""Univariate continuous distributions, as torch.distributions: Normal, Uniform, Laplace,
Exponential, Gamma, Beta, and the Dirichlet (a distribution over the simplex).

Every one has rsample: a deterministic, differentiable map of parameter-free noise (Kingma &
Welling 2014): loc + scale * eps for Normal and Laplace, low + (high - low) u for Uniform, and the
implicitly reparameterised Gamma draws (ops/random.py's StandardGamma) for Gamma, and normalised
for Beta and Dirichlet. Densities, entropies and moments are the textbook formulas, written
with lgamma / digamma where the normalisers need them.
"""
from __future__ import annotations

import math

from ..autograd.function import wrap
from ..ops.binary import where
from ..ops.convert import as_array
from ..ops.pointwise import xlogy
from ..ops.random import random_array, standard_gamma
from ..ops.shape import stack
from ..ops.special import digamma, lgamma
from ..ops.special_more import gammainc
from ..tensor import Tensor
from . import constraints
from .distribution import LOG_SQRT_2PI, Distribution, broadcast_all, finfo


def _noise(kind, shape, like):
    return wrap(random_array(kind, shape, like.dtype, like.device))


class LocScale(Distribution):
    """A location-scale family over the reals (Normal, Laplace, Cauchy, Gumbel): loc and scale
    broadcast to the batch shape; samples are loc + scale * standard noise."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)


def _as_dtype_of(value, param):
    """value (a Tensor or a number) as a Tensor of param's dtype (Gamma's and HalfCauchy's
    log_prob compute in the parameters' dtype, as PyTorch's: a float64 value of a float32
    Gamma gives float32)."""
    if isinstance(value, Tensor):
        return value.to(param.dtype)
    return wrap(as_array(value, param.dtype, param.device))


class Normal(LocScale):
    """N(loc, scale^2), elementwise: batch_shape is the broadcast shape of loc and scale."""

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)
    stddev = property(lambda self: self.scale)
    variance = property(lambda self: self.scale * self.scale)

    def rsample(self, sample_shape=()):
        eps = _noise("normal", self._extended_shape(sample_shape), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - self.scale.log() - LOG_SQRT_2PI

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def icdf(self, value):
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)

    def entropy(self):
        return 0.5 + LOG_SQRT_2PI + self.scale.log()


class Uniform(Distribution):
    """U[low, high), elementwise. As PyTorch, the support checked by validate_args is the
    closed [low, high] (log_prob(high) is -inf, not an error)."""

    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, (), validate_args)

    @property
    def arg_constraints(self):
        return {"low": constraints.less_than(self.high),
                "high": constraints.greater_than(self.low)}

    def _check_parameters(self):
        try:
            super()._check_parameters()
        except ValueError as error:                  # PyTorch's message, plus the rule
            raise ValueError(f"{error}\n(Uniform needs low < high)") from None

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    mean = property(lambda self: (self.high + self.low) / 2)
    mode = property(lambda self: self.low * float("nan"))
    stddev = property(lambda self: (self.high - self.low) / 12 ** 0.5)
    variance = property(lambda self: (self.high - self.low) ** 2 / 12)

    def rsample(self, sample_shape=()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return (self.high - self.low).log()


class Laplace(LocScale):
    """Laplace(loc, scale): density exp(-|x - loc| / scale) / (2 scale)."""

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)
    stddev = property(lambda self: self.scale * 2 ** 0.5)
    variance = property(lambda self: self.scale * self.scale * 2)

    def rsample(self, sample_shape=()):
        eps = finfo(self.loc).eps
        u = _noise("uniform", self._extended_shape(sample_shape), self.loc) * (2 - eps) + \
            (eps - 1)                                                    # U(eps - 1, 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * (-z.abs() / self.scale).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()


class Exponential(Distribution):
    """Exp(rate): density rate exp(-rate x) on x >= 0."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, (), validate_args)

    mean = property(lambda self: self.rate.reciprocal())
    mode = property(lambda self: self.rate * 0)
    stddev = property(lambda self: self.rate.reciprocal())
    variance = property(lambda self: self.rate ** -2)

    def rsample(self, sample_shape=()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.rate)
        return -(-u).log1p() / self.rate                               # -log(1 - U) / rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1 - self.rate.log()


class Gamma(Distribution):
    """Gamma(concentration a, rate b): density b^a x^(a - 1) exp(-b x) / Gamma(a) on x > 0."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, (), validate_args)

    mean = property(lambda self: self.concentration / self.rate)
    mode = property(lambda self: ((self.concentration - 1) / self.rate).clamp(min=0))
    variance = property(lambda self: self.concentration / (self.rate * self.rate))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        value = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        tiny = float(finfo(value).tiny)              # draws that underflow to 0: tiny instead
        return value + (value.detach().clamp_min(tiny) - value.detach())

    def log_prob(self, value):
        value = _as_dtype_of(value, self.rate)                # PyTorch casts the value too
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return xlogy(a, b) + xlogy(a - 1, value) - b * value - lgamma(a)

    def cdf(self, value):
        """P(a, rate * value), the regularised lower incomplete gamma function: differentiable
        in value and rate, not in the concentration (NotImplementedError, as PyTorch's)."""
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self):
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1 - a) * digamma(a)


class Dirichlet(Distribution):
    """Dirichlet(concentration (..., K)) over the probability simplex: event_shape (K,)."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.ndim < 1:
            raise ValueError("Dirichlet: concentration must be at least one-dimensional")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args)

    mean = property(lambda self: self.concentration / self.concentration.sum(-1, keepdim=True))

    @property
    def mode(self):
        """(a - 1)+ normalised; where every a < 1, PyTorch's one-hot at the argmax of that."""
        am1 = (self.concentration - 1).clamp(min=0.0)
        mode = am1 / am1.sum(-1, keepdim=True)
        k = self.concentration.shape[-1]
        hot = (mode.argmax(-1, keepdim=True) == wrap(mode.device.xp.arange(k))).to(mode.dtype)
        return where((self.concentration < 1).all(-1, keepdim=True), hot, mode)

    @property
    def variance(self):
        a0 = self.concentration.sum(-1, keepdim=True)
        m = self.concentration / a0
        return m * (1 - m) / (a0 + 1)

    def rsample(self, sample_shape=()):
        gammas = standard_gamma(self.concentration.expand(self._extended_shape(sample_shape)))
        tiny = float(finfo(gammas).tiny)
        gammas = gammas + (gammas.detach().clamp_min(tiny) - gammas.detach())
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return xlogy(a - 1, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1)

    def entropy(self):
        a = self.concentration
        k, a0 = a.shape[-1], a.sum(-1)
        return lgamma(a).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0) - \
            ((a - 1) * digamma(a)).sum(-1)


class Beta(Distribution):
    """Beta(concentration1 a, concentration0 b) on [0, 1]: x^(a - 1) (1 - x)^(b - 1) / B(a, b).
    rsample: a Dirichlet((a, b)) draw's first coordinate."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        pair = stack([self.concentration1, self.concentration0], -1)        # (..., 2)
        self._dirichlet = Dirichlet(pair, validate_args=False)
        super().__init__(self.concentration1.shape, (), validate_args)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    mode = property(lambda self: self._dirichlet.mode.select(-1, 0))

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total * total * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # broadcast first, as PyTorch's (a 0-d float64 value of float32 parameters: float64)
        a, b, value = broadcast_all(self.concentration1, self.concentration0, value)
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - _log_beta(a, b)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return _log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b) + \
            (a + b - 2) * digamma(a + b)


def _log_beta(a, b):
    return lgamma(a) + lgamma(b) - lgamma(a + b)
