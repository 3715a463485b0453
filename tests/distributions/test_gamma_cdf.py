"""Gamma.cdf and Chi2.cdf (inherited) against torch.distributions: gammainc(concentration,
rate * value). Values on grids with the edges (value 0, large values, float32 and float64,
broadcasting a sample shape), gradients in value and rate against torch's autograd and finite
differences, the concentration's NotImplementedError, validate_args."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D
from helpers import check_op

torch = pytest.importorskip("torch")
TD = torch.distributions

CONCENTRATION = np.array([0.05, 0.5, 1.0, 2.5, 30.0, 400.0])
RATE = np.array([0.1, 2.0, 1.0, 0.7, 3.0, 1.0])
VALUES = np.array([[0.0, 1e-8, 0.3, 1.0, 5.0, 1e6],
                   [2.0, 0.01, 12.0, 3.5, 9.9, 420.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gamma_cdf_values_match_torch(dtype):
    a, b, v = (x.astype(dtype) for x in (CONCENTRATION, RATE, VALUES))
    got = D.Gamma(tg.tensor(a), tg.tensor(b)).cdf(tg.tensor(v))
    want = TD.Gamma(torch.tensor(a), torch.tensor(b)).cdf(torch.tensor(v))
    assert got.dtype == (tg.float32 if dtype == np.float32 else tg.float64)
    assert want.dtype == (torch.float32 if dtype == np.float32 else torch.float64)
    assert tuple(got.shape) == (2, 6)
    rtol = 2e-4 if dtype == np.float32 else 1e-8   # (a in (20, 200): PyTorch ~1e-10)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=1e-30)
    assert got.numpy()[0, 0] == 0.0                    # F(0) = 0
    assert got.numpy()[0, 5] == 1.0                    # far right: 1


def test_gamma_cdf_broadcasts_a_sample_shape_and_numbers():
    a, b = np.array([[1.5], [4.0]]), np.array([0.5, 2.0, 3.0])     # batch (2, 3)
    value = np.linspace(0.1, 6.0, 12).reshape(4, 1, 3)            # sample shape (4,) + batch
    got = D.Gamma(tg.tensor(a), tg.tensor(b)).cdf(tg.tensor(value))
    want = TD.Gamma(torch.tensor(a), torch.tensor(b)).cdf(torch.tensor(value))
    assert tuple(got.shape) == tuple(want.shape) == (4, 2, 3)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    got = D.Gamma(2.0, 0.5).cdf(tg.tensor([1.0, 4.0]))
    want = TD.Gamma(2.0, 0.5).cdf(torch.tensor([1.0, 4.0]))
    assert got.dtype == tg.float32 and want.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_gamma_cdf_is_the_integral_of_the_density():
    dist = D.Gamma(tg.tensor([2.5]), tg.tensor([1.5]))
    grid = np.linspace(1e-9, 3.0, 30001)
    density = np.exp(dist.log_prob(tg.tensor(grid[:, None])).numpy()[:, 0])
    integral = np.trapezoid(density, grid)
    assert abs(dist.cdf(tg.tensor([3.0])).item() - integral) < 1e-6


def test_gamma_cdf_gradients_in_value_and_rate_match_torch():
    a = np.array([0.7, 2.0, 5.0])
    check_op(lambda b, v: D.Gamma(tg.tensor(a), b).cdf(v),
             lambda b, v: TD.Gamma(torch.tensor(a), b).cdf(v),
             [np.array([0.5, 1.0, 2.0]), np.array([[0.4, 1.3, 2.2], [3.0, 0.2, 1.1]])],
             rtol=1e-8, atol=1e-12, gradcheck_max_numel=12)


def test_gamma_cdf_gradient_against_finite_differences():
    a = tg.tensor([0.7, 2.0, 5.0], dtype=tg.float64)
    value = tg.tensor([0.4, 1.3, 6.2], dtype=tg.float64, requires_grad=True)
    rate = tg.tensor([0.5, 1.0, 2.0], dtype=tg.float64, requires_grad=True)

    def cdf(b, v):
        return D.Gamma(a, b).cdf(v)
    assert tg.autograd.gradcheck(cdf, (rate, value), atol=1e-7, rtol=1e-5)
    assert tg.autograd.gradgradcheck(cdf, (rate, value), atol=1e-6, rtol=1e-4)


def test_gamma_cdf_gradient_in_concentration_is_not_implemented_as_in_torch():
    a, b, v = np.array([1.5, 3.0]), np.array([1.0, 2.0]), np.array([0.5, 2.0])
    with pytest.raises(NotImplementedError):
        TD.Gamma(torch.tensor(a, requires_grad=True), torch.tensor(b)).cdf(
            torch.tensor(v)).sum().backward()
    with pytest.raises(NotImplementedError, match="igamma"):
        D.Gamma(tg.tensor(a, requires_grad=True), tg.tensor(b)).cdf(
            tg.tensor(v)).sum().backward()


def test_gamma_cdf_validates_its_value_as_torch():
    with pytest.raises(ValueError):
        TD.Gamma(torch.tensor([1.0]), torch.tensor([1.0])).cdf(torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="support"):
        D.Gamma(tg.tensor([1.0]), tg.tensor([1.0])).cdf(tg.tensor([-1.0]))
    got = D.Gamma(tg.tensor([1.0]), tg.tensor([1.0]), validate_args=False).cdf(tg.tensor([-1.0]))
    want = TD.Gamma(torch.tensor([1.0]), torch.tensor([1.0]), validate_args=False).cdf(
        torch.tensor([-1.0]))
    assert np.isnan(got.item()) and np.isnan(want.item())


def test_gamma_cdf_of_an_integer_value_tensor():
    value = np.array([0, 1, 4])
    got = D.Gamma(tg.tensor([2.0]), tg.tensor([1.5])).cdf(tg.tensor(value))
    want = TD.Gamma(torch.tensor([2.0]), torch.tensor([1.5])).cdf(torch.tensor(value))
    assert got.dtype == tg.float32 and want.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chi2_cdf_matches_torch(dtype):
    df = np.array([[1.0], [3.0], [10.0], [100.0]], dtype=dtype)
    value = np.array([0.0, 0.5, 2.0, 9.0, 120.0], dtype=dtype)
    got = D.Chi2(tg.tensor(df)).cdf(tg.tensor(value))
    want = TD.Chi2(torch.tensor(df)).cdf(torch.tensor(value))
    assert tuple(got.shape) == (4, 5)
    assert got.dtype == (tg.float32 if dtype == np.float32 else tg.float64)
    np.testing.assert_allclose(got.numpy(), want.numpy(),
                               rtol=2e-4 if dtype == np.float32 else 1e-8, atol=1e-30)
    # the chi-squared(1) cdf is erf(sqrt(x / 2))
    np.testing.assert_allclose(got.numpy()[0], tg.erf((tg.tensor(value) / 2).sqrt()).numpy(),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_chi2_cdf_gradient_in_value_matches_torch():
    check_op(lambda v: D.Chi2(tg.tensor([2.0, 5.0, 7.5], dtype=tg.float64)).cdf(v),
             lambda v: TD.Chi2(torch.tensor([2.0, 5.0, 7.5], dtype=torch.float64)).cdf(v),
             [np.array([0.3, 4.0, 11.0])], rtol=1e-8, atol=1e-12)


def test_chi2_cdf_of_samples_is_uniform():
    tg.manual_seed(0)
    dist = D.Chi2(tg.tensor([4.0], dtype=tg.float64))
    u = np.sort(dist.cdf(dist.sample((4000,))).numpy()[:, 0])
    ks = np.max(np.abs(u - (np.arange(1, 4001) - 0.5) / 4000))    # Kolmogorov-Smirnov statistic
    assert ks < 0.035


def test_inverse_gamma_cdf_follows_from_gamma_cdf():
    """torch's InverseGamma is Gamma pushed through PowerTransform(-1): its cdf is 1 - Gamma's
    cdf at 1 / x, so it exists wherever Gamma.cdf does."""
    if not hasattr(D, "InverseGamma"):
        pytest.skip("tinygen.distributions has no InverseGamma")
    a, b, v = np.array([2.0, 0.7, 3.0]), np.array([1.0, 2.0, 0.5]), np.array([0.2, 1.0, 5.0])
    got = D.InverseGamma(tg.tensor(a), tg.tensor(b)).cdf(tg.tensor(v))
    want = TD.InverseGamma(torch.tensor(a), torch.tensor(b)).cdf(torch.tensor(v))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
