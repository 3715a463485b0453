"""F.gumbel_softmax against torch.nn.functional.gumbel_softmax given the same Gumbel noise (ours
through a replaced ops.activation.gumbel_noise, torch's through a replaced Tensor.exponential_):
values, first and second gradients, soft and hard, over tau and dim; rows on the simplex, hard
rows one-hot at the soft argmax, the straight-through gradient equal to the soft one; the noise's
moments and the Gumbel-max frequencies from tinygen's generator; the deprecated eps; errors."""
import math
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.ops import activation

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)

RNG = np.random.default_rng(0)


def feed_noise(monkeypatch, exponential):
    """Both libraries draw g = -log(E) with E = `exponential` (an array of the logits' shape)."""
    def ours(like):
        return (-tg.tensor(exponential).log()).to(like.dtype)

    def theirs(self, *args, **kwargs):
        with torch.no_grad():
            return self.copy_(torch.tensor(exponential))

    monkeypatch.setattr(activation, "gumbel_noise", ours)
    monkeypatch.setattr(torch.Tensor, "exponential_", theirs)


@pytest.mark.parametrize("shape, dim", [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1),
                                        ((2, 3, 4), -3), ((6,), 0)])
@pytest.mark.parametrize("tau", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("hard", [False, True])
def test_against_torch_with_the_same_noise(monkeypatch, shape, dim, tau, hard):
    """The hard forward is piecewise constant, so its finite differences (gradcheck) are zero
    while its straight-through gradient is not: hard is checked against torch only."""
    feed_noise(monkeypatch, RNG.exponential(size=shape))
    logits = RNG.standard_normal(shape)
    check_op(lambda x: F.gumbel_softmax(x, tau=tau, hard=hard, dim=dim),
             lambda x: TF.gumbel_softmax(x, tau=tau, hard=hard, dim=dim), [logits],
             rtol=1e-10, atol=1e-12, gradcheck=not hard, gradcheck_max_numel=6)


def test_float32_against_torch(monkeypatch):
    noise = RNG.exponential(size=(8, 10))
    feed_noise(monkeypatch, noise)
    logits = RNG.standard_normal((8, 10)).astype(np.float32)
    w = RNG.standard_normal((8, 10)).astype(np.float32)
    for hard in (False, True):
        x, xt = tg.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
        y = F.gumbel_softmax(x, tau=0.5, hard=hard)
        yt = TF.gumbel_softmax(xt, tau=0.5, hard=hard)
        assert y.dtype == tg.float32
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        (y * tg.tensor(w)).sum().backward()
        (yt * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_formula_with_fed_noise(monkeypatch):
    """softmax((logits + g) / tau) with g = -log(E), written out in NumPy."""
    noise = RNG.exponential(size=(3, 4))
    feed_noise(monkeypatch, noise)
    logits = RNG.standard_normal((3, 4))
    for tau in (0.2, 1.0, 3.0):
        z = (logits - np.log(noise)) / tau
        expected = np.exp(z - z.max(1, keepdims=True))
        expected /= expected.sum(1, keepdims=True)
        ours = F.gumbel_softmax(tg.tensor(logits), tau=tau).numpy()
        np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_tau_sharpens_and_flattens(monkeypatch):
    """With the noise fixed: the largest entry of each row grows as tau falls (to one-hot at
    tau -> 0) and the rows flatten towards uniform as tau grows."""
    feed_noise(monkeypatch, RNG.exponential(size=(5, 6)))
    logits = tg.tensor(RNG.standard_normal((5, 6)))
    taus = [0.01, 0.1, 0.5, 1.0, 5.0, 1000.0]
    peaks = np.stack([F.gumbel_softmax(logits, tau=t).numpy().max(1) for t in taus])
    assert (np.diff(peaks, axis=0) <= 0).all() and (np.diff(peaks[2:], axis=0) < 0).all()
    np.testing.assert_allclose(peaks[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(F.gumbel_softmax(logits, tau=1e6).numpy(), 1 / 6, atol=1e-5)
    hard = F.gumbel_softmax(logits, tau=0.01, hard=True).numpy()
    np.testing.assert_allclose(F.gumbel_softmax(logits, tau=0.01).numpy(), hard, atol=1e-6)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
def test_rows_on_the_simplex_and_hard_one_hot_along_dim(dim):
    logits = tg.tensor(RNG.standard_normal((3, 4, 5)))
    tg.manual_seed(7)
    soft = F.gumbel_softmax(logits, tau=0.7, dim=dim).numpy()
    tg.manual_seed(7)
    hard = F.gumbel_softmax(logits, tau=0.7, hard=True, dim=dim).numpy()
    np.testing.assert_allclose(soft.sum(dim), 1.0, rtol=1e-12)
    assert (soft > 0).all() and (soft < 1).all()
    assert set(np.unique(hard)) == {0.0, 1.0}
    np.testing.assert_array_equal(hard.sum(dim), 1.0)
    np.testing.assert_array_equal(hard.argmax(dim), soft.argmax(dim))   # the same draw


def test_straight_through_gradient_is_the_soft_gradient():
    logits = RNG.standard_normal((6, 4))
    weights = tg.tensor(RNG.standard_normal((6, 4)))
    grads = []
    for hard in (False, True):
        x = tg.tensor(logits, requires_grad=True)
        tg.manual_seed(3)
        (F.gumbel_softmax(x, tau=0.5, hard=hard) * weights).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-15)
    assert np.abs(grads[0]).max() > 1e-3


def test_noise_moments_and_the_gumbel_max_frequencies():
    """g ~ Gumbel(0, 1): mean Euler's gamma, variance pi^2 / 6 (within 5 standard errors of the
    sample); argmax(logits + g) ~ Categorical(softmax(logits)) (the Gumbel-max trick)."""
    tg.manual_seed(0)
    n = 200000
    g = activation.gumbel_noise(tg.zeros(n, dtype=tg.float64)).numpy()
    var = math.pi ** 2 / 6
    assert abs(g.mean() - 0.5772156649015329) < 5 * math.sqrt(var / n)
    assert abs(g.var() - var) < 5 * math.sqrt((27 / 5 + 2) * var ** 2 / n)   # kurtosis 12/5
    probs = np.array([0.1, 0.6, 0.3])
    draws = F.gumbel_softmax(tg.tensor(np.log(probs)).expand(40000, 3), tau=0.3, hard=True)
    frequencies = draws.numpy().mean(0)
    np.testing.assert_allclose(frequencies, probs, atol=5 * np.sqrt(0.25 / 40000))


def test_noise_follows_the_seed_dtype_and_stays_finite():
    x = tg.zeros(1000, 7)
    tg.manual_seed(11)
    first = F.gumbel_softmax(x, tau=0.1).numpy()
    tg.manual_seed(11)
    again = F.gumbel_softmax(x, tau=0.1).numpy()
    third = F.gumbel_softmax(x, tau=0.1).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, third)
    assert first.dtype == np.float32 and np.isfinite(first).all()
    g = activation.gumbel_noise(tg.zeros(50000, dtype=tg.float32))
    assert g.dtype == tg.float32 and np.isfinite(g.numpy()).all()


def test_eps_is_deprecated_as_in_torch():
    x = tg.tensor(RNG.standard_normal((2, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.manual_seed(1)
        default = F.gumbel_softmax(x).numpy()                 # the default eps: no warning
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated and has no effect."):
        tg.manual_seed(1)
        other = F.gumbel_softmax(x, eps=1e-3).numpy()
    np.testing.assert_array_equal(other, default)
    with pytest.warns(UserWarning, match="deprecated"):
        TF.gumbel_softmax(torch.zeros(2, 3), eps=1e-3)


def test_errors():
    with pytest.raises(RuntimeError, match="gumbel_softmax: expected a floating-point logits"):
        F.gumbel_softmax(tg.tensor([[1, 2, 3]]))
    with pytest.raises(IndexError, match="dimension out of range"):
        F.gumbel_softmax(tg.zeros(2, 3), dim=2)
    with pytest.raises(IndexError):
        TF.gumbel_softmax(torch.zeros(2, 3), dim=2)
