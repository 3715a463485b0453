"""`tg.special`, as `torch.special`: the special functions under their SciPy-style names, the same
ops as tg.* (differentiable where those are).

    expit, logit, erf, erfc, erfcx, erfinv, ndtr, ndtri, log_ndtr, gammaln, digamma, psi,
    polygamma, multigammaln, gammainc, gammaincc, zeta, log1p, expm1, exp2, xlogy, xlog1py, entr,
    sinc, round, logsumexp, softmax, log_softmax
    i0, i0e, i1, i1e (differentiable), airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1,
    modified_bessel_i0, modified_bessel_i1, modified_bessel_k0, modified_bessel_k1,
    scaled_modified_bessel_k0, scaled_modified_bessel_k1, spherical_bessel_j0 (ops/bessel.py)
    chebyshev_polynomial_t / u / v / w, shifted_chebyshev_polynomial_t / u / v / w,
    hermite_polynomial_h, hermite_polynomial_he, laguerre_polynomial_l, legendre_polynomial_p
    (ops/polynomials.py)

As in PyTorch, the Bessel functions other than i0 / i0e / i1 / i1e and the polynomials have no
gradient, gammainc / gammaincc are differentiable in their second argument only and zeta in q.
"""
from __future__ import annotations

import math

from .ops import activation as _act
from .ops import bessel as _bessel
from .ops import binary as _binary
from .ops import elementwise as _el
from .ops import pointwise as _pw
from .ops import polynomials as _poly
from .ops import reduce as _reduce
from .ops import special as _sp
from .ops import special_more as _more
from .ops import trig as _trig

expit = _el.sigmoid
logit = _pw.logit
erf, erfc, erfinv = _el.erf, _sp.erfc, _sp.erfinv
gammaln = _sp.lgamma
digamma = psi = _sp.digamma
polygamma = _sp.polygamma
multigammaln = _sp.mvlgamma
log1p, expm1, exp2 = _el.log1p, _el.expm1, _pw.exp2
xlogy = _pw.xlogy
sinc = _trig.sinc
round = _el.round
logsumexp = _reduce.logsumexp
erfcx, log_ndtr = _more.erfcx, _more.log_ndtr
gammainc, gammaincc, zeta = _more.gammainc, _more.gammaincc, _more.zeta
i0, i0e, i1, i1e = _bessel.i0, _bessel.i0e, _bessel.i1, _bessel.i1e
airy_ai, spherical_bessel_j0 = _bessel.airy_ai, _bessel.spherical_bessel_j0
bessel_j0, bessel_j1, bessel_y0, bessel_y1 = (_bessel.bessel_j0, _bessel.bessel_j1,
                                              _bessel.bessel_y0, _bessel.bessel_y1)
modified_bessel_i0, modified_bessel_i1 = _bessel.modified_bessel_i0, _bessel.modified_bessel_i1
modified_bessel_k0, modified_bessel_k1 = _bessel.modified_bessel_k0, _bessel.modified_bessel_k1
scaled_modified_bessel_k0 = _bessel.scaled_modified_bessel_k0
scaled_modified_bessel_k1 = _bessel.scaled_modified_bessel_k1
chebyshev_polynomial_t, chebyshev_polynomial_u = (_poly.chebyshev_polynomial_t,
                                                  _poly.chebyshev_polynomial_u)
chebyshev_polynomial_v, chebyshev_polynomial_w = (_poly.chebyshev_polynomial_v,
                                                  _poly.chebyshev_polynomial_w)
shifted_chebyshev_polynomial_t = _poly.shifted_chebyshev_polynomial_t
shifted_chebyshev_polynomial_u = _poly.shifted_chebyshev_polynomial_u
shifted_chebyshev_polynomial_v = _poly.shifted_chebyshev_polynomial_v
shifted_chebyshev_polynomial_w = _poly.shifted_chebyshev_polynomial_w
hermite_polynomial_h, hermite_polynomial_he = (_poly.hermite_polynomial_h,
                                               _poly.hermite_polynomial_he)
laguerre_polynomial_l, legendre_polynomial_p = (_poly.laguerre_polynomial_l,
                                                _poly.legendre_polynomial_p)


def ndtr(input):
    """The standard normal CDF, (1 + erf(x / sqrt 2)) / 2."""
    return (1 + _el.erf(input * (1 / math.sqrt(2)))) * 0.5


def ndtri(input):
    """ndtr's inverse, sqrt 2 erfinv(2p - 1)."""
    return _sp.erfinv(input * 2 - 1) * math.sqrt(2)


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0 (NaN other stays NaN), as xlogy."""
    return _pw.xlogy(input, other + 1)


def entr(input):
    """-x log x elementwise: 0 at 0, -inf below 0. Its gradient at 0 is 0 here (xlogy's), +inf
    in PyTorch (-(1 + log x) taken literally)."""
    neg = _binary.where(input < 0, float("-inf"), 0.0)
    return _binary.where(input < 0, neg, 0.0 - _pw.xlogy(input, input))


def softmax(input, dim, *, dtype=None):
    return _act.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _act.log_softmax(input, dim, dtype=dtype)
