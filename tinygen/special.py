"""`tg.special`, as `torch.special`: the special functions under their SciPy-style names, the same
ops as tg.* (differentiable where those are).

    expit, logit, erf, erfc, erfinv, ndtr, ndtri, gammaln, digamma, psi, polygamma,
    multigammaln, log1p, expm1, exp2, xlogy, xlog1py, entr, sinc, round, logsumexp, softmax,
    log_softmax
"""
from __future__ import annotations

import math

from .ops import activation as _act
from .ops import binary as _binary
from .ops import elementwise as _el
from .ops import pointwise as _pw
from .ops import reduce as _reduce
from .ops import special as _sp
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
