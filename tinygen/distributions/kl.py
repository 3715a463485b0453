"""KL divergences, as torch.distributions.kl: kl_divergence(p, q) looks up the function
registered for the pair of types (the most specific match along both classes' MROs) and
register_kl adds one.

    @register_kl(MyDist, Normal)
    def _kl_mine_normal(p, q): ...

Closed forms registered here (batch-elementwise, summed over event dims):
    Normal || Normal:   (var_ratio + ((mu_p - mu_q) / sigma_q)^2 - 1 - log var_ratio) / 2
    Bernoulli, Categorical, OneHotCategorical:  sum p (log p - log q)   (+inf where q = 0 < p)
    Uniform, Laplace, Exponential, Gamma, Beta, Dirichlet, Poisson, MultivariateNormal,
    Independent (the base KL summed over the reinterpreted dims).

Difference from PyTorch 2.13: the parameters of p and q broadcast in Bernoulli || Bernoulli
(PyTorch's masked assignment raises IndexError when q's batch shape is smaller than p's).
"""
from __future__ import annotations

import numpy as np

from ..ops.binary import where
from ..ops.decomp import solve_triangular
from ..ops.special import digamma, lgamma
from .continuous import Beta, Dirichlet, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli, Categorical, OneHotCategorical, Poisson
from .multivariate import Independent, MultivariateNormal

_KL_REGISTRY = {}
INF = float("inf")


def register_kl(type_p, type_q):
    """Decorator registering fn(p, q) as the KL divergence of instances of (type_p, type_q)."""
    if not isinstance(type_p, type) or not isinstance(type_q, type):
        raise TypeError(f"register_kl: expected two Distribution classes, got {type_p!r} and "
                        f"{type_q!r}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


def _distance(mro, base):
    """How far up the MRO base is; a virtual base (ABC.register) counts as past the end."""
    return mro.index(base) if base in mro else len(mro)


def _lookup(type_p, type_q):
    mro_p, mro_q = type_p.__mro__, type_q.__mro__
    matches = [(_distance(mro_p, p), _distance(mro_q, q), fn)
               for (p, q), fn in _KL_REGISTRY.items()
               if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return None
    return min(matches, key=lambda m: (m[0] + m[1], m[0]))[2]


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], batch-elementwise (event dims summed)."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    t1 = where(q.probs == 0, INF, t1)
    t1 = where(p.probs == 0, 0.0, t1)
    t2 = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    t2 = where(q.probs == 1, INF, t2)
    t2 = where(p.probs == 1, 0.0, t2)
    return t1 + t2


def _softplus(x):
    """log(1 + exp(x)) without overflow."""
    return x.clamp(min=0) + (-x.abs()).exp().log1p()


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = where((q.probs == 0).expand_as(t), INF, t)
    t = where((p.probs == 0).expand_as(t), 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent distributions with different "
                                  "reinterpreted_batch_ndims")
    result = kl_divergence(p.base_dist, q.base_dist)
    for _ in range(p.reinterpreted_batch_ndims):
        result = result.sum(-1)
    return result


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return where((q.low > p.low) | (q.high < p.high), INF, result)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    t1 = -scale_ratio.log()
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * (-loc_abs_diff / p.scale).exp()
    return t1 + t2 + t3 - 1


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - rate_ratio.log() - 1


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    a_p, b_p, a_q, b_q = p.concentration, p.rate, q.concentration, q.rate
    t1 = a_q * (b_p / b_q).log()
    t2 = lgamma(a_q) - lgamma(a_p)
    t3 = (a_p - a_q) * digamma(a_p)
    t4 = (b_q - b_p) * (a_p / b_p)
    return t1 + t2 + t3 + t4


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sum_p = p.concentration.sum(-1)
    t1 = lgamma(sum_p) - lgamma(q.concentration.sum(-1))
    t2 = (lgamma(p.concentration) - lgamma(q.concentration)).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = digamma(p.concentration) - digamma(sum_p).unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    return _kl_dirichlet_dirichlet(p._dirichlet, q._dirichlet)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    """(tr(Sq^-1 Sp) + (mq - mp)^T Sq^-1 (mq - mp) - k + log det Sq - log det Sp) / 2."""
    if p.event_shape != q.event_shape:
        raise ValueError("kl_divergence: MultivariateNormals of different event shapes")
    k = p.event_shape[0]
    half_det = q._half_log_det() - p._half_log_det()
    shape = tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))
    lq, lp = q.scale_tril.expand(shape + (k, k)), p.scale_tril.expand(shape + (k, k))
    trace = (solve_triangular(lq, lp, upper=False) ** 2).sum((-2, -1))       # tr(Sq^-1 Sp)
    diff = (q.loc - p.loc).unsqueeze(-1)
    maha = (solve_triangular(lq, diff.expand(tuple(lq.shape[:-1]) + (1,)), upper=False) ** 2)
    return half_det + 0.5 * (trace + maha.sum((-2, -1)) - k)
