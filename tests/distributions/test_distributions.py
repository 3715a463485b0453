"""tinygen.distributions against torch.distributions (float64): log_prob, entropy, cdf / icdf,
moments and KL divergences with their first and second gradients (check_op); shapes of
sample and rsample; the reparameterised draws' statistics and gradients (unbiased, and the
implicit Gamma gradient against a finite difference of the quantile function); validate_args
errors."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)


def check_torch(tg_fn, torch_fn, arrays, **kw):
    """Values, first and second gradients against torch in float64, and gradchecks."""
    check_op(tg_fn, torch_fn, arrays, gradcheck_max_numel=12, **kw)

RNG = np.random.default_rng(0)
POS = RNG.uniform(0.5, 2.0, (2, 3))
POS2 = RNG.uniform(0.5, 2.0, (2, 3))
REAL = RNG.standard_normal((2, 3))
UNIT = RNG.uniform(0.1, 0.9, (2, 3))
REAL2 = RNG.standard_normal((2, 3))   # no entry equal to REAL's (see test_kl_divergence)

# name -> (make(module, *params), params, value for log_prob / cdf)
CASES = {
    "Normal": (lambda m, a, b: m.Normal(a, b), [REAL, POS], REAL[::-1].copy()),
    "Uniform": (lambda m, a, b: m.Uniform(a, a + b), [REAL, POS], REAL + 0.3 * POS),
    "Laplace": (lambda m, a, b: m.Laplace(a, b), [REAL, POS], REAL[::-1].copy()),
    "Exponential": (lambda m, a: m.Exponential(a), [POS], POS2),
    "Gamma": (lambda m, a, b: m.Gamma(a, b), [POS, POS2], UNIT * 3),
    "Beta": (lambda m, a, b: m.Beta(a, b), [POS, POS2], UNIT),
    "Bernoulli_probs": (lambda m, p: m.Bernoulli(probs=p), [UNIT], (UNIT > 0.5) * 1.0),
    "Bernoulli_logits": (lambda m, x: m.Bernoulli(logits=x), [REAL], (UNIT > 0.5) * 1.0),
    "Poisson": (lambda m, r: m.Poisson(r), [POS], np.floor(POS * 3)),
    "Cauchy": (lambda m, a, b: m.Cauchy(a, b), [REAL, POS], REAL2),
    "HalfNormal": (lambda m, b: m.HalfNormal(b), [POS], POS2),
    "LogNormal": (lambda m, a, b: m.LogNormal(a, b), [REAL, POS], POS2),
    "Gumbel": (lambda m, a, b: m.Gumbel(a, b), [REAL, POS], REAL2),
    "Chi2": (lambda m, a: m.Chi2(a * 3), [POS], POS2),
    "StudentT": (lambda m, a, b, c: m.StudentT(a * 3, b, c), [POS, REAL, POS2], REAL2),
    "Geometric": (lambda m, p: m.Geometric(p), [UNIT], np.floor(POS * 2)),
}

METHODS = {
    "log_prob": lambda d, v: d.log_prob(v),
    "entropy": lambda d, v: d.entropy(),
    "mean": lambda d, v: d.mean,
    "variance": lambda d, v: d.variance,
    "stddev": lambda d, v: d.stddev,
    "cdf": lambda d, v: d.cdf(v),
    "icdf": lambda d, v: d.icdf(v),
}
HAS = {"Normal": "log_prob entropy mean variance stddev cdf icdf",
       "Uniform": "log_prob entropy mean variance stddev cdf icdf",
       "Laplace": "log_prob entropy mean variance stddev cdf",
       "Exponential": "log_prob entropy mean variance stddev cdf icdf",
       "Gamma": "log_prob entropy mean variance", "Beta": "log_prob entropy mean variance",
       "Bernoulli_probs": "log_prob entropy mean variance",
       "Bernoulli_logits": "log_prob entropy mean variance", "Poisson": "log_prob mean variance",
       "Cauchy": "log_prob entropy cdf icdf", "HalfNormal": "log_prob entropy mean variance cdf",
       "LogNormal": "log_prob entropy mean variance cdf",
       "Gumbel": "log_prob entropy mean variance stddev cdf",
       "Chi2": "log_prob entropy mean variance", "StudentT": "log_prob entropy mean variance",
       "Geometric": "log_prob entropy mean variance"}


@pytest.mark.parametrize("name, method", [(n, m) for n in CASES for m in HAS[n].split()])
def test_against_torch(name, method):
    make, params, value = CASES[name]
    if method == "icdf":
        value = UNIT
    fn = METHODS[method]
    check_torch(lambda *p: fn(make(D, *p), tg.tensor(value)),
                lambda *p: fn(make(TD, *p), torch.tensor(value)), params)


def test_categorical_and_one_hot():
    logits = RNG.standard_normal((2, 4))
    probs = RNG.dirichlet(np.ones(4), 2)
    idx = np.array([[1, 3], [0, 2], [3, 3]])                       # (3, 2): sample dims first
    for kw, arr in (("logits", logits), ("probs", probs)):
        check_torch(lambda p: D.Categorical(**{kw: p}).log_prob(tg.tensor(idx)),
                    lambda p: TD.Categorical(**{kw: p}).log_prob(torch.tensor(idx)), [arr])
        check_torch(lambda p: D.Categorical(**{kw: p}).entropy(),
                    lambda p: TD.Categorical(**{kw: p}).entropy(), [arr])
        onehot = np.eye(4)[idx]
        check_torch(lambda p: D.OneHotCategorical(**{kw: p}).log_prob(tg.tensor(onehot)),
                    lambda p: TD.OneHotCategorical(**{kw: p}).log_prob(torch.tensor(onehot)),
                    [arr])
        check_torch(lambda p: D.OneHotCategorical(**{kw: p}).variance,
                    lambda p: TD.OneHotCategorical(**{kw: p}).variance, [arr])


def test_independent_and_multivariate_normal():
    loc, scale, value = REAL, POS, REAL[::-1].copy()
    check_torch(lambda a, b: D.Independent(D.Normal(a, b), 1).log_prob(tg.tensor(value)),
                lambda a, b: TD.Independent(TD.Normal(a, b), 1).log_prob(torch.tensor(value)),
                [loc, scale])
    check_torch(lambda a, b: D.Independent(D.Normal(a, b), 2).entropy(),
                lambda a, b: TD.Independent(TD.Normal(a, b), 2).entropy(), [loc, scale])
    m = RNG.standard_normal((2, 3, 3))
    cov = m @ m.transpose(0, 2, 1) + np.eye(3)
    tril = np.linalg.cholesky(cov)
    for kw, arr in (("covariance_matrix", cov), ("scale_tril", tril),
                    ("precision_matrix", np.linalg.inv(cov))):
        check_torch(lambda a, c: D.MultivariateNormal(a, **{kw: c}).log_prob(tg.tensor(value)),
                    lambda a, c: TD.MultivariateNormal(a, **{kw: c}).log_prob(
                        torch.tensor(value)), [loc, arr], rtol=1e-6, atol=1e-8)
        check_torch(lambda a, c: D.MultivariateNormal(a, **{kw: c}).entropy(),
                    lambda a, c: TD.MultivariateNormal(a, **{kw: c}).entropy(), [loc, arr],
                    rtol=1e-6, atol=1e-8)
    ours = D.MultivariateNormal(tg.tensor(loc), scale_tril=tg.tensor(tril))
    np.testing.assert_allclose(ours.covariance_matrix.numpy(), cov, rtol=1e-10)
    np.testing.assert_allclose(ours.precision_matrix.numpy(), np.linalg.inv(cov), rtol=1e-8)
    np.testing.assert_allclose(ours.variance.numpy(), np.diagonal(cov, 0, 1, 2), rtol=1e-10)


KL_PAIRS = {
    "Normal": (lambda m, a, b, c, d: (m.Normal(a, b), m.Normal(c, d)),
               [REAL, POS, REAL2, POS2]),
    "Laplace": (lambda m, a, b, c, d: (m.Laplace(a, b), m.Laplace(c, d)),
                [REAL, POS, REAL2, POS2]),
    "Exponential": (lambda m, a, b: (m.Exponential(a), m.Exponential(b)), [POS, POS2]),
    "Gamma": (lambda m, a, b, c, d: (m.Gamma(a, b), m.Gamma(c, d)), [POS, POS2, POS2, POS]),
    "Beta": (lambda m, a, b, c, d: (m.Beta(a, b), m.Beta(c, d)), [POS, POS2, POS2, POS]),
    "Dirichlet": (lambda m, a, b: (m.Dirichlet(a), m.Dirichlet(b)), [POS, POS2]),
    "Poisson": (lambda m, a, b: (m.Poisson(a), m.Poisson(b)), [POS, POS2]),
    "Bernoulli": (lambda m, a, b: (m.Bernoulli(probs=a), m.Bernoulli(probs=b)),
                  [UNIT, UNIT[::-1].copy()]),
    "Categorical": (lambda m, a, b: (m.Categorical(logits=a), m.Categorical(logits=b)),
                    [REAL, POS]),
    "OneHotCategorical": (lambda m, a, b: (m.OneHotCategorical(probs=a),
                                           m.OneHotCategorical(probs=b)), [POS, POS2]),
    "Uniform": (lambda m, a, b: (m.Uniform(a - 1, a + 1), m.Uniform(a - b - 1, a + 2)),
                [REAL, POS]),
    "Independent": (lambda m, a, b: (m.Independent(m.Normal(a, b), 1),
                                     m.Independent(m.Normal(b, a.abs() + 0.5), 1)),
                    [REAL, POS]),
}


@pytest.mark.parametrize("name", sorted(KL_PAIRS))
def test_kl_divergence(name):
    # p's and q's parameters never coincide: where a first derivative is exactly 0 (p.loc ==
    # q.loc), the engine's guard (0 * inf := 0) also zeroes the second derivative through it
    make, params = KL_PAIRS[name]
    check_torch(lambda *p: D.kl_divergence(*make(D, *p)),
                lambda *p: TD.kl_divergence(*make(TD, *p)), params)


def test_kl_multivariate_normal():
    m1, m2 = RNG.standard_normal((2, 3, 3)), RNG.standard_normal((3, 3))
    t1 = np.linalg.cholesky(m1 @ m1.transpose(0, 2, 1) + np.eye(3))
    t2 = np.linalg.cholesky(m2 @ m2.T + np.eye(3))
    check_torch(lambda a, b, c, d: D.kl_divergence(D.MultivariateNormal(a, scale_tril=b),
                                                   D.MultivariateNormal(c, scale_tril=d)),
                lambda a, b, c, d: TD.kl_divergence(TD.MultivariateNormal(a, scale_tril=b),
                                                    TD.MultivariateNormal(c, scale_tril=d)),
                [REAL, t1, REAL[0], t2], rtol=1e-6, atol=1e-8)


def test_kl_infinities_and_registry():
    p = D.Bernoulli(probs=tg.tensor([0.0, 0.5, 1.0]))
    q = D.Bernoulli(probs=tg.tensor([0.5, 0.0, 1.0]))
    ref = TD.kl_divergence(TD.Bernoulli(probs=torch.tensor([0.0, 0.5, 1.0])),
                           TD.Bernoulli(probs=torch.tensor([0.5, 0.0, 1.0])))
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), ref.numpy().astype(np.float32))

    class Wide(D.Normal):
        pass

    @D.register_kl(Wide, D.Normal)
    def _kl(p, q):
        return tg.tensor(42.0)

    assert D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 42.0   # most specific
    assert D.kl_divergence(D.Normal(0.0, 1.0), Wide(0.0, 1.0)).item() == 0.0
    with pytest.raises(NotImplementedError, match="No KL"):          # unregistered in torch too
        D.kl_divergence(D.Normal(0.0, 1.0), D.Cauchy(0.0, 1.0))
    assert D.kl_divergence(D.Normal(0.0, 1.0), D.Gamma(1.0, 1.0)).item() == float("inf")  # torch


@pytest.mark.parametrize("make, event", [
    (lambda: D.Normal(tg.zeros(2, 3), tg.ones(3)), ()),
    (lambda: D.Uniform(tg.zeros(2, 3), 2.0), ()), (lambda: D.Laplace(tg.zeros(2, 3), 1.0), ()),
    (lambda: D.Exponential(tg.ones(2, 3)), ()), (lambda: D.Gamma(tg.ones(2, 3), 2.0), ()),
    (lambda: D.Beta(tg.ones(2, 3), 2.0), ()), (lambda: D.Dirichlet(tg.ones(2, 3, 4)), (4,)),
    (lambda: D.Bernoulli(tg.full((2, 3), 0.3)), ()),
    (lambda: D.Categorical(logits=tg.zeros(2, 3, 5)), ()),
    (lambda: D.OneHotCategorical(logits=tg.zeros(2, 3, 5)), (5,)),
    (lambda: D.Poisson(tg.ones(2, 3)), ()),
    (lambda: D.Independent(D.Normal(tg.zeros(2, 3), 1.0), 1), ()),
    (lambda: D.MultivariateNormal(tg.zeros(2, 3, 4), tg.eye(4)), (4,)),
    (lambda: D.Cauchy(tg.zeros(2, 3), 1.0), ()), (lambda: D.HalfNormal(tg.ones(2, 3)), ()),
    (lambda: D.LogNormal(tg.zeros(2, 3), 1.0), ()), (lambda: D.Gumbel(tg.zeros(2, 3), 1.0), ()),
    (lambda: D.Chi2(tg.ones(2, 3)), ()), (lambda: D.StudentT(tg.ones(2, 3) * 3), ()),
    (lambda: D.Geometric(tg.full((2, 3), 0.3)), ()),
])
def test_sample_shapes_and_log_prob_of_samples(make, event):
    dist = make()
    batch = (2,) if isinstance(dist, D.Independent) else (2, 3)
    assert dist.batch_shape == batch and dist.event_shape == (event or dist.event_shape)
    draws = dist.sample((7,))
    assert tuple(draws.shape) == (7,) + batch + dist.event_shape
    assert not draws.requires_grad
    assert tuple(dist.log_prob(draws).shape) == (7,) + batch
    assert np.isfinite(dist.log_prob(draws).numpy()).all()


@pytest.mark.parametrize("make, mean, var", [
    (lambda p: D.Normal(p, 2.0), 0.7, 4.0), (lambda p: D.Uniform(p, p + 3.0), 2.2, 0.75),
    (lambda p: D.Laplace(p, 0.5), 0.7, 0.5), (lambda p: D.Exponential(p), 1 / 0.7, 1 / 0.49),
    (lambda p: D.Gamma(p * 4, 2.0), 1.4, 0.7), (lambda p: D.Beta(p * 3, 2.0), 2.1 / 4.1,
                                                   2.1 * 2 / (4.1 ** 2 * 5.1)),
    (lambda p: D.HalfNormal(p), 0.7 * np.sqrt(2 / np.pi), 0.49 * (1 - 2 / np.pi)),
    (lambda p: D.LogNormal(p, 0.3), np.exp(0.7 + 0.045), np.expm1(0.09) * np.exp(1.49)),
    (lambda p: D.Gumbel(p, 0.5), 0.7 + 0.5 * 0.5772156649, 0.25 * np.pi ** 2 / 6),
    (lambda p: D.StudentT(p * 10, p, 1.0), 0.7, 7 / 5)])
def test_rsample_moments_and_gradients(make, mean, var):
    tg.manual_seed(0)
    p = tg.tensor(0.7, dtype=tg.float64, requires_grad=True)
    draws = make(p).rsample((40000,))
    values = draws.detach().numpy()
    assert abs(values.mean() - mean) < 4 * np.sqrt(var / len(values)) + 1e-3
    assert abs(values.var() - var) < 0.05 * var
    draws.mean().backward()                       # d E[x] / dp, estimated without bias
    d_mean = (make(tg.tensor(0.7 + 1e-4, dtype=tg.float64)).mean.item() -
              make(tg.tensor(0.7 - 1e-4, dtype=tg.float64)).mean.item()) / 2e-4
    assert abs(p.grad.item() - d_mean) < 0.05 * abs(d_mean) + 0.01


def test_gamma_implicit_gradient():
    from scipy import special
    alpha = np.array([0.3, 1.0, 2.5, 10.0])
    x = np.array([0.05, 0.7, 2.0, 9.0])
    from tinygen.ops.random import StandardGammaGrad
    ours = StandardGammaGrad.apply(tg.tensor(alpha), tg.tensor(x)).numpy()
    u = special.gammainc(alpha, x)                           # x(alpha) = P^{-1}(alpha, u)
    h = 1e-6
    finite = (special.gammaincinv(alpha + h, u) - special.gammaincinv(alpha - h, u)) / (2 * h)
    np.testing.assert_allclose(ours, finite, rtol=1e-6)
    ref = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=2e-4)        # PyTorch's series approximation
    a = tg.tensor([2.0], requires_grad=True)
    (g,) = tg.autograd.grad(D.Gamma(a, 1.0).rsample().sum(), [a], create_graph=True)
    with pytest.raises(NotImplementedError, match="second derivative"):
        g.sum().backward()


def test_discrete_sampling_frequencies():
    tg.manual_seed(1)
    probs = np.array([0.1, 0.6, 0.3])
    draws = D.Categorical(tg.tensor(probs)).sample((20000,)).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / len(draws), probs, atol=0.015)
    hot = D.OneHotCategorical(tg.tensor(probs)).sample((20000,)).numpy()
    np.testing.assert_allclose(hot.mean(0), probs, atol=0.015)
    assert abs(D.Bernoulli(tg.tensor(0.3)).sample((20000,)).numpy().mean() - 0.3) < 0.015
    assert abs(D.Poisson(tg.tensor(3.0)).sample((20000,)).numpy().mean() - 3.0) < 0.05


@pytest.mark.parametrize("call, match", [
    (lambda: D.Normal(tg.tensor([0.0]), tg.tensor([-1.0])),
     r"Expected parameter scale \(Tensor of shape \(1,\)\) of distribution Normal.*GreaterThan"),
    (lambda: D.Bernoulli(probs=tg.tensor([1.5])), "Expected parameter probs"),
    (lambda: D.Categorical(probs=tg.tensor([0.5, -0.1])), "Expected parameter probs"),
    (lambda: D.Normal(0.0, 1.0).log_prob(tg.tensor([float("nan")])),
     r"Expected value argument .* to be within the support \(Real\(\)\)"),
    (lambda: D.Exponential(1.0).log_prob(tg.tensor([-1.0])), "within the support"),
    (lambda: D.Bernoulli(0.5).log_prob(tg.tensor([0.5])), "within the support"),
    (lambda: D.Normal(tg.zeros(3), 1.0).log_prob(tg.zeros(2)), "not broadcastable"),
    (lambda: D.Bernoulli(), "either `probs` or `logits`"),
    (lambda: D.Uniform(1.0, 0.0), "low < high"),
    (lambda: D.Independent(D.Normal(tg.zeros(2), 1.0), 2), "reinterpreted_batch_ndims"),
])
def test_validate_args_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_validation_can_be_switched_off():
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    try:
        D.Distribution.set_default_validate_args(False)
        D.Exponential(1.0).log_prob(tg.tensor([-1.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    assert repr(D.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)" or \
        repr(D.Normal(0.0, 1.0)).startswith("Normal(loc: tensor")
