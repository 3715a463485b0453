"""Bessel and Airy functions of torch.special: i0, i0e, i1, i1e (differentiable, also in float16)
and airy_ai, bessel_j0 / j1 / y0 / y1, modified_bessel_i0 / i1 / k0 / k1,
scaled_modified_bessel_k0 / k1, spherical_bessel_j0 (no gradient, as in PyTorch: their outputs
do not require grad). Values from scipy.special (cupyx.scipy.special on a GPU), with PyTorch's
edge values where SciPy's differ (airy_ai); spherical_bessel_j0 is PyTorch's formula on `xp`.

The derivatives, as PyTorch's (tools/autograd/derivatives.yaml, A&S 9.6.27):
    i0' = i1,   i0e' = i1e - sgn(x) i0e,   i1' = i0 - i1 / x,   i1e' = i0e - i1e (sgn(x) + 1 / x)
with the limit 1/2 of the last two where |x| <= eps, each written with Tensor ops, so
differentiable again.

Where tinygen differs: the values are SciPy's, accurate to float64's last digits, where PyTorch's
float64 kernels (rational approximations) are off by up to ~1e-6 relative (airy_ai near -2.5) or
~1e-7 (bessel_j0 / j1 / y0 / y1 near 5); in float32 both round differently at large arguments
of the oscillating functions. airy_ai(x) for x < about -1e7 is the asymptotic series' leading
term (PyTorch adds O(x^-3/2) corrections). On a GPU, airy_ai raises NotImplementedError
(cupyx.scipy.special has no airy).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend.settings import finfo
from .binary import where
from . import elementwise as _el
from .special_more import float_input, scipy_special


class I0(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return scipy_special("i0", "i0", x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * I1.apply(x)


class I0e(Function):
    """exp(-|x|) i0(x)."""

    def forward(self, x):
        y = scipy_special("i0e", "i0e", x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * (I1e.apply(x) - _el.sign(x) * y)


class I1(Function):
    def forward(self, x):
        y = scipy_special("i1", "i1", x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * _i1_slope(x, y, scaled=False)


class I1e(Function):
    """exp(-|x|) i1(x)."""

    def forward(self, x):
        y = scipy_special("i1e", "i1e", x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * _i1_slope(x, y, scaled=True)


def _i1_slope(x, y, scaled):
    """d i1 / dx = i0(x) - i1(x) / x (scaled: i0e(x) - i1e(x) (sgn(x) + 1 / x)), 1/2 where
    |x| <= eps (0 / 0 there). PyTorch's i1_backward: x replaced by eps in the untaken branch,
    so its derivative (create_graph) stays finite."""
    eps = finfo(x.dtype).eps
    not_tiny = _el.abs(x).detach() > eps
    safe = where(not_tiny, x, eps)
    if scaled:
        slope = I0e.apply(safe) - y * (_el.sign(safe) + _el.reciprocal(safe))
    else:
        slope = I0.apply(safe) - y * _el.reciprocal(safe)
    return where(not_tiny, slope, 0.5)


class Bessel(Function):
    """A Bessel-family function without gradient (PyTorch gives these none): `name` is the
    scipy.special function, or 'airy_ai' / 'spherical_bessel_j0' (below)."""

    def forward(self, x, op, name):
        if name == "airy_ai":
            return _airy_ai(self.xp, x)
        if name == "spherical_bessel_j0":
            return _spherical_j0(self.xp, x)
        return scipy_special(op, name, x)


def _airy_ai(xp, x):
    """Ai(x) as PyTorch: NaN at +-inf, 0 past x = 103.892 and, far left where SciPy's gives NaN
    (x < about -1e7), the leading term of the asymptotic series, pi^-1/2 (-x)^-1/4 sin(t),
    t = 2/3 (-x)^3/2 + pi/4 (A&S 10.4.60; PyTorch's series there differs by O(x^-3/2))."""
    if type(x).__module__.startswith("cupy"):
        raise NotImplementedError("special.airy_ai: cupyx.scipy.special has no airy, so "
                                  "airy_ai runs on the CPU only (move the tensor with .cpu())")
    import scipy.special  # lazy: scipy.special costs start-up time
    x = np.asarray(x)                                   # (the test device's arrays: NumPy's)
    with np.errstate(all="ignore"):
        ai = scipy.special.airy(x.astype(np.float32) if x.dtype.itemsize < 4 else x)[0]
        ai = ai.astype(x.dtype, copy=False)
        far = np.isnan(ai) & np.isfinite(x) & (x < 0)
        if far.any():
            r = -x[far]
            t = 2 * r * np.sqrt(r) / 3 + x.dtype.type(math.pi / 4)
            ai[far] = x.dtype.type(1 / math.sqrt(math.pi)) / np.sqrt(np.sqrt(r)) * np.sin(t)
        ai = np.where(x > x.dtype.type(103.892), 0, ai)
        return xp.asarray(np.where(np.isinf(x), np.nan, ai).astype(x.dtype, copy=False))


def _spherical_j0(xp, x):
    """sin(x) / x, by its Taylor series where |x| < 1/2 and 0 at +-inf (PyTorch's formula)."""
    with np.errstate(all="ignore"):
        x2 = x * x
        series = 1 + x2 * (-1 / 6 + x2 * (1 / 120 + x2 * (-1 / 5040 + x2 * (
            1 / 362880 + x2 * (-1 / 39916800 + x2 * (1 / 6227020800))))))
        out = xp.where(xp.abs(x) < 0.5, series, xp.sin(x) / x)
        return xp.where(xp.isinf(x), 0, out).astype(x.dtype, copy=False)


# ---- the functions (tg.special.*, tg.i0) --------------------------------------------------------
def i0(input):
    """The modified Bessel function of the first kind, order 0 (= torch.i0)."""
    return I0.apply(float_input("i0", input))


def i0e(input):
    """exp(-|x|) i0(x), the exponentially scaled i0."""
    return I0e.apply(float_input("i0e", input))


def i1(input):
    """The modified Bessel function of the first kind, order 1."""
    return I1.apply(float_input("i1", input))


def i1e(input):
    """exp(-|x|) i1(x), the exponentially scaled i1."""
    return I1e.apply(float_input("i1e", input))


def _no_grad(op, name, doc):
    def fn(input):
        x = float_input(op, input, half=False)
        return Bessel.apply(x.detach() if x._requires_grad else x, op, name)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = doc + " No gradient (as in PyTorch: the result does not require grad)."
    return fn


airy_ai = _no_grad("airy_ai", "airy_ai", "The Airy function Ai(x).")
bessel_j0 = _no_grad("bessel_j0", "j0", "The Bessel function of the first kind, order 0.")
bessel_j1 = _no_grad("bessel_j1", "j1", "The Bessel function of the first kind, order 1.")
bessel_y0 = _no_grad("bessel_y0", "y0", "The Bessel function of the second kind, order 0.")
bessel_y1 = _no_grad("bessel_y1", "y1", "The Bessel function of the second kind, order 1.")
modified_bessel_i0 = _no_grad("modified_bessel_i0", "i0",
                              "The modified Bessel function of the first kind, order 0.")
modified_bessel_i1 = _no_grad("modified_bessel_i1", "i1",
                              "The modified Bessel function of the first kind, order 1.")
modified_bessel_k0 = _no_grad("modified_bessel_k0", "k0",
                              "The modified Bessel function of the second kind, order 0.")
modified_bessel_k1 = _no_grad("modified_bessel_k1", "k1",
                              "The modified Bessel function of the second kind, order 1.")
scaled_modified_bessel_k0 = _no_grad("scaled_modified_bessel_k0", "k0e", "exp(x) k0(x).")
scaled_modified_bessel_k1 = _no_grad("scaled_modified_bessel_k1", "k1e", "exp(x) k1(x).")
spherical_bessel_j0 = _no_grad("spherical_bessel_j0", "spherical_bessel_j0",
                               "The spherical Bessel function of the first kind, order 0, "
                               "sin(x) / x.")
