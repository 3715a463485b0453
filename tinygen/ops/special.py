"""Special functions: lgamma, digamma, polygamma, mvlgamma, erfc, erfinv (as torch.special and
the torch.* names), computed by scipy.special on the CPU and cupyx.scipy.special on a GPU.

Each derivative is the next function of the family, so every order is differentiable:
    lgamma' = digamma = polygamma(0, .),   polygamma(n, .)' = polygamma(n + 1, .)
    erfc'(x) = -2 / sqrt(pi) exp(-x^2),      erfinv'(x) = sqrt(pi) / 2 exp(erfinv(x)^2)
(Abramowitz & Stegun 6.4.1 and 7.1.19). The gamma-family functions also serve the Gamma, Beta
and Dirichlet distributions. scipy's polygamma is accurate to rounding; PyTorch's float64
trigamma (polygamma(1, .)) is off by up to ~1e-9 relative, so gradients through digamma (the
entropy of Beta, Gamma, Dirichlet...) differ from PyTorch's at that level.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend.device import array_module
from .convert import as_float
from .elementwise import QUIET, Exp


def special_array(name, *args):
    """scipy.special.<name>(*args) on NumPy arrays, cupyx.scipy.special's on CuPy arrays, cast to
    the dtype of the last argument (the array one)."""
    x = args[-1]
    if type(x).__module__.startswith("cupy"):
        import cupyx.scipy.special as sp  # lazy: CuPy is optional
    else:
        import scipy.special as sp  # lazy: scipy.special costs start-up time
    with np.errstate(**QUIET):
        out = getattr(sp, name)(*args)
    return array_module(x).asarray(out).astype(x.dtype, copy=False)


class Lgamma(Function):
    """log |Gamma(x)|."""

    def forward(self, x):
        self.save_for_backward(x)
        return special_array("gammaln", x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Polygamma.apply(x, 0)


class Polygamma(Function):
    """The n-th derivative of digamma (n = 0: digamma itself)."""

    def forward(self, x, n):
        self.n = n
        self.save_for_backward(x)
        if n == 0:
            return special_array("digamma", x)
        return special_array("polygamma", n, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Polygamma.apply(x, self.n + 1), None


class Erfc(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return special_array("erfc", x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Exp.apply(-(x * x)) * (-2 / math.sqrt(math.pi))


class Erfinv(Function):
    def forward(self, x):
        y = special_array("erfinv", x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * Exp.apply(y * y) * (math.sqrt(math.pi) / 2)


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def lgamma(input):
    return Lgamma.apply(as_float(input))


def digamma(input):
    return Polygamma.apply(as_float(input), 0)


def polygamma(n, input):
    """The n-th derivative of digamma at input (n >= 0), as torch.polygamma(n, input)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative int, got {n!r}")
    return Polygamma.apply(as_float(input), n)


def polygamma_method(input, n):
    """Tensor.polygamma(n): the method takes n after the tensor."""
    return polygamma(n, input)


def mvlgamma(input, p):
    """The log of the multivariate gamma function of dimension p:
    p (p - 1) / 4 log(pi) + sum_{j < p} lgamma(x - j / 2); every element must exceed (p - 1) / 2."""
    x = as_float(input)
    if p < 1:
        raise ValueError(f"mvlgamma: p must be >= 1, got {p}")
    if bool((x.detach() <= (p - 1) / 2).any()):
        raise RuntimeError(f"mvlgamma: all elements must be greater than (p - 1) / 2 = "
                           f"{(p - 1) / 2} (input of shape {tuple(x.shape)})")
    out = lgamma(x)
    for j in range(1, p):
        out = out + lgamma(x - j / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


def erfc(input):
    return Erfc.apply(as_float(input))


def erfinv(input):
    return Erfinv.apply(as_float(input))
