"""ContinuousBernoulli, as torch.distributions.continuous_bernoulli (Loaiza-Ganem &
Cunningham 2019): density C(p) p^x (1 - p)^(1 - x) on [0, 1], with normaliser
    C(p) = 2 atanh(1 - 2p) / (1 - 2p)      (2 at p = 1/2),
a VAE likelihood for pixels in [0, 1]. Near p = 1/2 (inside `lims`) the normaliser, mean and
variance switch to their Taylor expansions, as PyTorch does, to stay accurate.

    x ~ icdf(u) = log(1 - p + u (2p - 1)) - log(1 - p)) / (log p - log(1 - p)),   rsample too

An exponential family with natural parameter the logit (Bregman KL with another
ContinuousBernoulli is registered in closed form in kl_families.py).
"""
from __future__ import annotations

import math

from ..autograd.grad_mode import no_grad
from ..ops.binary import where
from ..ops.loss import binary_cross_entropy_with_logits
from . import constraints
from .continuous import _noise
from .discrete import _clamp_probs, _one_of
from .distribution import broadcast_all, lazy_property
from .exp_family import ExponentialFamily

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(ExponentialFamily):
    """ContinuousBernoulli(probs or logits, lims=(0.499, 0.501)). probs are clamped to
    [eps, 1 - eps]; with validate_args given explicitly, probs outside [0, 1] raise first."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        _one_of("ContinuousBernoulli", probs, logits)
        if probs is not None:
            (probs,) = broadcast_all(probs)
            if validate_args is not None and \
                    not bool(self.arg_constraints["probs"].check(probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = _clamp_probs(probs)
            shape = self.probs.shape
        else:
            (self.logits,) = broadcast_all(logits)
            shape = self.logits.shape
        self._lims = lims
        super().__init__(shape, (), validate_args)

    @lazy_property
    def logits(self):
        p = _clamp_probs(self.probs)
        return p.log() - (-p).log1p()

    @lazy_property
    def probs(self):
        return _clamp_probs(self.logits.sigmoid())

    param_shape = property(lambda self: self._batch_shape)

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return where(self._outside_unstable_region(), self.probs, self._lims[0])

    def _cont_bern_log_norm(self):
        """log C(p), the log normaliser (a Taylor expansion around p = 1/2)."""
        cut_probs = self._cut_probs()
        below_half = where(cut_probs <= 0.5, cut_probs, 0.0)
        above_half = where(cut_probs >= 0.5, cut_probs, 1.0)
        log_norm = ((-cut_probs).log1p() - cut_probs.log()).abs().log() - where(
            cut_probs <= 0.5, (-2.0 * below_half).log1p(), (2.0 * above_half - 1.0).log())
        x = (self.probs - 0.5) ** 2
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut_probs = self._cut_probs()
        mus = cut_probs / (2.0 * cut_probs - 1.0) + 1.0 / ((-cut_probs).log1p() - cut_probs.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x ** 2) * x
        return where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    @property
    def variance(self):
        cut_probs = self._cut_probs()
        variances = cut_probs * (cut_probs - 1.0) / (1.0 - 2.0 * cut_probs) ** 2 + \
            1.0 / ((-cut_probs).log1p() - cut_probs.log()) ** 2
        x = (self.probs - 0.5) ** 2
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return where(self._outside_unstable_region(), variances, taylor)

    def sample(self, sample_shape=()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.probs)
        with no_grad():
            return self.icdf(u).detach()

    def rsample(self, sample_shape=()):
        u = _noise("uniform", self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none") + \
            self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut_probs = self._cut_probs()
        cdfs = (cut_probs ** value * (1.0 - cut_probs) ** (1.0 - value) + cut_probs - 1.0) / \
            (2.0 * cut_probs - 1.0)
        unbounded_cdfs = where(self._outside_unstable_region(), cdfs, value)
        return where(value <= 0.0, 0.0, where(value >= 1.0, 1.0, unbounded_cdfs))

    def icdf(self, value):
        cut_probs = self._cut_probs()
        inverse = ((-cut_probs + value * (2.0 * cut_probs - 1.0)).log1p() -
                   (-cut_probs).log1p()) / (cut_probs.log() - (-cut_probs).log1p())
        return where(self._outside_unstable_region(), inverse, value)

    def entropy(self):
        log_probs0 = (-self.probs).log1p()
        log_probs1 = self.probs.log()
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """F(eta) = log((exp(eta) - 1) / eta) (its Taylor expansion near eta = 0)."""
        out_unst_reg = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut_nat_params = where(out_unst_reg, x, self._lims[0] - 0.5)
        log_norm = cut_nat_params.expm1().abs().log() - cut_nat_params.abs().log()
        taylor = 0.5 * x + x ** 2 / 24.0 - x ** 4 / 2880.0
        return where(out_unst_reg, log_norm, taylor)
