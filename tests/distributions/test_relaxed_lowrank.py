"""LowRankMultivariateNormal and the relaxed distributions (LogitRelaxedBernoulli,
RelaxedBernoulli, ExpRelaxedCategorical, RelaxedOneHotCategorical) against torch.distributions:
log_prob, entropy, moments, matrices and the three low-rank KL pairs with their first and second
gradients in float64 (check_op) and values in float32; rsample fed the same base noise in both
libraries, values and gradients; sample statistics within bounds from the sample size; batch,
event and sample shapes and expand; validate_args errors."""
import math

import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D
from tinygen.distributions import lowrank_multivariate_normal as lowrank_module
from tinygen.distributions import relaxed_bernoulli, relaxed_categorical
from tinygen.distributions.relaxed_bernoulli import LogitRelaxedBernoulli
from tinygen.distributions.relaxed_categorical import ExpRelaxedCategorical

torch = pytest.importorskip("torch")
TD = torch.distributions
from torch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli as TLogitRB  # noqa: E402
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical as TExpRC  # noqa: E402

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)

RNG = np.random.default_rng(0)
N, M = 4, 2                                              # event size, rank
LOC = RNG.standard_normal((3, N))
FACTOR = RNG.standard_normal((3, N, M))
DIAG = RNG.uniform(0.5, 2.0, (N,))                       # broadcast against the batch (3,)
VALUE = RNG.standard_normal((2, 3, N))                   # a sample dim in front


def check_torch(tg_fn, torch_fn, arrays, **kw):
    check_op(tg_fn, torch_fn, arrays, gradcheck_max_numel=12, rtol=1e-9, atol=1e-10, **kw)


def lowrank(module, loc, factor, diag):
    return module.LowRankMultivariateNormal(loc, factor, diag)


LOWRANK = {
    "log_prob": lambda d, t: d.log_prob(t(VALUE)),
    "entropy": lambda d, t: d.entropy(),
    "mean": lambda d, t: d.mean,
    "mode": lambda d, t: d.mode,
    "variance": lambda d, t: d.variance,
    "stddev": lambda d, t: d.stddev,
    "covariance_matrix": lambda d, t: d.covariance_matrix,
    "precision_matrix": lambda d, t: d.precision_matrix,
    "scale_tril": lambda d, t: d.scale_tril,
}


@pytest.mark.parametrize("name", list(LOWRANK))
def test_lowrank_against_torch(name):
    fn = LOWRANK[name]
    check_torch(lambda a, w, d: fn(lowrank(D, a, w, d), tg.tensor),
                lambda a, w, d: fn(lowrank(TD, a, w, d), torch.tensor), [LOC, FACTOR, DIAG],
                gradcheck=name in ("log_prob", "entropy", "precision_matrix"))


def test_lowrank_matrices_agree_with_each_other():
    d = lowrank(D, tg.tensor(LOC), tg.tensor(FACTOR), tg.tensor(DIAG))
    cov = FACTOR @ FACTOR.transpose(0, 2, 1) + np.diag(DIAG)
    np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, rtol=1e-12)
    np.testing.assert_allclose(d.precision_matrix.numpy(), np.linalg.inv(cov), rtol=1e-9,
                               atol=1e-12)
    tril = d.scale_tril.numpy()
    np.testing.assert_allclose(tril @ tril.transpose(0, 2, 1), cov, rtol=1e-12)
    np.testing.assert_allclose(tril, np.linalg.cholesky(cov), rtol=1e-10, atol=1e-12)
    mvn = D.MultivariateNormal(tg.tensor(LOC), covariance_matrix=tg.tensor(cov))
    np.testing.assert_allclose(d.log_prob(tg.tensor(VALUE)).numpy(),
                               mvn.log_prob(tg.tensor(VALUE)).numpy(), rtol=1e-11)
    np.testing.assert_allclose(d.entropy().numpy(), mvn.entropy().numpy(), rtol=1e-12)


def test_lowrank_float32_against_torch():
    args = [a.astype(np.float32) for a in (LOC, FACTOR, DIAG)]
    ours = lowrank(D, *[tg.tensor(a) for a in args])
    theirs = lowrank(TD, *[torch.tensor(a) for a in args])
    value = VALUE.astype(np.float32)
    for fn in LOWRANK.values():
        a = fn(ours, lambda v: tg.tensor(v.astype(np.float32)))
        e = fn(theirs, lambda v: torch.tensor(v.astype(np.float32)))
        assert a.dtype == tg.float32
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-5, atol=1e-5)
    assert value.dtype == np.float32


P2 = [RNG.standard_normal((N,)), RNG.standard_normal((2, 1, N, 3)), RNG.uniform(0.5, 2, (3, N))]
MVN_M = RNG.standard_normal((3, N, N))
MVN_TRIL = np.linalg.cholesky(MVN_M @ MVN_M.transpose(0, 2, 1) + np.eye(N))
KL_PAIRS = {
    "lowrank_lowrank": (lambda m, a, w, d, b, v, e: (lowrank(m, a, w, d), lowrank(m, b, v, e)),
                        [LOC, FACTOR, DIAG] + P2),
    "lowrank_mvn": (lambda m, a, w, d, b, t: (lowrank(m, a, w, d),
                                              m.MultivariateNormal(b, scale_tril=t)),
                    [LOC, FACTOR, DIAG, P2[0], MVN_TRIL]),
    "mvn_lowrank": (lambda m, b, t, a, w, d: (m.MultivariateNormal(b, scale_tril=t),
                                              lowrank(m, a, w, d)),
                    [P2[0], MVN_TRIL, LOC, FACTOR, DIAG]),
}


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_lowrank_kl_against_torch(name):
    make, params = KL_PAIRS[name]
    check_torch(lambda *p: D.kl_divergence(*make(D, *p)),
                lambda *p: TD.kl_divergence(*make(TD, *p)), params, gradcheck=False)


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_lowrank_kl_is_the_full_covariance_kl(name):
    """Each pair equals the MultivariateNormal || MultivariateNormal KL of the same Gaussians,
    and is zero from a distribution to itself."""
    make, params = KL_PAIRS[name]
    p, q = make(D, *[tg.tensor(a) for a in params])
    full = [D.MultivariateNormal(d.mean, covariance_matrix=d.covariance_matrix) for d in (p, q)]
    kl = D.kl_divergence(p, q)
    np.testing.assert_allclose(kl.numpy(), D.kl_divergence(*full).numpy(), rtol=1e-9)
    assert tuple(kl.shape) == tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))
    np.testing.assert_allclose(D.kl_divergence(p, p).numpy(), 0.0, atol=1e-12)


def test_lowrank_kl_event_shapes_must_match():
    p = lowrank(D, tg.zeros(3), tg.ones(3, 1), tg.ones(3))
    q = lowrank(D, tg.zeros(2), tg.ones(2, 1), tg.ones(2))
    for other in (q, D.MultivariateNormal(tg.zeros(2), tg.eye(2))):
        with pytest.raises(ValueError, match="different event shapes"):
            D.kl_divergence(p, other)
        with pytest.raises(ValueError, match="different event shapes"):
            D.kl_divergence(other, p)


def feed_normals(monkeypatch, arrays):
    """Both libraries' standard-normal draws come from `arrays`, in order."""
    ours, theirs = iter(arrays), iter(arrays)

    def tg_draw(kind, shape, dtype=None, device=None, *args):
        value = next(ours)
        assert kind == "normal" and value.shape == tuple(shape)
        return value.astype(np.float64)

    def torch_draw(shape, dtype=None, device=None):
        value = next(theirs)
        assert value.shape == tuple(shape)
        return torch.tensor(value, dtype=dtype)

    monkeypatch.setattr(lowrank_module, "random_array", tg_draw)
    monkeypatch.setattr(TD.lowrank_multivariate_normal, "_standard_normal", torch_draw)


def test_lowrank_rsample_with_the_same_noise(monkeypatch):
    """loc + W eps_W + sqrt(D) eps_D: values and gradients of a loss through the draws."""
    eps_w, eps_d = RNG.standard_normal((5, 3, M)), RNG.standard_normal((5, 3, N))
    feed_normals(monkeypatch, [eps_w, eps_d] * 200)
    target = RNG.standard_normal((5, 3, N))

    def loss(module, t):
        return lambda a, w, d: ((lowrank(module, a, w, d).rsample((5,)) - t(target)) ** 2).sum()

    check_torch(loss(D, tg.tensor), loss(TD, torch.tensor), [LOC, FACTOR, DIAG])
    draw = lowrank(D, *[tg.tensor(a) for a in (LOC, FACTOR, DIAG)]).rsample((5,)).numpy()
    expected = LOC + (FACTOR @ eps_w[..., None])[..., 0] + np.sqrt(DIAG) * eps_d
    np.testing.assert_allclose(draw, expected, rtol=1e-12)


def test_lowrank_sample_statistics():
    """Sample mean and covariance within 5 standard errors (n = 40000 draws)."""
    tg.manual_seed(0)
    loc, factor, diag = LOC[0], FACTOR[0], DIAG
    d = lowrank(D, tg.tensor(loc), tg.tensor(factor), tg.tensor(diag))
    draws = d.sample((40000,)).numpy()
    assert not d.sample().requires_grad
    cov = factor @ factor.T + np.diag(diag)
    n = len(draws)
    assert (np.abs(draws.mean(0) - loc) < 5 * np.sqrt(np.diag(cov) / n)).all()
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / n)
    assert (np.abs(np.cov(draws.T) - cov) < 5 * se).all()


def test_lowrank_shapes_and_expand():
    d = lowrank(D, tg.tensor(LOC), tg.tensor(FACTOR), tg.tensor(DIAG))
    assert d.batch_shape == (3,) and d.event_shape == (N,) and d.has_rsample
    assert tuple(d.cov_diag.shape) == (3, N) and tuple(d.cov_factor.shape) == (3, N, M)
    assert tuple(d.rsample((7, 2)).shape) == (7, 2, 3, N)
    assert tuple(d.log_prob(tg.tensor(VALUE)).shape) == (2, 3)
    assert tuple(d.entropy().shape) == (3,)
    big = d.expand((5, 3))
    assert big.batch_shape == (5, 3) and big.event_shape == (N,)
    assert tuple(big.sample((2,)).shape) == (2, 5, 3, N)
    for name in ("mean", "variance", "covariance_matrix", "precision_matrix", "scale_tril"):
        value = getattr(big, name).numpy()
        assert value.shape[:2] == (5, 3)
        np.testing.assert_allclose(value, np.broadcast_to(getattr(d, name).numpy(), value.shape))
    np.testing.assert_allclose(big.log_prob(tg.tensor(VALUE[0])).numpy(),
                               np.broadcast_to(d.log_prob(tg.tensor(VALUE[0])).numpy(), (5, 3)))
    assert tuple(big.entropy().shape) == (5, 3)
    single = lowrank(D, tg.zeros(N), tg.ones(N, 1), tg.ones(N))
    assert single.batch_shape == () and tuple(single.entropy().shape) == ()
    mixed = lowrank(D, tg.zeros(N), tg.ones(2, 1, N, 1), tg.ones(3, N))
    assert mixed.batch_shape == (2, 3)


def test_lowrank_validation_errors():
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        lowrank(D, tg.tensor(0.0), tg.ones(1, 1), tg.ones(1))
    with pytest.raises(ValueError, match="cov_factor must be at least two-dimensional"):
        lowrank(D, tg.zeros(3), tg.ones(3), tg.ones(3))
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices with shape 3"):
        lowrank(D, tg.zeros(3), tg.ones(2, 1), tg.ones(3))
    with pytest.raises(ValueError, match=r"cov_diag must be a batch of vectors with shape \(3,\)"):
        lowrank(D, tg.zeros(3), tg.ones(3, 1), tg.ones(2))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        lowrank(D, tg.zeros(2, 3), tg.ones(3, 3, 1), tg.ones(3))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        lowrank(TD, torch.zeros(2, 3), torch.ones(3, 3, 1), torch.ones(3))
    with pytest.raises(ValueError, match="cov_diag"):
        lowrank(D, tg.zeros(3), tg.ones(3, 1), tg.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="loc"):
        lowrank(D, tg.tensor([0.0, float("nan"), 0.0]), tg.ones(3, 1), tg.ones(3))
    with pytest.raises(TypeError, match="expected loc to be a Tensor"):
        lowrank(D, [0.0, 0.0], tg.ones(2, 1), tg.ones(2))
    d = lowrank(D, tg.zeros(3), tg.ones(3, 1), tg.ones(3))
    with pytest.raises(ValueError, match="event_shape"):
        d.log_prob(tg.zeros(2))
    unchecked = D.LowRankMultivariateNormal(tg.zeros(3), tg.zeros(3, 1), -tg.ones(3),
                                            validate_args=False)
    assert np.isnan(unchecked.entropy().item())               # not checked: log of negatives


# ---- relaxed distributions --------------------------------------------------------------------
PROBS = RNG.uniform(0.1, 0.9, (2, 3))
LOGITS = RNG.standard_normal((2, 3))
TEMP = np.array([0.7])
UNIT_VALUE = RNG.uniform(0.05, 0.95, (4, 2, 3))
CAT_LOGITS = RNG.standard_normal((2, 4))
CAT_PROBS = RNG.dirichlet(np.ones(4), 2)
SIMPLEX = RNG.dirichlet(np.ones(4), (3, 2))                 # (3, 2, 4): a sample dim first


def logit_rb(module):
    return LogitRelaxedBernoulli if module is D else TLogitRB


def exp_rc(module):
    return ExpRelaxedCategorical if module is D else TExpRC


RELAXED = {
    "LogitRB_probs": (lambda m, t, p: logit_rb(m)(t, probs=p), [TEMP, PROBS],
                      np.log(UNIT_VALUE / (1 - UNIT_VALUE))),
    "LogitRB_logits": (lambda m, t, x: logit_rb(m)(t, logits=x), [TEMP, LOGITS],
                       RNG.standard_normal((4, 2, 3)) * 3),
    "RB_probs": (lambda m, t, p: m.RelaxedBernoulli(t, probs=p), [TEMP, PROBS], UNIT_VALUE),
    "RB_logits": (lambda m, t, x: m.RelaxedBernoulli(t, logits=x), [TEMP, LOGITS], UNIT_VALUE),
    "ExpRC_logits": (lambda m, t, x: exp_rc(m)(t, logits=x), [TEMP, CAT_LOGITS],
                     np.log(SIMPLEX)),
    "ExpRC_probs": (lambda m, t, p: exp_rc(m)(t, probs=p), [TEMP, CAT_PROBS], np.log(SIMPLEX)),
    "RelaxedOneHot_logits": (lambda m, t, x: m.RelaxedOneHotCategorical(t, logits=x),
                             [TEMP, CAT_LOGITS], SIMPLEX),
    "RelaxedOneHot_probs": (lambda m, t, p: m.RelaxedOneHotCategorical(t, probs=p),
                            [TEMP, CAT_PROBS], SIMPLEX),
}


@pytest.mark.parametrize("name", list(RELAXED))
def test_relaxed_log_prob_against_torch(name):
    """log_prob and its gradients in the temperature and the probabilities / logits."""
    make, params, value = RELAXED[name]
    check_torch(lambda *p: make(D, *p).log_prob(tg.tensor(value)),
                lambda *p: make(TD, *p).log_prob(torch.tensor(value)), params,
                gradcheck="probs" not in name)              # probs on the simplex: no free FD


@pytest.mark.parametrize("name", list(RELAXED))
def test_relaxed_float32_and_attributes_against_torch(name):
    make, params, value = RELAXED[name]
    ours = make(D, *[tg.tensor(p.astype(np.float32)) for p in params])
    theirs = make(TD, *[torch.tensor(p.astype(np.float32)) for p in params])
    lp = ours.log_prob(tg.tensor(value.astype(np.float32)))
    assert lp.dtype == tg.float32
    np.testing.assert_allclose(lp.numpy(), theirs.log_prob(torch.tensor(
        value.astype(np.float32))).numpy(), rtol=1e-5, atol=1e-5)
    for attr in ("probs", "logits", "temperature"):
        np.testing.assert_allclose(getattr(ours, attr).numpy(), getattr(theirs, attr).numpy(),
                                   rtol=1e-6, atol=1e-6)
    assert ours.batch_shape == tuple(theirs.batch_shape)
    assert ours.event_shape == tuple(theirs.event_shape)
    assert type(ours).has_rsample == type(theirs).has_rsample
    assert repr(ours.support) == repr(theirs.support)
    with pytest.raises(NotImplementedError):                    # no entropy, as in torch
        ours.entropy()
    with pytest.raises(NotImplementedError):
        theirs.entropy()


def feed_uniforms(monkeypatch, array):
    """Both libraries' uniform draws (the relaxed rsample's base noise) are `array`."""
    def tg_draw(kind, shape, dtype=None, device=None, *args):
        assert kind == "uniform" and array.shape == tuple(shape)
        return array.astype(np.float64)

    def torch_rand(*shape, dtype=None, device=None, **kwargs):
        return torch.tensor(array, dtype=dtype)

    monkeypatch.setattr(relaxed_bernoulli, "random_array", tg_draw)
    monkeypatch.setattr(relaxed_categorical, "random_array", tg_draw)
    monkeypatch.setattr(torch, "rand", torch_rand)


@pytest.mark.parametrize("name", list(RELAXED))
def test_relaxed_rsample_with_the_same_noise(monkeypatch, name):
    """rsample's values and the gradients of a loss through it, in temperature and parameters;
    the extremes of the uniforms are clamped as torch clamps them."""
    make, params, value = RELAXED[name]
    shape = (5,) + params[1].shape
    uniforms = RNG.uniform(0, 1, shape)
    uniforms.flat[:2] = [0.0, 1.0]                             # clamped to [eps, 1 - eps]
    feed_uniforms(monkeypatch, uniforms)
    weights = RNG.standard_normal(shape)

    def loss(module, t):
        return lambda *p: (make(module, *p).rsample((5,)) * t(weights)).sum()

    check_torch(loss(D, tg.tensor), loss(TD, torch.tensor), params,
                gradcheck="probs" not in name)


def test_relaxed_rsample_formulas(monkeypatch):
    u = RNG.uniform(0.01, 0.99, (5, 2, 3))
    feed_uniforms(monkeypatch, u)
    draw = D.RelaxedBernoulli(tg.tensor(0.5), logits=tg.tensor(LOGITS)).rsample((5,)).numpy()
    np.testing.assert_allclose(draw, 1 / (1 + np.exp(-(np.log(u / (1 - u)) + LOGITS) / 0.5)),
                               rtol=1e-12)
    u = RNG.uniform(0.01, 0.99, (5, 2, 4))
    feed_uniforms(monkeypatch, u)
    draw = D.RelaxedOneHotCategorical(tg.tensor(0.5), logits=tg.tensor(CAT_LOGITS)).rsample(
        (5,)).numpy()
    scores = (CAT_LOGITS - np.log(-np.log(u))) / 0.5
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(draw, expected / expected.sum(-1, keepdims=True), rtol=1e-12)


def test_relaxed_bernoulli_sample_statistics():
    """P(Y > 1/2) = sigmoid(logits) at every temperature; the logit X of a draw is logistic:
    mean logits / t, variance pi^2 / (3 t^2). Bounds: 5 standard errors of n draws."""
    tg.manual_seed(0)
    n, t = 40000, 0.4
    logits = np.array([-1.0, 0.3, 2.0])
    p = 1 / (1 + np.exp(-logits))
    draws = D.RelaxedBernoulli(tg.tensor(t), logits=tg.tensor(logits)).sample((n,)).numpy()
    assert ((draws > 0) & (draws < 1)).all()
    assert (np.abs((draws > 0.5).mean(0) - p) < 5 * np.sqrt(p * (1 - p) / n)).all()
    x = LogitRelaxedBernoulli(tg.tensor(t), logits=tg.tensor(logits)).sample((n,)).numpy()
    var = math.pi ** 2 / (3 * t * t)
    assert (np.abs(x.mean(0) - logits / t) < 5 * np.sqrt(var / n)).all()
    assert (np.abs(x.var(0) - var) < 5 * np.sqrt((6 / 5 + 2) * var ** 2 / n)).all()  # kurt 6/5


def test_relaxed_one_hot_sample_statistics():
    """argmax of a draw ~ Categorical(probs) at every temperature (Gumbel-max); draws on the
    simplex; the ExpRelaxedCategorical draws have logsumexp 0."""
    tg.manual_seed(1)
    n = 40000
    probs = np.array([0.1, 0.6, 0.3])
    draws = D.RelaxedOneHotCategorical(tg.tensor(2.0), probs=tg.tensor(probs)).sample((n,))
    values = draws.numpy()
    np.testing.assert_allclose(values.sum(-1), 1.0, rtol=1e-12)
    frequencies = np.bincount(values.argmax(-1), minlength=3) / n
    assert (np.abs(frequencies - probs) < 5 * np.sqrt(probs * (1 - probs) / n)).all()
    logs = ExpRelaxedCategorical(tg.tensor(0.3), probs=tg.tensor(probs)).sample((100,)).numpy()
    np.testing.assert_allclose(np.log(np.exp(logs).sum(-1)), 0.0, atol=1e-12)


def test_relaxed_shapes_and_expand():
    t = tg.tensor([0.5])
    rb = D.RelaxedBernoulli(t, probs=tg.tensor(PROBS))
    assert rb.batch_shape == (2, 3) and rb.event_shape == () and rb.has_rsample
    assert tuple(rb.rsample((4,)).shape) == (4, 2, 3)
    big = rb.expand((5, 2, 3))
    assert big.batch_shape == (5, 2, 3) and tuple(big.sample((4,)).shape) == (4, 5, 2, 3)
    assert big.temperature is t and tuple(big.probs.shape) == (5, 2, 3)
    np.testing.assert_allclose(big.log_prob(tg.tensor(UNIT_VALUE[0])).numpy(),
                               np.broadcast_to(rb.log_prob(tg.tensor(UNIT_VALUE[0])).numpy(),
                                               (5, 2, 3)))
    base = LogitRelaxedBernoulli(t, logits=tg.tensor(LOGITS))
    assert not base.has_rsample and base.param_shape == (2, 3)           # as torch's
    assert tuple(base.expand((4, 2, 3)).logits.shape) == (4, 2, 3)
    scalar = D.RelaxedBernoulli(0.5, probs=0.3)
    assert scalar.batch_shape == () and tuple(scalar.sample((6,)).shape) == (6,)
    assert scalar.temperature.dtype == scalar.probs.dtype
    oh = D.RelaxedOneHotCategorical(t, logits=tg.tensor(CAT_LOGITS))
    assert oh.batch_shape == (2,) and oh.event_shape == (4,)
    assert tuple(oh.rsample((3,)).shape) == (3, 2, 4)
    assert tuple(oh.log_prob(tg.tensor(SIMPLEX)).shape) == (3, 2)
    big = oh.expand((6, 2))
    assert big.batch_shape == (6, 2) and tuple(big.sample().shape) == (6, 2, 4)
    assert big.base_dist.param_shape == (6, 2, 4) and big.temperature is t
    np.testing.assert_allclose(big.log_prob(tg.tensor(SIMPLEX[0])).numpy(),
                               np.broadcast_to(oh.log_prob(tg.tensor(SIMPLEX[0])).numpy(),
                                               (6, 2)))


def test_relaxed_validation_errors():
    t = tg.tensor(0.5)
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.RelaxedBernoulli(t, probs=tg.tensor(0.5), logits=tg.tensor(0.0))
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        LogitRelaxedBernoulli(t)
    with pytest.raises(ValueError, match="probs"):
        D.RelaxedBernoulli(t, probs=tg.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="probs"):                # the base validates, as torch
        D.RelaxedBernoulli(t, probs=tg.tensor([0.5, 1.5]), validate_args=False)
    with pytest.raises(ValueError, match="probs"):
        TD.RelaxedBernoulli(torch.tensor(0.5), probs=torch.tensor([0.5, 1.5]),
                            validate_args=False)
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.RelaxedOneHotCategorical(t)
    with pytest.raises(ValueError, match="probs"):
        D.RelaxedOneHotCategorical(t, probs=tg.tensor([0.5, -0.5, 1.0]))
    rb = D.RelaxedBernoulli(t, probs=tg.tensor([0.3, 0.6]))
    with pytest.raises(ValueError, match="support"):
        rb.log_prob(tg.tensor([0.5, 1.5]))
    oh = D.RelaxedOneHotCategorical(t, logits=tg.zeros(3))
    with pytest.raises(ValueError, match="support"):
        oh.log_prob(tg.tensor([0.5, 0.6, 0.1]))
    with pytest.raises(ValueError, match="event_shape"):
        oh.log_prob(tg.tensor([0.5, 0.5]))
    quiet = D.RelaxedOneHotCategorical(t, logits=tg.zeros(3), validate_args=False)
    assert np.isfinite(quiet.log_prob(tg.tensor([0.5, 0.6, 0.1])).item())
