"""Review of tinygen.distributions against torch.distributions (float64): expand, supports and
constraint reprs, icdf / mode additions, cdf validation, the KL pairs PyTorch registers, the
transforms and TransformedDistribution, MixtureSameFamily and Binomial (values and gradients),
and seeded draw statistics."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)

RNG = np.random.default_rng(7)
POS = RNG.uniform(0.5, 2.0, (2, 3))
POS2 = RNG.uniform(0.5, 2.0, (2, 3))
REAL = RNG.standard_normal((2, 3))
REAL2 = RNG.standard_normal((2, 3))
UNIT = RNG.uniform(0.1, 0.9, (2, 3))
SIMP = RNG.dirichlet(np.ones(3), 2)


def check(tg_fn, torch_fn, arrays, **kw):
    kw.setdefault("gradcheck_max_numel", 12)
    check_op(tg_fn, torch_fn, arrays, **kw)


def close(ours, ref, **kw):
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **kw)


EXPANDABLE = {
    "Normal": (lambda m: m.Normal(m_t(m, REAL), m_t(m, POS)), REAL2),
    "Uniform": (lambda m: m.Uniform(m_t(m, REAL), m_t(m, REAL + POS)), REAL + 0.5 * POS),
    "Laplace": (lambda m: m.Laplace(m_t(m, REAL), m_t(m, POS)), REAL2),
    "Exponential": (lambda m: m.Exponential(m_t(m, POS)), POS2),
    "Gamma": (lambda m: m.Gamma(m_t(m, POS), m_t(m, POS2)), POS2),
    "Beta": (lambda m: m.Beta(m_t(m, POS), m_t(m, POS2)), UNIT),
    "Dirichlet": (lambda m: m.Dirichlet(m_t(m, POS)), SIMP),
    "Bernoulli": (lambda m: m.Bernoulli(logits=m_t(m, REAL)), (UNIT > 0.5) * 1.0),
    "Categorical": (lambda m: m.Categorical(m_t(m, SIMP)), np.array([0.0, 2.0])),
    "OneHotCategorical": (lambda m: m.OneHotCategorical(m_t(m, SIMP)), np.eye(3)[[0, 2]]),
    "Poisson": (lambda m: m.Poisson(m_t(m, POS)), np.floor(3 * POS)),
    "Cauchy": (lambda m: m.Cauchy(m_t(m, REAL), m_t(m, POS)), REAL2),
    "HalfNormal": (lambda m: m.HalfNormal(m_t(m, POS)), POS2),
    "LogNormal": (lambda m: m.LogNormal(m_t(m, REAL), m_t(m, POS)), POS2),
    "Gumbel": (lambda m: m.Gumbel(m_t(m, REAL), m_t(m, POS)), REAL2),
    "Chi2": (lambda m: m.Chi2(m_t(m, POS)), POS2),
    "StudentT": (lambda m: m.StudentT(m_t(m, POS), m_t(m, REAL), m_t(m, POS2)), REAL2),
    "Geometric": (lambda m: m.Geometric(m_t(m, UNIT)), np.floor(2 * POS)),
    "Binomial": (lambda m: m.Binomial(5, m_t(m, UNIT)), np.floor(2 * POS)),
    "Independent": (lambda m: m.Independent(m.Normal(m_t(m, REAL), m_t(m, POS)), 1), REAL2),
    "MultivariateNormal": (lambda m: m.MultivariateNormal(m_t(m, REAL), m_t(m, np.eye(3) * 2)),
                           REAL2),
    "MixtureSameFamily": (lambda m: m.MixtureSameFamily(m.Categorical(m_t(m, SIMP)),
                                                        m.Normal(m_t(m, REAL), m_t(m, POS))),
                          REAL2[:, 0]),
}


def m_t(m, a):
    return (tg if m is D else torch).tensor(a)


@pytest.mark.parametrize("name", sorted(EXPANDABLE))
def test_expand_against_torch(name):
    make, value = EXPANDABLE[name]
    ours, ref = make(D), make(TD)
    batch = (4,) + tuple(ref.batch_shape)
    big, big_ref = ours.expand(batch), ref.expand(batch)
    assert big.batch_shape == tuple(big_ref.batch_shape)
    assert big.event_shape == tuple(big_ref.event_shape)
    assert tuple(big.sample((5,)).shape) == tuple(big_ref.sample((5,)).shape)
    close(big.log_prob(tg.tensor(value)), big_ref.log_prob(torch.tensor(value)), rtol=1e-6)
    assert big._validate_args == ours._validate_args and type(big) is type(ours)


@pytest.mark.parametrize("name", sorted(EXPANDABLE))
def test_support_and_constraint_reprs(name):
    ours, ref = EXPANDABLE[name][0](D), EXPANDABLE[name][0](TD)
    norm = lambda c: repr(c).replace("torch.", "").replace("tinygen.", "").replace(" ", "")
    if name not in ("Uniform", "Binomial"):                       # tensors print differently
        assert norm(ours.support) == norm(ref.support)
    assert sorted(ours.arg_constraints) == sorted(ref.arg_constraints)
    assert ours.has_rsample == ref.has_rsample
    assert ours.has_enumerate_support == ref.has_enumerate_support


@pytest.mark.parametrize("make, arrays", [
    (lambda m, a, b: m.Laplace(a, b), [REAL, POS]),
    (lambda m, a: m.HalfNormal(a), [POS]),
    (lambda m, a, b: m.LogNormal(a, b), [REAL, POS]),
    (lambda m, a, b: m.Gumbel(a, b), [REAL, POS]),
])
def test_icdf_added(make, arrays):
    check(lambda *p: make(D, *p).icdf(tg.tensor(UNIT)),
          lambda *p: make(TD, *p).icdf(torch.tensor(UNIT)), arrays, rtol=1e-6)


def test_beta_and_dirichlet_mode():
    conc = np.array([[0.5, 0.7, 0.2], [2.0, 0.5, 3.0], [1.5, 2.5, 1.0]])   # all < 1 -> one-hot
    close(D.Dirichlet(tg.tensor(conc)).mode, TD.Dirichlet(torch.tensor(conc)).mode)
    close(D.Beta(tg.tensor(POS), tg.tensor(POS2)).mode,
          TD.Beta(torch.tensor(POS), torch.tensor(POS2)).mode)


def test_uniform_closed_support_and_constraints():
    u = D.Uniform(tg.tensor(0.0, dtype=tg.float64), tg.tensor(2.0, dtype=tg.float64))
    assert u.log_prob(tg.tensor(2.0, dtype=tg.float64)).item() == float("-inf")   # not an error
    assert repr(u.arg_constraints["low"]).startswith("LessThan(upper_bound=")
    with pytest.raises(ValueError, match=r"Expected parameter low .* LessThan"):
        D.Uniform(tg.tensor(1.0), tg.tensor(1.0))
    with pytest.raises(ValueError, match="within the support"):
        u.cdf(tg.tensor(3.0, dtype=tg.float64))                  # cdf validates, as PyTorch's


@pytest.mark.parametrize("call, match", [
    (lambda: D.Normal(0.0, 1.0).cdf(tg.tensor(float("nan"))), "within the support"),
    (lambda: D.Exponential(1.0).cdf(tg.tensor(-1.0)), "within the support"),
    (lambda: D.Geometric(tg.tensor([0.0, 0.5])), "to be positive"),
    (lambda: D.MultivariateNormal(tg.zeros(()), tg.eye(2)), "loc must be at least one-dim"),
    (lambda: D.Poisson(1.0).log_prob(tg.tensor(1.5)), r"IntegerGreaterThan\(lower_bound=0\)"),
    (lambda: D.Categorical(tg.ones(2)).log_prob(tg.tensor([2])),
     r"IntegerInterval\(lower_bound=0, upper_bound=1\)"),
])
def test_validation_messages(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_misc_matches_torch():
    assert repr(D.Normal(0.0, 1.0)) == repr(TD.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    with pytest.raises(NotImplementedError, match="cartesian product"):
        D.Independent(D.Bernoulli(tg.full((2, 3), 0.5)), 1).enumerate_support()
    ours = D.Independent(D.Bernoulli(tg.full((2, 3), 0.5)), 0).enumerate_support()
    assert tuple(ours.shape) == (2, 2, 3)
    assert repr(D.Dirichlet(tg.ones(3)).arg_constraints["concentration"]) == \
        "IndependentConstraint(GreaterThan(lower_bound=0.0), 1)"
    assert D.constraints.is_dependent(D.constraints.dependent)
    assert bool(D.constraints.positive_integer.check(tg.tensor(0.0)).item()) is False


KL_MORE = {
    "Cauchy": (lambda m, a, b, c, d: (m.Cauchy(a, b), m.Cauchy(c, d)), [REAL, POS, REAL2, POS2]),
    "Gumbel": (lambda m, a, b, c, d: (m.Gumbel(a, b), m.Gumbel(c, d)), [REAL, POS, REAL2, POS2]),
    "Geometric": (lambda m, a, b: (m.Geometric(a), m.Geometric(b)), [UNIT, UNIT[::-1].copy()]),
    "HalfNormal": (lambda m, a, b: (m.HalfNormal(a), m.HalfNormal(b)), [POS, POS2]),
    "LogNormal": (lambda m, a, b, c, d: (m.LogNormal(a, b), m.LogNormal(c, d)),
                  [REAL, POS, REAL2, POS2]),
    "Bernoulli_Poisson": (lambda m, a, b: (m.Bernoulli(a), m.Poisson(b)), [UNIT, POS]),
    "Beta_Exponential": (lambda m, a, b, c: (m.Beta(a, b), m.Exponential(c)), [POS, POS2, POS]),
    "Beta_Gamma": (lambda m, a, b, c, d: (m.Beta(a, b), m.Gamma(c, d)), [POS, POS2, POS2, POS]),
    "Beta_Normal": (lambda m, a, b, c, d: (m.Beta(a, b), m.Normal(c, d)),
                    [POS, POS2, REAL, POS]),
    "Beta_Uniform": (lambda m, a, b, c: (m.Beta(a, b), m.Uniform(c * 0 - 0.5 * c, c + 1)),
                     [POS, POS2, UNIT]),
    "Exponential_Gamma": (lambda m, a, b, c: (m.Exponential(a), m.Gamma(b, c)),
                          [POS, POS2, POS]),
    "Exponential_Gumbel": (lambda m, a, b, c: (m.Exponential(a), m.Gumbel(b, c)),
                           [POS, REAL, POS2]),
    "Exponential_Normal": (lambda m, a, b, c: (m.Exponential(a), m.Normal(b, c)),
                           [POS, REAL, POS2]),
    "Gamma_Exponential": (lambda m, a, b, c: (m.Gamma(a, b), m.Exponential(c)),
                          [POS, POS2, POS]),
    "Gamma_Gumbel": (lambda m, a, b, c, d: (m.Gamma(a, b), m.Gumbel(c, d)),
                     [POS, POS2, REAL, POS]),
    "Gamma_Normal": (lambda m, a, b, c, d: (m.Gamma(a, b), m.Normal(c, d)),
                     [POS, POS2, REAL, POS]),
    "Gumbel_Normal": (lambda m, a, b, c, d: (m.Gumbel(a, b), m.Normal(c, d)),
                      [REAL, POS, REAL2, POS2]),
    "Laplace_Normal": (lambda m, a, b, c, d: (m.Laplace(a, b), m.Normal(c, d)),
                       [REAL, POS, REAL2, POS2]),
    "Normal_Gumbel": (lambda m, a, b, c, d: (m.Normal(a, b), m.Gumbel(c, d)),
                      [REAL, POS, REAL2, POS2]),
    "Normal_Laplace": (lambda m, a, b, c, d: (m.Normal(a, b), m.Laplace(c, d)),
                       [REAL, POS, REAL2, POS2]),
    "Uniform_Beta": (lambda m, a, b, c, d: (m.Uniform(a * 0.4, a * 0.4 + 0.5), m.Beta(b, c)),
                     [UNIT, POS, POS2, POS]),
    "Uniform_Exponential": (lambda m, a, b, c: (m.Uniform(a, a + b), m.Exponential(c)),
                            [UNIT, POS, POS2]),
    "Uniform_Gamma": (lambda m, a, b, c, d: (m.Uniform(a, a + b), m.Gamma(c, d)),
                      [UNIT, POS, POS2, POS]),
    "Uniform_Gumbel": (lambda m, a, b, c, d: (m.Uniform(a, a + b), m.Gumbel(c, d)),
                       [REAL, POS, REAL2, POS2]),
    "Uniform_Normal": (lambda m, a, b, c, d: (m.Uniform(a, a + b), m.Normal(c, d)),
                       [REAL, POS, REAL2, POS2]),
    "Binomial": (lambda m, a, b: (m.Binomial(4, a), m.Binomial(4, b)),
                 [UNIT, UNIT[::-1].copy()]),
    "Transformed": (lambda m, a, b, c, d: (
        m.TransformedDistribution(m.Normal(a, b), [m.ExpTransform()]),
        m.TransformedDistribution(m.Normal(c, d), [m.ExpTransform()])), [REAL, POS, REAL2, POS2]),
}


@pytest.mark.parametrize("name", sorted(KL_MORE))
def test_kl_pairs_torch_registers(name):
    make, params = KL_MORE[name]
    check(lambda *p: D.kl_divergence(*make(D, *p)), lambda *p: TD.kl_divergence(*make(TD, *p)),
          params, rtol=1e-6, gradgrad=False)


@pytest.mark.parametrize("make", [
    lambda m: (m.Normal(0.0, 1.0), m.Gamma(1.0, 1.0)), lambda m: (m.Normal(0.0, 1.0),
                                                                 m.Uniform(0.0, 1.0)),
    lambda m: (m.Gumbel(0.0, 1.0), m.Beta(1.0, 1.0)), lambda m: (m.Poisson(1.0),
                                                                m.Bernoulli(0.5)),
    lambda m: (m.Uniform(-1.0, 1.0), m.Exponential(1.0)),
    lambda m: (m.Beta(2.0, 2.0), m.Uniform(0.2, 1.0)),
])
def test_kl_infinite_pairs(make):
    ours, ref = D.kl_divergence(*make(D)), TD.kl_divergence(*make(TD))
    assert ours.item() == ref.item() == float("inf")


def test_kl_unregistered_and_user_class():
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Cauchy(0.0, 1.0))

    class Mine(D.Distribution):
        pass

    @D.register_kl(Mine, D.Normal)
    def _kl(p, q):
        return tg.tensor(3.0)

    assert D.kl_divergence(Mine(), D.Normal(0.0, 1.0)).item() == 3.0


TRANSFORMS = {
    "tanh": (lambda m: [m.transforms.TanhTransform()], UNIT * 1.8 - 0.9),
    "sigmoid": (lambda m: [m.transforms.SigmoidTransform()], UNIT),
    "exp": (lambda m: m.transforms.ExpTransform(), POS),
    "softplus": (lambda m: [m.transforms.SoftplusTransform()], POS),
    "exp_inv": (lambda m: [m.transforms.ExpTransform().inv], REAL2),
    "affine_exp": (lambda m: [m.transforms.AffineTransform(1.0, -2.0),
                              m.transforms.ExpTransform()], POS),
    "affine_event": (lambda m: [m.transforms.AffineTransform(0.5, 3.0, event_dim=1)], REAL2),
    "compose": (lambda m: [m.transforms.ComposeTransform([m.transforms.AffineTransform(0.3, 2.0),
                                                          m.transforms.TanhTransform()])],
                UNIT * 1.8 - 0.9),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transformed_distribution(name):
    make, value = TRANSFORMS[name]

    def build(m, a, b):
        return m.TransformedDistribution(m.Normal(a, b), make(m))

    check(lambda a, b: build(D, a, b).log_prob(tg.tensor(value)),
          lambda a, b: build(TD, a, b).log_prob(torch.tensor(value)), [REAL, POS], rtol=1e-6,
          gradgrad=False)
    ours, ref = build(D, tg.tensor(REAL), tg.tensor(POS)), build(TD, torch.tensor(REAL),
                                                                torch.tensor(POS))
    assert (ours.batch_shape, ours.event_shape) == (tuple(ref.batch_shape),
                                                    tuple(ref.event_shape))
    assert tuple(ours.rsample((4,)).shape) == tuple(ref.rsample((4,)).shape)
    if name not in ("affine_event", "softplus"):
        close(ours.icdf(tg.tensor(UNIT)), ref.icdf(torch.tensor(UNIT)), rtol=1e-6)
        close(ours.cdf(tg.tensor(value)), ref.cdf(torch.tensor(value)), rtol=1e-6)


def test_tanh_cache_sac_pattern():
    """A squashed Gaussian's log_prob of its own saturated rsample (tanh(20) == 1.0 in float64)
    stays finite with cache_size=1, and its pathwise gradient matches torch's on the same draw."""
    loc, eps = np.array([20.0, -25.0, 0.3]), RNG.standard_normal(3)
    grads = []
    for m, dist in ((tg, D), (torch, TD)):
        x = m.tensor(loc, requires_grad=True)
        d = dist.TransformedDistribution(dist.Normal(x, 0.1), [dist.TanhTransform(cache_size=1)])
        a = d.transforms[0](x + 0.1 * m.tensor(eps))                   # rsample, noise fixed
        lp = d.log_prob(a)
        assert np.isfinite(lp.detach().numpy()).all()
        (lp.sum() + a.sum()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-8, atol=1e-10)
    d = D.TransformedDistribution(D.Normal(tg.zeros(3), 1.0), [D.TanhTransform(cache_size=1)])
    a = d.rsample((2,))
    assert tuple(a.shape) == (2, 3) and np.isfinite(d.log_prob(a).detach().numpy()).all()


def test_mixture_same_family():
    w, mu, sd = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3, 4)), \
        RNG.uniform(0.5, 2, (2, 3, 4))
    x = RNG.standard_normal((5, 2, 4))

    def make(m, a, b, c):
        return m.MixtureSameFamily(m.Categorical(logits=a), m.Independent(m.Normal(b, c), 1))

    check(lambda *p: make(D, *p).log_prob(tg.tensor(x)),
          lambda *p: make(TD, *p).log_prob(torch.tensor(x)), [w, mu, sd], rtol=1e-6,
          gradgrad=False, gradcheck=False)
    check(lambda *p: make(D, *p).mean, lambda *p: make(TD, *p).mean, [w, mu, sd], gradgrad=False)
    check(lambda *p: make(D, *p).variance, lambda *p: make(TD, *p).variance, [w, mu, sd],
          gradgrad=False, gradcheck=False)
    check(lambda a, b, c: D.MixtureSameFamily(D.Categorical(logits=a), D.Normal(b, c)).cdf(
              tg.tensor(x[..., 0])),
          lambda a, b, c: TD.MixtureSameFamily(TD.Categorical(logits=a), TD.Normal(b, c)).cdf(
              torch.tensor(x[..., 0])), [w, mu[..., 0], sd[..., 0]], gradgrad=False,
          gradcheck=False)
    with pytest.raises(ValueError, match="does not equal"):
        D.MixtureSameFamily(D.Categorical(logits=tg.zeros(2)), D.Normal(tg.zeros(3), 1.0))


def test_binomial():
    counts = np.array([[5.0], [3.0]])
    value = np.array([[1.0, 2.0], [3.0, 0.0]])
    check(lambda p: D.Binomial(tg.tensor(counts), p).log_prob(tg.tensor(value)),
          lambda p: TD.Binomial(torch.tensor(counts), p).log_prob(torch.tensor(value)),
          [np.array([0.2, 0.7])], gradgrad=False)
    for attr in ("entropy", "mean", "variance", "mode"):
        fn = (lambda d: d.entropy()) if attr == "entropy" else (lambda d, a=attr: getattr(d, a))
        check(lambda x: fn(D.Binomial(10, logits=x)), lambda x: fn(TD.Binomial(10, logits=x)),
              [REAL], gradgrad=False, gradcheck=attr != "mode")
    with pytest.raises(ValueError, match="within the support"):
        D.Binomial(3, tg.tensor(0.5)).log_prob(tg.tensor(4.0))
    with pytest.raises(NotImplementedError, match="Inhomogeneous"):
        D.Binomial(tg.tensor([2.0, 3.0]), tg.tensor(0.5)).entropy()


@pytest.mark.parametrize("make, mean, var", [
    (lambda: D.Binomial(tg.tensor(12.0), tg.tensor(0.3)), 3.6, 2.52),
    (lambda: D.Geometric(tg.tensor(0.25)), 3.0, 12.0),
    (lambda: D.Chi2(tg.tensor(3.0)), 3.0, 6.0),
    (lambda: D.MixtureSameFamily(D.Categorical(tg.tensor([0.3, 0.7])),
                                 D.Normal(tg.tensor([-2.0, 1.0]), tg.tensor([0.5, 1.0]))),
     0.1, 0.3 * 0.25 + 0.7 + 0.3 * 0.7 * 9),
    (lambda: D.TransformedDistribution(D.Normal(tg.tensor(0.0), tg.tensor(1.0)),
                                       [D.ExpTransform()]), np.exp(0.5), np.expm1(1) * np.e),
])
def test_draw_moments(make, mean, var):
    tg.manual_seed(3)
    draws = make().sample((100000,)).numpy().astype(np.float64)
    assert abs(draws.mean() - mean) < 5 * np.sqrt(var / len(draws))
    assert abs(draws.var() - var) < 0.1 * var


def test_mvn_pathwise_gradient():
    """E||x||^2 = ||loc||^2 + ||L||_F^2 for x ~ N(loc, L L^T): its gradient is (2 loc, 2 L)."""
    tg.manual_seed(4)
    loc = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    tril = np.array([[1.0, 0, 0], [0.5, 0.8, 0], [-0.3, 0.2, 0.6]])
    L = tg.tensor(tril, requires_grad=True)
    x = D.MultivariateNormal(loc, scale_tril=L).rsample((100000,))
    (x * x).sum(-1).mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), 2 * loc.detach().numpy(), atol=0.03)
    np.testing.assert_allclose(np.tril(L.grad.numpy()), 2 * tril, atol=0.05)
