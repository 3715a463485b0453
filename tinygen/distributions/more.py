"""More univariate distributions, as torch.distributions: Cauchy, HalfNormal, LogNormal,
Gumbel, Chi2, StudentT (continuous, with rsample) and Geometric (discrete). Each is written out
directly (PyTorch builds some from transforms; the densities and draws are the same):
    Cauchy:    loc + scale tan(pi (u - 1/2))        HalfNormal: |N(0, scale^2)|
    LogNormal: exp(N(loc, scale^2))                 Gumbel:     loc - scale log(-log u)
    Chi2(df) = Gamma(df / 2, 1/2)                   StudentT:   loc + scale z / sqrt(c / df),
                                                                z ~ N(0, 1), c ~ Chi2(df)
"""
from __future__ import annotations

import math

from ..ops.binary import where
from ..ops.loss import binary_cross_entropy_with_logits
from ..ops.special import digamma, lgamma
from . import constraints
from .continuous import Gamma, LocScale, Normal, _noise
from .discrete import BinaryProbs, _one_of
from .distribution import LOG_SQRT_2PI, Distribution, broadcast_all, finfo

EULER = 0.57721566490153286060


class Cauchy(LocScale):
    """Cauchy(loc, scale): density 1 / (pi scale (1 + ((x - loc) / scale)^2)); no moments."""

    # undefined / infinite whatever the parameters: constants, no graph (as PyTorch's)
    mean = property(lambda self: self.loc.detach() * float("nan"))
    mode = property(lambda self: self.loc)
    variance = property(lambda self: self.loc.detach() * 0 + float("inf"))

    def rsample(self, sample_shape=()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.loc)
        return self.loc + self.scale * ((u - 0.5) * math.pi).tan()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z * z).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return ((value - 0.5) * math.pi).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class HalfNormal(Distribution):
    """|X| for X ~ N(0, scale^2)."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        (self.scale,) = broadcast_all(scale)
        super().__init__(self.scale.shape, (), validate_args)

    mean = property(lambda self: self.scale * math.sqrt(2 / math.pi))
    mode = property(lambda self: self.scale * 0)
    variance = property(lambda self: self.scale * self.scale * (1 - 2 / math.pi))

    def rsample(self, sample_shape=()):
        return (_noise("normal", self._extended_shape(sample_shape), self.scale) * self.scale).abs()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = value / self.scale
        log_p = math.log(2) - 0.5 * z * z - self.scale.log() - LOG_SQRT_2PI
        return where(value >= 0, log_p, float("-inf"))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (value / (self.scale * math.sqrt(2))).erf()

    def icdf(self, value):
        return self.scale * value.erfinv() * math.sqrt(2)

    def entropy(self):
        return 0.5 * math.log(math.pi / 2) + self.scale.log() + 0.5


class LogNormal(Distribution):
    """exp(X) for X ~ N(loc, scale^2)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.base_dist = Normal(loc, scale, validate_args=validate_args)
        self.loc, self.scale = self.base_dist.loc, self.base_dist.scale
        super().__init__(self.loc.shape, (), validate_args)

    mean = property(lambda self: (self.loc + self.scale * self.scale / 2).exp())
    mode = property(lambda self: (self.loc - self.scale * self.scale).exp())

    @property
    def variance(self):
        s2 = self.scale * self.scale
        return s2.expm1() * (2 * self.loc + s2).exp()

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape).exp()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_value = value.log()
        return self.base_dist.log_prob(log_value) - log_value

    def cdf(self, value):
        return self.base_dist.cdf(value.log())         # validated there, as PyTorch's

    def icdf(self, value):
        return self.base_dist.icdf(value).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc


class Gumbel(LocScale):
    """Gumbel(loc, scale): density exp(-(z + exp(-z))) / scale, z = (x - loc) / scale.

    Difference from PyTorch 2.13: cdf is the closed form exp(-exp(-z)) for every real value;
    PyTorch's (a TransformedDistribution of a Uniform on [tiny, 1 - eps)) raises ValueError
    under validate_args where the cdf rounds to 1."""

    mean = property(lambda self: self.loc + self.scale * EULER)
    mode = property(lambda self: self.loc)
    stddev = property(lambda self: self.scale * (math.pi / math.sqrt(6)))
    variance = property(lambda self: self.stddev ** 2)

    def rsample(self, sample_shape=()):
        f = finfo(self.loc)
        u = _noise("uniform", self._extended_shape(sample_shape), self.loc)
        u = u * (1 - f.eps - f.tiny) + f.tiny                     # U(tiny, 1 - eps)
        return self.loc - self.scale * (-u.log()).log()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (self.loc - value) / self.scale
        return (y - y.exp()) - self.scale.log()

    def cdf(self, value):
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value):
        return self.loc - self.scale * (-value.log()).log()

    def entropy(self):
        return self.scale.log() + (1 + EULER)


class Chi2(Gamma):
    """Chi-squared with df degrees of freedom: Gamma(df / 2, rate 1/2)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        (self.df,) = broadcast_all(df)
        super().__init__(self.df * 0.5, self.df * 0 + 0.5, validate_args)


class StudentT(Distribution):
    """Student's t with df degrees of freedom, location loc and scale scale."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(self.df.shape, (), validate_args)

    mode = property(lambda self: self.loc)

    @property
    def mean(self):
        return where(self.df > 1, self.loc, float("nan"))

    @property
    def variance(self):
        finite = self.scale * self.scale * self.df / (self.df - 2).clamp(min=1e-300)
        return where(self.df > 2, finite, where(self.df > 1, float("inf"), float("nan")))

    def rsample(self, sample_shape=()):
        z = _noise("normal", self._extended_shape(sample_shape), self.df)
        c = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * z * (self.df / c).sqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        norm = self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + \
            lgamma(0.5 * self.df) - lgamma(0.5 * (self.df + 1))
        return -0.5 * (self.df + 1) * (y * y / self.df).log1p() - norm

    def entropy(self):
        lbeta = lgamma(0.5 * self.df) + math.lgamma(0.5) - lgamma(0.5 * (self.df + 1))
        return self.scale.log() + 0.5 * (self.df + 1) * (
            digamma(0.5 * (self.df + 1)) - digamma(0.5 * self.df)) + 0.5 * self.df.log() + lbeta


class Geometric(BinaryProbs):
    """The number of failures before the first success of Bernoulli(probs) trials: 0, 1, 2..."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of("Geometric", probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        source = probs if probs is not None else logits
        super().__init__(broadcast_all(source)[0].shape, (), validate_args)
        if self._validate_args and probs is not None and not bool((self.probs > 0).all()):
            raise ValueError(f"Expected parameter probs (Tensor of shape "
                             f"{tuple(self.probs.shape)}) of distribution {self!r} to be "
                             f"positive but found invalid values:\n{self.probs}")

    mean = property(lambda self: 1 / self.probs - 1)
    mode = property(lambda self: self.probs * 0)
    variance = property(lambda self: (1 / self.probs - 1) / self.probs)

    def sample(self, sample_shape=()):
        tiny = float(finfo(self.probs).tiny)
        u = _noise("uniform", self._extended_shape(sample_shape), self.probs).clamp(min=tiny)
        return (u.log() / (-self.probs.detach()).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs,
                                                reduction="none") / self.probs
