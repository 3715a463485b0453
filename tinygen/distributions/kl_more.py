"""More KL divergences registered as PyTorch registers them: same-family pairs (Cauchy, Geometric,
Gumbel, HalfNormal, LogNormal), mixed pairs with closed forms (Beta, Exponential, Gamma, Gumbel,
Laplace, Normal, Uniform against each other), and +inf where p's support is not inside q's
(Normal || Gamma, Poisson || Bernoulli, ...), and the low-rank Gaussian pairs
(LowRankMultivariateNormal against itself and MultivariateNormal, both ways). The formulas are
PyTorch's (torch/distributions/kl.py), written with the same terms so that values and gradients
agree.
"""
from __future__ import annotations

import math

from ..ops.binary import where
from ..ops.decomp import solve_triangular
from ..ops.pointwise import xlogy
from ..ops.special import lgamma
from .continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli, Binomial, Poisson
from .kl import _kl_normal_normal, kl_divergence, register_kl
from .lowrank_multivariate_normal import (LowRankMultivariateNormal, batch_lowrank_logdet,
                                          batch_lowrank_mahalanobis, batch_mahalanobis,
                                          batch_trace_XXT, combined_batch_shape)
from .more import EULER, Cauchy, Geometric, Gumbel, HalfNormal, LogNormal
from .multivariate import MultivariateNormal
from .transformed import TransformedDistribution

INF = float("inf")


def _infinite_like(t):
    return t.detach().new_full(tuple(t.shape), INF)


def _register_infinite(pairs, param):
    def fn(p, q):
        return _infinite_like(getattr(p, param))
    for type_p, type_q in pairs:
        register_kl(type_p, type_q)(fn)


_register_infinite([(Normal, Beta), (Normal, Exponential), (Normal, Gamma), (Normal, Uniform),
                    (Laplace, Beta), (Laplace, Exponential), (Laplace, Gamma),
                    (Laplace, Uniform), (Gumbel, Beta), (Gumbel, Exponential),
                    (Gumbel, Gamma), (Gumbel, Uniform)], "loc")
_register_infinite([(Exponential, Beta), (Exponential, Uniform)], "rate")
_register_infinite([(Gamma, Beta), (Gamma, Uniform)], "concentration")
_register_infinite([(Poisson, Bernoulli), (Poisson, Binomial)], "rate")


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    """Chyzak & Nielsen 2019 (arXiv:1905.10965)."""
    t1 = ((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2).log()
    return t1 - (4 * p.scale * q.scale).log()


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ct1, ct2, ct3 = p.scale / q.scale, q.loc / q.scale, p.loc / q.scale
    t1 = -ct1.log() - ct2 + ct3
    t3 = (ct2 + lgamma(1 + ct1) - ct3).exp()
    return t1 + ct1 * EULER + t3 - (1 + EULER)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    return 0.5 * (var_ratio - 1 - var_ratio.log())


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    """The base distributions' KL, when both push them through equal transforms."""
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    """+inf where p.total_count > q.total_count; q.total_count > p.total_count is an error."""
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count "
                                  "is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() -
                          (-q.probs).log1p())
    return where(p.total_count > q.total_count, INF, kl)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    a, b = p.concentration1, p.concentration0
    t2 = lgamma(q.concentration) - q.concentration * q.rate.log()
    t3 = (q.concentration - 1) * (a.digamma() - (a + b).digamma())
    return -p.entropy() + t2 - t3 + q.rate * a / (a + b)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    total = p.concentration1 + p.concentration0
    e_beta, var_normal = p.concentration1 / total, q.scale ** 2
    t2 = 0.5 * (var_normal * 2 * math.pi).log()
    t3 = (e_beta * (1 - e_beta) / (total + 1) + e_beta ** 2) * 0.5
    return -p.entropy() + t2 + (t3 - q.loc * e_beta + q.loc ** 2 * 0.5) / var_normal


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return where((q.low > 0) | (q.high < 1), INF, result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return -q.concentration * ratio.log() + ratio + lgamma(q.concentration) + \
        q.concentration * EULER - (1 + EULER)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    prod, ratio = p.rate * q.scale, q.loc / q.scale
    return prod.log() - 1 - ratio + ratio.exp() * prod / (prod + 1) + prod.reciprocal()


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var_normal, rate_sqr = q.scale ** 2, p.rate ** 2
    t1 = 0.5 * (rate_sqr * var_normal * 2 * math.pi).log()
    return t1 - 1 + (rate_sqr.reciprocal() - q.loc / p.rate + q.loc ** 2 * 0.5) / var_normal


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    a, prod, ratio = p.concentration, p.rate * q.scale, q.loc / q.scale
    t1 = (a - 1) * a.digamma() - lgamma(a) - a
    t2 = prod.log() + a / prod
    t3 = ratio.exp() * (1 + prod.reciprocal()) ** (-a) - ratio
    return t1 + t2 + t3


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    a, var_normal, beta_sqr = p.concentration, q.scale ** 2, p.rate ** 2
    t1 = 0.5 * (beta_sqr * var_normal * 2 * math.pi).log() - a - lgamma(a)
    t2 = 0.5 * (a ** 2 + a) / beta_sqr
    t3 = q.loc * a / p.rate
    return t1 + (a - 1) * a.digamma() + (t2 - t3 + 0.5 * q.loc ** 2) / var_normal


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    ratio = p.scale / q.scale
    t1 = (ratio / math.sqrt(2 * math.pi)).log()
    t2 = (math.pi * ratio * 0.5) ** 2 / 3
    t3 = ((p.loc + p.scale * EULER - q.loc) / q.scale) ** 2 * 0.5
    return -t1 + t2 + t3 - (EULER + 1)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var_normal = q.scale ** 2
    ratio = p.scale ** 2 / var_normal
    t1 = 0.5 * (2 * ratio / math.pi).log()
    t = 0.5 * p.loc ** 2 - p.loc * q.loc + 0.5 * q.loc ** 2
    return -t1 + ratio + t / var_normal - 1


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_ratio, var_ratio = p.loc / q.scale, (p.scale / q.scale) ** 2
    loc_ratio = q.loc / q.scale
    t3 = (-mean_ratio + 0.5 * var_ratio + loc_ratio).exp()
    return -0.5 * var_ratio.log() + mean_ratio - loc_ratio + t3 - \
        0.5 * (1 + math.log(2 * math.pi))


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    diff = p.loc - q.loc
    z = diff / p.scale
    t2 = math.sqrt(2 / math.pi) * p.scale * (-0.5 * z ** 2).exp()
    t3 = diff * (math.sqrt(0.5) * z).erf()
    return -(p.scale / q.scale).log() + (t2 + t3) / q.scale - 0.5 * (1 + math.log(0.5 * math.pi))


def _x_log_x(x):
    return xlogy(x, x)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    a, b = q.concentration1, q.concentration0
    t2 = (a - 1) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    t3 = (b - 1) * (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    t4 = lgamma(a) + lgamma(b) - lgamma(a + b)
    result = t3 + t4 - width.log() - t2
    return where((p.high > 1) | (p.low < 0), INF, result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return where(p.low < 0, INF, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    t2 = lgamma(q.concentration) - q.concentration * q.rate.log()
    t3 = (1 - q.concentration) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = -width.log() + t2 + t3 + q.rate * (p.high + p.low) / 2
    return where(p.low < 0, INF, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    common = q.scale / (p.high - p.low)
    high, low = (p.high - q.loc) / q.scale, (p.low - q.loc) / q.scale
    return common.log() + 0.5 * (high + low) - common * ((-high).exp() - (-low).exp())


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / width).log()
    t3 = ((p.high + p.low - 2 * q.loc) / 2) ** 2
    return t1 + 0.5 * (width ** 2 / 12 + t3) / q.scale ** 2


# ---- low-rank Gaussians (PyTorch's three pairs; Sigma = W W^T + D, C = I + W^T D^-1 W) ---------
def _check_event_shapes(p, q, what):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two {what} with different event shapes cannot "
                         f"be computed: {p.event_shape} vs {q.event_shape}")


def _woodbury_factor(q):
    """A = C_L^{-1} W^T D^{-1} of a low-rank q, so that Sigma_q^{-1} = D^{-1} - A^T A."""
    qWt_qDinv = q._unbroadcasted_cov_factor.mT / q._unbroadcasted_cov_diag.unsqueeze(-2)
    return solve_triangular(q._capacitance_tril, qWt_qDinv, upper=False)


def _lowrank_terms13(p_logdet, q, p_loc):
    """log|Sigma_q| - log|Sigma_p| and the Mahalanobis term of the KL against a low-rank q."""
    term1 = batch_lowrank_logdet(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag,
                                 q._capacitance_tril) - p_logdet
    term3 = batch_lowrank_mahalanobis(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag,
                                      q.loc - p_loc, q._capacitance_tril)
    return term1, term3


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    """(log|Sq| - log|Sp| + tr(Sq^-1 Sp) + (mq - mp)^T Sq^-1 (mq - mp) - n) / 2, with
    tr(Sq^-1 Sp) = tr([qD^-1 - A^T A] (pD + pW pW^T)) expanded into four traces."""
    _check_event_shapes(p, q, "Low Rank Multivariate Normals")
    p_logdet = batch_lowrank_logdet(p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag,
                                    p._capacitance_tril)
    term1, term3 = _lowrank_terms13(p_logdet, q, p.loc)
    A = _woodbury_factor(q)                                                 # (..., m_q, n)
    pW, pD, qD = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag, q._unbroadcasted_cov_diag
    term21 = (pD / qD).sum(-1)
    term22 = batch_trace_XXT(pW * qD.rsqrt().unsqueeze(-1))
    term23 = batch_trace_XXT(A * pD.sqrt().unsqueeze(-2))
    term24 = batch_trace_XXT(A @ pW)
    term2 = term21 + term22 - term23 - term24
    return 0.5 * (term1 + term2 + term3 - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    """As the low-rank pair with Sp = Lp Lp^T: tr(Sq^-1 Sp) = |qD^-1/2 Lp|^2 - |A Lp|^2."""
    _check_event_shapes(p, q, "(Low Rank) Multivariate Normals")
    p_logdet = 2 * p.scale_tril.diagonal(0, -2, -1).log().sum(-1)
    term1, term3 = _lowrank_terms13(p_logdet, q, p.loc)
    A = _woodbury_factor(q)
    term21 = batch_trace_XXT(p.scale_tril * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1))
    term22 = batch_trace_XXT(A @ p.scale_tril)
    return 0.5 * (term1 + term21 - term22 + term3 - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    """tr(Sq^-1 Sp) = |Lq^-1 pW|^2 + |Lq^-1 pD^1/2|^2 by triangular solves."""
    _check_event_shapes(p, q, "(Low Rank) Multivariate Normals")
    term1 = 2 * q.scale_tril.diagonal(0, -2, -1).log().sum(-1) - batch_lowrank_logdet(
        p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag, p._capacitance_tril)
    term3 = batch_mahalanobis(q.scale_tril, q.loc - p.loc)
    batch = combined_batch_shape(q.scale_tril.shape[:-2], p._unbroadcasted_cov_factor.shape[:-2])
    n = p.event_shape[0]
    q_scale_tril = q.scale_tril.expand(batch + (n, n))
    p_cov_factor = p._unbroadcasted_cov_factor.expand(batch + (n, p.cov_factor.shape[-1]))
    p_cov_diag = p._unbroadcasted_cov_diag.sqrt().diag_embed().expand(batch + (n, n))
    term21 = batch_trace_XXT(solve_triangular(q_scale_tril, p_cov_factor, upper=False))
    term22 = batch_trace_XXT(solve_triangular(q_scale_tril, p_cov_diag, upper=False))
    return 0.5 * (term1 + term21 + term22 + term3 - n)
