"""VonMises, as torch.distributions.von_mises: the circular normal distribution on angles,
density exp(kappa cos(x - loc)) / (2 pi I0(kappa)).

log I0 and log I1 use the polynomial approximations PyTorch uses (Abramowitz & Stegun 9.8.1-4,
relative error about 1e-7), written in tensor ops so that they are differentiable as
PyTorch's; sampling is Best & Fisher's (1979) rejection sampler, in float64, as PyTorch's.
Draws lie in [-pi, pi). No rsample, entropy or cdf (PyTorch has none either).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import wrap
from ..autograd.grad_mode import no_grad
from ..ops.binary import where
from ..ops.random import random_array
from . import constraints
from .distribution import Distribution, broadcast_all, lazy_property

__all__ = ["VonMises"]

_I0_COEF_SMALL = [1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2]
_I0_COEF_LARGE = [0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2,
                  -0.2057706e-1, 0.2635537e-1, -0.1647633e-1, 0.392377e-2]
_I1_COEF_SMALL = [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2,
                  0.32411e-3]
_I1_COEF_LARGE = [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1,
                  0.2282967e-1, -0.2895312e-1, 0.1787654e-1, -0.420059e-2]
_COEF_SMALL = [_I0_COEF_SMALL, _I1_COEF_SMALL]
_COEF_LARGE = [_I0_COEF_LARGE, _I1_COEF_LARGE]


def _eval_poly(y, coef):
    """sum_i coef[i] y^i by Horner's rule."""
    coef = list(coef)
    result = coef.pop()
    while coef:
        result = coef.pop() + y * result
    return result


def _log_modified_bessel_fn(x, order=0):
    """log I_order(x) for x > 0, order 0 or 1."""
    if order not in (0, 1):
        raise ValueError(f"_log_modified_bessel_fn: order must be 0 or 1, got {order}")
    y = (x / 3.75) ** 2                                   # small x: a polynomial in (x/3.75)^2
    small = _eval_poly(y, _COEF_SMALL[order])
    if order == 1:
        small = x.abs() * small
    small = small.log()
    y = 3.75 / x                                          # large x: exp(x) / sqrt(x) poly(3.75/x)
    large = x - 0.5 * x.log() + _eval_poly(y, _COEF_LARGE[order]).log()
    return where(x < 3.75, small, large)


def _rejection_sample(loc, concentration, proposal_r, shape):
    """Best & Fisher's sampler on float64 arrays of the batch shape broadcast to shape."""
    x = np.zeros(shape)
    done = np.zeros(shape, dtype=bool)
    while not done.all():
        u1, u2, u3 = (random_array("uniform", (3,) + tuple(shape), np.float64))
        z = np.cos(math.pi * u1)
        f = (1 + proposal_r * z) / (proposal_r + z)
        c = concentration * (proposal_r - f)
        with np.errstate(divide="ignore", invalid="ignore"):
            accept = ((c * (2 - c) - u2) > 0) | (np.log(c / u2) + 1 - c >= 0)
        x = np.where(accept & ~done, np.sign(u3 - 0.5) * np.arccos(f), x)
        done = done | accept
    return np.mod(x + math.pi + loc, 2 * math.pi) - math.pi


class VonMises(Distribution):
    """VonMises(loc, concentration kappa > 0) on the circle."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, (), validate_args)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.concentration * (value - self.loc).cos()
        return log_prob - math.log(2 * math.pi) - \
            _log_modified_bessel_fn(self.concentration, order=0)

    @lazy_property
    def _proposal_r(self):
        kappa = self.concentration.detach().cpu().numpy().astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = 1 + np.sqrt(1 + 4 * kappa ** 2)
            rho = (tau - np.sqrt(2 * tau)) / (2 * kappa)
            proposal_r = (1 + rho ** 2) / (2 * rho)
            taylor = 1 / kappa + kappa
        return np.where(kappa < 1e-5, taylor, proposal_r)

    def sample(self, sample_shape=()):
        """Rejection sampling (Best & Fisher 1979) in float64, cast to loc's dtype."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            loc = self.loc.detach().cpu().numpy().astype(np.float64)
            kappa = self.concentration.detach().cpu().numpy().astype(np.float64)
            x = _rejection_sample(loc, kappa, self._proposal_r, shape)
            return wrap(self.loc.device.xp.asarray(x.astype(self.loc._data.dtype)))

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)

    @lazy_property
    def variance(self):
        """The circular variance 1 - I1(kappa) / I0(kappa)."""
        return 1 - (_log_modified_bessel_fn(self.concentration, order=1) -
                    _log_modified_bessel_fn(self.concentration, order=0)).exp()
