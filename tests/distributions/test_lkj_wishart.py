"""LKJCholesky and Wishart against torch.distributions: log_prob, entropy and moments with first
and second gradients in float64 (check_op), the Bregman KL of two Wisharts, rsample fed the
same Bartlett noise in both libraries, sample statistics within bounds from the sample size,
shapes and expand, and argument errors."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D
from tinygen.distributions import wishart as wishart_module

torch = pytest.importorskip("torch")
TD = torch.distributions

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)

RNG = np.random.default_rng(17)


def check(tg_fn, torch_fn, arrays, **kw):
    kw.setdefault("gradcheck_max_numel", 12)
    kw.setdefault("rtol", 1e-7)
    kw.setdefault("atol", 1e-9)
    check_op(tg_fn, torch_fn, arrays, **kw)


def spd(batch, p):
    a = RNG.standard_normal(batch + (p, p))
    return a @ np.swapaxes(a, -1, -2) + np.eye(p)


# ---- LKJCholesky ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3, 4])
def test_lkj_log_prob_against_torch(dim):
    conc = np.array([0.5, 1.0, 2.5])
    torch.manual_seed(dim)
    value = TD.LKJCholesky(dim, torch.tensor(conc)).sample((2,)).numpy()       # (2, 3, d, d)
    ours = D.LKJCholesky(dim, tg.tensor(conc)).log_prob(tg.tensor(value))
    ref = TD.LKJCholesky(dim, torch.tensor(conc)).log_prob(torch.tensor(value))
    assert tuple(ours.shape) == tuple(ref.shape) == (2, 3)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10)
    check(lambda c: D.LKJCholesky(dim, c).log_prob(tg.tensor(value)),
          lambda c: TD.LKJCholesky(dim, c).log_prob(torch.tensor(value)), [conc])


def test_lkj_samples_are_correlation_factors_with_the_lkj_marginal():
    """Each off-diagonal correlation r of LKJ(eta) in dimension d has (r + 1) / 2 ~
    Beta(b, b), b = eta - 1 + d / 2: mean 0, variance 1 / (2 b + 1)."""
    tg.manual_seed(2)
    d, eta, n = 4, 1.7, 20000
    dist = D.LKJCholesky(d, tg.tensor(eta, dtype=tg.float64))
    lower = dist.sample((n,))
    assert tuple(lower.shape) == (n, d, d) and not lower.requires_grad
    assert bool(D.constraints.corr_cholesky.check(lower).all())
    corr = (lower @ lower.mT).numpy()
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, rtol=1e-10)
    b = eta - 1 + d / 2
    variance = 1 / (2 * b + 1)
    fourth = 3 / ((2 * b + 1) * (2 * b + 3))                  # E[r^4] of the scaled Beta
    for i, j in [(1, 0), (2, 0), (3, 1), (3, 2)]:
        r = corr[:, i, j]
        assert abs(r.mean()) <= 6 * np.sqrt(variance / n)
        assert abs((r ** 2).mean() - variance) <= 6 * np.sqrt((fourth - variance ** 2) / n)


def test_lkj_shapes_expand_and_errors():
    ours = D.LKJCholesky(3, tg.tensor([0.5, 2.0]))
    ref = TD.LKJCholesky(3, torch.tensor([0.5, 2.0]))
    assert ours.batch_shape == tuple(ref.batch_shape) == (2,)
    assert ours.event_shape == tuple(ref.event_shape) == (3, 3)
    assert ours.has_rsample is ref.has_rsample is False
    big = ours.expand((4, 2))
    assert big.batch_shape == (4, 2) and tuple(big.sample((5,)).shape) == (5, 4, 2, 3, 3)
    value = ref.sample((4,))
    np.testing.assert_allclose(big.log_prob(tg.tensor(value.numpy())).numpy(),
                               ref.expand((4, 2)).log_prob(value).numpy(), rtol=1e-5)
    assert repr(ours.support) == repr(ref.support)
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        D.LKJCholesky(1, 1.0)
    with pytest.raises(ValueError, match="parameter concentration"):
        D.LKJCholesky(3, tg.tensor(-1.0))
    with pytest.raises(ValueError, match="within the support"):
        D.LKJCholesky(2, 1.0).log_prob(tg.tensor([[1.0, 0.0], [0.5, 0.5]]))


# ---- Wishart -------------------------------------------------------------------------------------
SIGMA = spd((2,), 3)
DF = np.array([4.5, 6.0])
PARAMS = {"covariance_matrix": SIGMA, "precision_matrix": np.linalg.inv(SIGMA),
          "scale_tril": np.linalg.cholesky(SIGMA)}
VALUE = spd((2,), 3)

METHODS = {
    "log_prob": lambda d: d.log_prob(d_tensor(d)(VALUE)),
    "entropy": lambda d: d.entropy(),
    "mean": lambda d: d.mean,
    "mode": lambda d: d.mode,
    "variance": lambda d: d.variance,
}


def d_tensor(d):
    return tg.tensor if isinstance(d, D.Distribution) else torch.tensor


@pytest.mark.parametrize("kind", sorted(PARAMS))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_wishart_against_torch(kind, method):
    """Values and gradients in df and the matrix (scale_tril: in its lower triangle)."""
    def make(m):
        def fn(df, matrix):
            if kind == "scale_tril":
                matrix = matrix.tril()
            elif method != "log_prob" or kind == "covariance_matrix":
                matrix = (matrix + matrix.mT) / 2              # symmetric perturbations
            return METHODS[method](m.Wishart(df, **{kind: matrix}))
        return fn

    check(make(D), make(TD), [DF, PARAMS[kind]], gradcheck=kind == "scale_tril")


def test_wishart_kl_is_the_bregman_divergence():
    """No closed form is registered: the ExponentialFamily KL, as in PyTorch (p's natural
    parameters detached)."""
    def kl(m):
        return lambda df_p, cov_p, df_q, cov_q: m.kl_divergence(
            m.Wishart(df_p, covariance_matrix=cov_p), m.Wishart(df_q, covariance_matrix=cov_q))

    params = [DF, SIGMA, DF + 1.5, spd((2,), 3)]
    ours = kl(D)(*[tg.tensor(a) for a in params])
    ref = kl(TD)(*[torch.tensor(a) for a in params])
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    check(kl(D), kl(TD), params, requires_grad=[False, False, True, True], gradcheck=False)
    single = D.kl_divergence(D.Wishart(5.0, covariance_matrix=tg.tensor(SIGMA[0])),
                             D.Wishart(5.0, covariance_matrix=tg.tensor(SIGMA[0])))
    assert abs(single.item()) < 1e-10


def feed_bartlett(monkeypatch, chi2, normals):
    """Both libraries' Bartlett draws: the Chi2 diagonal and the normals below it."""
    p = chi2.shape[-1]
    rows, cols = np.tril_indices(p, -1)
    full = np.zeros(normals.shape[:-1] + (p, p))
    full[..., rows, cols] = normals

    def tg_draw(kind, shape, dtype=None, device=None, *args):
        assert kind == "normal" and tuple(shape) == full.shape
        return full.astype(np.float64)

    def torch_randn(*shape, dtype=None, device=None, **kwargs):
        return torch.tensor(normals, dtype=dtype)

    monkeypatch.setattr(wishart_module, "random_array", tg_draw)
    monkeypatch.setattr(torch, "randn", torch_randn)
    return lambda d: setattr(d._dist_chi2, "rsample",
                             lambda sample_shape=(): d_tensor(d)(chi2))


def test_wishart_rsample_with_the_same_noise(monkeypatch):
    """The same Bartlett draws give the same matrices; the Bartlett map's gradients match
    PyTorch's (its rsample itself cannot be differentiated: its inverted singularity check
    redraws in place, with a warning, on every call)."""
    chi2 = RNG.uniform(1.0, 5.0, (4, 2, 3))
    fix = feed_bartlett(monkeypatch, chi2, RNG.standard_normal((4, 2, 3)))
    weights = RNG.standard_normal((4, 2, 3, 3))

    def loss(m, method="rsample"):
        def fn(df, tril):
            d = m.Wishart(df, scale_tril=tril.tril())
            fix(d)
            return (getattr(d, method)((4,)) * d_tensor(d)(weights)).sum()
        return fn

    with pytest.warns(UserWarning, match="Singular sample"):
        torch_value = loss(TD)(torch.tensor(DF), torch.tensor(PARAMS["scale_tril"]))
    ours = loss(D)(tg.tensor(DF), tg.tensor(PARAMS["scale_tril"]))
    np.testing.assert_allclose(ours.numpy(), torch_value.numpy(), rtol=1e-10)
    check(loss(D, "_bartlett_sampling"), loss(TD, "_bartlett_sampling"),
          [DF, PARAMS["scale_tril"]], gradcheck=False)
    tril = tg.tensor(PARAMS["scale_tril"], requires_grad=True)
    (g,) = tg.autograd.grad(loss(D)(tg.tensor(DF), tril), [tril])
    (g_map,) = tg.autograd.grad(loss(D, "_bartlett_sampling")(tg.tensor(DF), tril), [tril])
    np.testing.assert_allclose(g.numpy(), g_map.numpy(), rtol=1e-12)


def test_wishart_sample_moments():
    """E[X] = df Sigma and Var[X_ij] = df (Sigma_ij^2 + Sigma_ii Sigma_jj)."""
    tg.manual_seed(6)
    n = 20000
    d = D.Wishart(tg.tensor(DF), covariance_matrix=tg.tensor(SIGMA))
    draws = d.rsample((n,))
    assert tuple(draws.shape) == (n, 2, 3, 3)
    assert bool(D.constraints.positive_definite.check(draws).all())
    x = draws.numpy()
    mean, variance = d.mean.numpy(), d.variance.numpy()
    assert np.all(np.abs(x.mean(0) - mean) <= 6 * np.sqrt(variance / n))
    centred = x - x.mean(0)
    s2, m4 = (centred ** 2).mean(0), (centred ** 4).mean(0)
    assert np.all(np.abs(s2 - variance) <= 6 * np.sqrt((m4 - s2 ** 2) / n))


def test_wishart_shapes_expand_and_errors():
    ours = D.Wishart(tg.tensor(DF), covariance_matrix=tg.tensor(SIGMA[0]))   # df gives batch
    ref = TD.Wishart(torch.tensor(DF), covariance_matrix=torch.tensor(SIGMA[0]))
    assert ours.batch_shape == tuple(ref.batch_shape) == (2,)
    assert ours.event_shape == tuple(ref.event_shape) == (3, 3)
    assert isinstance(ours, D.ExponentialFamily) and ours.has_rsample
    big = ours.expand((5, 2))
    assert big.batch_shape == (5, 2) and tuple(big.scale_tril.shape) == (5, 2, 3, 3)
    np.testing.assert_allclose(big.log_prob(tg.tensor(VALUE)).numpy(),
                               ref.expand((5, 2)).log_prob(torch.tensor(VALUE)).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(ours.precision_matrix.numpy(), ref.precision_matrix.numpy(),
                               rtol=1e-10)
    assert repr(ours.support) == repr(ref.support)
    with pytest.raises(AssertionError, match="Exactly one of"):
        D.Wishart(4.0)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        D.Wishart(4.0, scale_tril=tg.ones(3))
    with pytest.raises(ValueError, match="expected to be greater than ndim - 1 = 2"):
        D.Wishart(1.5, covariance_matrix=tg.tensor(SIGMA[0]))
    with pytest.warns(UserWarning, match="Low df values"):
        D.Wishart(2.5, covariance_matrix=tg.tensor(SIGMA[0]))
    with pytest.raises(ValueError, match="parameter covariance_matrix"):
        D.Wishart(4.0, covariance_matrix=tg.tensor(-np.eye(3)))
    with pytest.raises(ValueError, match="within the support"):
        D.Wishart(4.0, covariance_matrix=tg.eye(3)).log_prob(tg.tensor(-np.eye(3)))
