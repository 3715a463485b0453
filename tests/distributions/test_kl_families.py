"""The KL pairs PyTorch registers for ContinuousBernoulli, Pareto and ExponentialFamily, and the
ExponentialFamily base class (Bregman entropy and KL), against torch.distributions: values in
float64 (and where the pair is +inf), first and second gradients (check_op)."""
import math

import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)

RNG = np.random.default_rng(5)
POS = RNG.uniform(0.5, 2.0, (2, 3))
POS2 = RNG.uniform(0.5, 2.0, (2, 3))
REAL = RNG.standard_normal((2, 3))
REAL2 = RNG.standard_normal((2, 3))
UNIT = RNG.uniform(0.1, 0.9, (2, 3))
UNIT2 = RNG.uniform(0.1, 0.9, (2, 3))


def check(tg_fn, torch_fn, arrays, **kw):
    kw.setdefault("gradcheck_max_numel", 12)
    kw.setdefault("rtol", 1e-7)
    kw.setdefault("atol", 1e-9)
    check_op(tg_fn, torch_fn, arrays, **kw)


# name -> (make_p(module, *params), make_q(module, *params), number of p's params, params)
FINITE = {
    "ContinuousBernoulli_ContinuousBernoulli": (
        lambda m, a: m.ContinuousBernoulli(a), lambda m, b: m.ContinuousBernoulli(b), 1,
        [UNIT, UNIT2]),
    "ContinuousBernoulli_logits": (
        lambda m, a: m.ContinuousBernoulli(logits=a), lambda m, b: m.ContinuousBernoulli(
            logits=b), 1, [REAL, REAL[::-1].copy()]),
    "Beta_ContinuousBernoulli": (lambda m, a, b: m.Beta(a, b),
                                 lambda m, p: m.ContinuousBernoulli(p), 2, [POS, POS2, UNIT]),
    "ContinuousBernoulli_Exponential": (lambda m, p: m.ContinuousBernoulli(p),
                                        lambda m, r: m.Exponential(r), 1, [UNIT, POS]),
    "ContinuousBernoulli_Normal": (lambda m, p: m.ContinuousBernoulli(p),
                                   lambda m, a, s: m.Normal(a, s), 1, [UNIT, REAL, POS]),
    "ContinuousBernoulli_Uniform": (lambda m, p: m.ContinuousBernoulli(p),
                                    lambda m, a, b: m.Uniform(-a, 1 + b), 1, [UNIT, POS, POS2]),
    "Uniform_ContinuousBernoulli": (lambda m, a, b: m.Uniform(0.4 * a, 0.4 * a + 0.5 * b),
                                    lambda m, p: m.ContinuousBernoulli(p), 2, [UNIT, UNIT2, UNIT]),
    "Pareto_Pareto": (lambda m, s, a: m.Pareto(s + 1, a), lambda m, s, a: m.Pareto(s, a), 2,
                      [POS, POS2, POS, UNIT + 1]),
    "Pareto_Exponential": (lambda m, s, a: m.Pareto(s, a + 1), lambda m, r: m.Exponential(r), 2,
                           [POS, POS2, POS]),
    "Pareto_Gamma": (lambda m, s, a: m.Pareto(s, a + 1), lambda m, c, r: m.Gamma(c, r), 2,
                     [POS, POS2, POS2, POS]),
    "Pareto_Normal": (lambda m, s, a: m.Pareto(s, a + 2), lambda m, a, s: m.Normal(a, s), 2,
                      [POS, POS2, REAL, POS]),
    "Uniform_Pareto": (lambda m, a, b: m.Uniform(a + 2, a + 2 + b),
                       lambda m, s, a: m.Pareto(s, a), 2, [POS, POS2, POS, POS2]),
}


@pytest.mark.parametrize("name", sorted(FINITE))
def test_finite_kl_pairs(name):
    make_p, make_q, n_p, params = FINITE[name]

    def kl(m):
        return lambda *t: m.kl_divergence(make_p(m, *t[:n_p]), make_q(m, *t[n_p:]))

    ours = kl(D)(*[tg.tensor(a) for a in params])
    ref = kl(TD)(*[torch.tensor(a) for a in params])
    assert np.isfinite(ours.detach().numpy()).all()
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    check(kl(D), kl(TD), params)


INFINITE = [   # (make_p(module), make_q(module)): +inf everywhere
    (lambda m: m.Beta(m_t(m, POS), m_t(m, POS2)), lambda m: m.Pareto(m_t(m, POS), m_t(m, POS))),
    (lambda m: m.ContinuousBernoulli(m_t(m, UNIT)), lambda m: m.Pareto(m_t(m, POS), 1.0)),
    (lambda m: m.Exponential(m_t(m, POS)), lambda m: m.ContinuousBernoulli(m_t(m, UNIT))),
    (lambda m: m.Exponential(m_t(m, POS)), lambda m: m.Pareto(m_t(m, POS), m_t(m, POS))),
    (lambda m: m.Gamma(m_t(m, POS), m_t(m, POS)), lambda m: m.ContinuousBernoulli(m_t(m, UNIT))),
    (lambda m: m.Gamma(m_t(m, POS), m_t(m, POS)), lambda m: m.Pareto(m_t(m, POS), m_t(m, POS))),
    (lambda m: m.Gumbel(m_t(m, REAL), m_t(m, POS)), lambda m: m.ContinuousBernoulli(
        m_t(m, UNIT))),
    (lambda m: m.Gumbel(m_t(m, REAL), m_t(m, POS)), lambda m: m.Pareto(m_t(m, POS), m_t(m, POS))),
    (lambda m: m.Laplace(m_t(m, REAL), m_t(m, POS)), lambda m: m.ContinuousBernoulli(
        m_t(m, UNIT))),
    (lambda m: m.Laplace(m_t(m, REAL), m_t(m, POS)), lambda m: m.Pareto(m_t(m, POS),
                                                                        m_t(m, POS))),
    (lambda m: m.Normal(m_t(m, REAL), m_t(m, POS)), lambda m: m.ContinuousBernoulli(
        m_t(m, UNIT))),
    (lambda m: m.Normal(m_t(m, REAL), m_t(m, POS)), lambda m: m.Pareto(m_t(m, POS), m_t(m, POS))),
    (lambda m: m.Pareto(m_t(m, POS), m_t(m, POS)), lambda m: m.Beta(m_t(m, POS), m_t(m, POS))),
    (lambda m: m.Pareto(m_t(m, POS), m_t(m, POS)), lambda m: m.ContinuousBernoulli(
        m_t(m, UNIT))),
    (lambda m: m.Pareto(m_t(m, POS), m_t(m, POS)), lambda m: m.Uniform(m_t(m, -POS),
                                                                       m_t(m, POS))),
]


def m_t(m, a):
    return (tg if m is D else torch).tensor(np.asarray(a, dtype=np.float64))


@pytest.mark.parametrize("make_p, make_q", INFINITE)
def test_infinite_kl_pairs(make_p, make_q):
    ours = D.kl_divergence(make_p(D), make_q(D))
    ref = TD.kl_divergence(make_p(TD), make_q(TD))
    assert tuple(ours.shape) == tuple(ref.shape)
    assert np.isposinf(ours.numpy()).all() and np.isposinf(ref.numpy()).all()


@pytest.mark.parametrize("make_p, make_q", [
    (lambda m: m.Pareto(m_t(m, np.array([1.0, 2.0, 3.0])), m_t(m, 2.5)),
     lambda m: m.Pareto(m_t(m, 2.0), m_t(m, 1.5))),                          # p.scale < q.scale
    (lambda m: m.Pareto(m_t(m, 1.0), m_t(m, np.array([0.5, 1.0, 3.0]))),
     lambda m: m.Exponential(m_t(m, 2.0))),                                  # alpha <= 1
    (lambda m: m.Pareto(m_t(m, 1.0), m_t(m, np.array([0.5, 1.0, 3.0]))),
     lambda m: m.Gamma(m_t(m, 2.0), m_t(m, 1.5))),
    (lambda m: m.Pareto(m_t(m, 1.0), m_t(m, np.array([1.5, 2.0, 3.0]))),
     lambda m: m.Normal(m_t(m, 0.3), m_t(m, 1.5))),                          # alpha <= 2
    (lambda m: m.Uniform(m_t(m, np.array([0.5, 1.0, 2.0])), m_t(m, 3.0)),
     lambda m: m.Pareto(m_t(m, 1.0), m_t(m, 2.0))),                          # p.low < q.scale
    (lambda m: m.ContinuousBernoulli(m_t(m, 0.3)),
     lambda m: m.Uniform(m_t(m, np.array([-0.5, 0.0, -1.0])),
                         m_t(m, np.array([1.5, 1.5, 1.0])))),
    (lambda m: m.Uniform(m_t(m, np.array([0.1, 0.0, 0.2])), m_t(m, np.array([0.9, 0.5, 1.0]))),
     lambda m: m.ContinuousBernoulli(m_t(m, 0.3))),
])
def test_partly_infinite_kl_pairs(make_p, make_q):
    """Where p's support leaves q's (PyTorch's conditions), +inf; elsewhere the closed form."""
    ours = D.kl_divergence(make_p(D), make_q(D)).numpy()
    ref = TD.kl_divergence(make_p(TD), make_q(TD)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    assert np.isposinf(ours).any() and np.isfinite(ours).any()


# ---- ExponentialFamily ---------------------------------------------------------------------------
def natural_normal(m):
    """A Normal written only through its natural parameters, in either library."""
    class NaturalNormal(m.ExponentialFamily):
        arg_constraints = {}
        _mean_carrier_measure = 0

        def __init__(self, loc, scale):
            self.loc, self.scale = loc, scale
            super().__init__(tuple(loc.shape), validate_args=False)

        @property
        def _natural_params(self):
            return self.loc / self.scale ** 2, -0.5 / self.scale ** 2

        def _log_normalizer(self, x, y):
            return -0.25 * x ** 2 / y + 0.5 * (-math.pi / y).log()

    return NaturalNormal


def natural_dirichlet(m):
    """A Dirichlet through its natural parameters (event dim 1: the KL sums over it)."""
    class NaturalDirichlet(m.ExponentialFamily):
        arg_constraints = {}

        def __init__(self, concentration):
            self.concentration = concentration
            super().__init__(tuple(concentration.shape[:-1]), tuple(concentration.shape[-1:]),
                             validate_args=False)

        @property
        def _natural_params(self):
            return (self.concentration,)

        def _log_normalizer(self, x):
            return x.lgamma().sum(-1) - x.sum(-1).lgamma()

        @property
        def _mean_carrier_measure(self):
            """E[-sum log x_i] (the carrier measure is 1 / prod x_i)."""
            a = self.concentration
            return -(a.digamma() - a.sum(-1, keepdim=True).digamma()).sum(-1)

    return NaturalDirichlet


def test_bregman_entropy_against_torch_and_closed_form():
    ours = natural_normal(D)(tg.tensor(REAL), tg.tensor(POS)).entropy()
    ref = natural_normal(TD)(torch.tensor(REAL), torch.tensor(POS)).entropy()
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.detach().numpy(), 0.5 + 0.5 * np.log(2 * np.pi * POS ** 2),
                               rtol=1e-12)
    with tg.no_grad():                              # works inside no_grad (torch's raises)
        inside = natural_normal(D)(tg.tensor(REAL), tg.tensor(POS)).entropy()
    np.testing.assert_allclose(inside.numpy(), ours.detach().numpy(), rtol=1e-14)
    dirichlet = natural_dirichlet(D)(tg.tensor(POS)).entropy()
    np.testing.assert_allclose(dirichlet.detach().numpy(),
                               D.Dirichlet(tg.tensor(POS)).entropy().numpy(), rtol=1e-10)
    ref = natural_dirichlet(TD)(torch.tensor(POS)).entropy()
    np.testing.assert_allclose(dirichlet.detach().numpy(), ref.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("family, params", [(natural_normal, [REAL, POS, REAL2, POS2]),
                                             (natural_dirichlet, [POS, POS2])])
def test_bregman_kl_against_torch(family, params):
    """KL of two members of one family (the Bregman divergence); as in PyTorch, p's natural
    parameters are detached, so gradients reach q's parameters only."""
    half = len(params) // 2

    def kl(m):
        cls = family(m)
        return lambda *t: m.kl_divergence(cls(*t[:half]), cls(*t[half:]))

    check(kl(D), kl(TD), params, requires_grad=[False] * half + [True] * half)


def test_bregman_kl_equals_closed_form():
    family = natural_normal(D)
    ours = D.kl_divergence(family(tg.tensor(REAL), tg.tensor(POS)),
                           family(tg.tensor(REAL2), tg.tensor(POS2)))
    closed = D.kl_divergence(D.Normal(tg.tensor(REAL), tg.tensor(POS)),
                             D.Normal(tg.tensor(REAL2), tg.tensor(POS2)))
    np.testing.assert_allclose(ours.detach().numpy(), closed.numpy(), rtol=1e-10)


def test_exponential_family_membership_and_cross_family_errors():
    members = [D.Bernoulli(tg.tensor(0.3)), D.Beta(tg.tensor(1.0), tg.tensor(2.0)),
               D.Dirichlet(tg.ones(3)), D.Exponential(tg.tensor(1.0)),
               D.Gamma(tg.tensor(1.0), tg.tensor(1.0)), D.Normal(0.0, 1.0),
               D.Poisson(tg.tensor(1.0)), D.Chi2(tg.tensor(2.0)),
               D.ContinuousBernoulli(tg.tensor(0.3))]
    for d in members:
        assert isinstance(d, D.ExponentialFamily), type(d).__name__
    assert not isinstance(D.Laplace(0.0, 1.0), D.ExponentialFamily)
    assert isinstance(TD.Chi2(torch.tensor(2.0)), TD.ExponentialFamily)
    with pytest.raises(NotImplementedError, match="different exponential families"):
        D.kl_divergence(D.Bernoulli(tg.tensor(0.3)), D.Normal(0.0, 1.0))
    with pytest.raises(NotImplementedError, match="different exponential families"):
        TD.kl_divergence(TD.Bernoulli(torch.tensor(0.3)), TD.Normal(0.0, 1.0))
    with pytest.raises(NotImplementedError, match="different exponential families"):
        D.kl_divergence(natural_normal(D)(tg.zeros(1), tg.ones(1)),
                        natural_dirichlet(D)(tg.ones(1, 2)))
    same = D.kl_divergence(D.Gamma(tg.tensor(2.0), tg.tensor(1.0)),
                           D.Gamma(tg.tensor(3.0), tg.tensor(2.0)))      # still the closed form
    ref = TD.kl_divergence(TD.Gamma(torch.tensor(2.0), torch.tensor(1.0)),
                           TD.Gamma(torch.tensor(3.0), torch.tensor(2.0)))
    np.testing.assert_allclose(same.numpy(), ref.numpy(), rtol=1e-6)
    with pytest.raises(NotImplementedError):
        D.ExponentialFamily((), ()).entropy()
