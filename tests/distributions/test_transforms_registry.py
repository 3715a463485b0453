"""The structured transforms (Softmax, StickBreaking, LowerCholesky, PositiveDefinite,
CorrCholesky, Cat, Stack, Reshape, Independent, CumulativeDistribution, identity), the new
constraints, and the constraint registry (biject_to, transform_to) against
torch.distributions: forward, inverse and log|det J| with first and second gradients (float64,
check_op), domains and codomains, forward / inverse shapes, caching and equality; each
constraint's check; biject_to / transform_to of every constraint on the same inputs."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributions as D
from tinygen.distributions import biject_to, constraints as C, transform_to
from tinygen.distributions import transforms as T
from tinygen.distributions.constraint_registry import ConstraintRegistry

torch = pytest.importorskip("torch")
TD = torch.distributions
TC, TT = TD.constraints, TD.transforms

from helpers import check_op  # noqa: E402  (tests/ is on sys.path: conftest.py)

RNG = np.random.default_rng(3)


def check(tg_fn, torch_fn, arrays, **kw):
    kw.setdefault("gradcheck_max_numel", 12)
    kw.setdefault("rtol", 1e-8)
    kw.setdefault("atol", 1e-10)
    check_op(tg_fn, torch_fn, arrays, **kw)


def norm(c):
    return repr(c).replace("torch.", "").replace(" ", "").replace("\n", "")


def normal_01(m):
    return m.Normal((tg if m is D else torch).tensor(0.3, dtype=tg.float64 if m is D else
                                                      torch.float64),
                    (tg if m is D else torch).tensor(1.5, dtype=tg.float64 if m is D else
                                                     torch.float64))


# name -> (make(transforms module, distributions module), x (in the domain), has log|det J|)
TRANSFORMS = {
    "Softmax": (lambda t, m: t.SoftmaxTransform(), RNG.standard_normal((2, 3)), False),
    "StickBreaking": (lambda t, m: t.StickBreakingTransform(), RNG.standard_normal((2, 3)),
                      True),
    "LowerCholesky": (lambda t, m: t.LowerCholeskyTransform(), RNG.standard_normal((2, 3, 3)),
                      False),
    "PositiveDefinite": (lambda t, m: t.PositiveDefiniteTransform(),
                         RNG.standard_normal((2, 3, 3)), False),
    "CorrCholesky": (lambda t, m: t.CorrCholeskyTransform(), RNG.standard_normal((2, 6)), True),
    "Independent": (lambda t, m: t.IndependentTransform(t.SigmoidTransform(), 1),
                    RNG.standard_normal((2, 3)), True),
    "Independent2": (lambda t, m: t.IndependentTransform(t.StickBreakingTransform(), 1),
                     RNG.standard_normal((2, 3)), True),
    "Reshape": (lambda t, m: t.ReshapeTransform((2, 3), (3, 2)), RNG.standard_normal((4, 2, 3)),
                True),
    "Cat": (lambda t, m: t.CatTransform([t.ExpTransform(), t.AffineTransform(1.0, 2.0)], 1,
                                        [2, 1]), RNG.standard_normal((4, 3)), True),
    "Cat_event": (lambda t, m: t.CatTransform([t.IndependentTransform(t.ExpTransform(), 1),
                                               t.AffineTransform(1.0, -2.0, event_dim=1)], 0,
                                              [2, 2]), RNG.standard_normal((4, 2)), True),
    "Cat_batch": (lambda t, m: t.CatTransform([t.IndependentTransform(t.ExpTransform(), 1),
                                               t.AffineTransform(1.0, -2.0, event_dim=1)], -1,
                                              [1, 1]), RNG.standard_normal((4, 2)), True),
    "Stack": (lambda t, m: t.StackTransform([t.ExpTransform(), t.SigmoidTransform(),
                                             t.TanhTransform()], 1),
              RNG.standard_normal((4, 3)), True),
    "CumulativeDistribution": (lambda t, m: t.CumulativeDistributionTransform(normal_01(m)),
                               RNG.standard_normal((2, 3)), True),
    "Compose_stick": (lambda t, m: t.ComposeTransform([t.AffineTransform(0.5, 2.0),
                                                       t.StickBreakingTransform()]),
                      RNG.standard_normal((2, 3)), True),
}


def _y(name):
    """x pushed through torch's transform: a point of the codomain for the inverse checks."""
    make, x, _ = TRANSFORMS[name]
    return make(TT, TD)(torch.tensor(x)).detach().numpy()


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_forward(name):
    make, x, _ = TRANSFORMS[name]
    check(lambda a: make(T, D)(a), lambda a: make(TT, TD)(a), [x])


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_inverse(name):
    make, x, _ = TRANSFORMS[name]
    y = _y(name)
    check(lambda b: make(T, D).inv(b), lambda b: make(TT, TD).inv(b), [y],
          gradcheck=name not in ("Softmax", "StickBreaking", "Compose_stick",
                                 "Independent2", "CorrCholesky", "PositiveDefinite"))
    back = make(T, D).inv(tg.tensor(y)).numpy()
    if name in ("LowerCholesky", "PositiveDefinite"):    # the upper triangle is dropped
        back, x = np.tril(back), np.tril(x)
    if name != "Softmax":                                # not injective: log is one preimage
        np.testing.assert_allclose(back, x, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(n for n in TRANSFORMS if TRANSFORMS[n][2]))
def test_log_abs_det_jacobian(name):
    make, x, _ = TRANSFORMS[name]

    def ladj(t):
        def fn(a):
            tr = make(t, D if t is T else TD)
            return tr.log_abs_det_jacobian(a, tr(a))
        return fn

    check(ladj(T), ladj(TT), [x])
    inverse = make(T, D).inv
    y = tg.tensor(_y(name))
    np.testing.assert_allclose(inverse.log_abs_det_jacobian(y, inverse(y)).numpy(),
                               -ladj(T)(tg.tensor(x)).numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_attributes_against_torch(name):
    make, x, has_ladj = TRANSFORMS[name]
    ours, ref = make(T, D), make(TT, TD)
    assert norm(ours.domain) == norm(ref.domain)
    assert norm(ours.codomain) == norm(ref.codomain)
    assert ours.domain.event_dim == ref.domain.event_dim
    assert ours.codomain.event_dim == ref.codomain.event_dim
    assert ours.bijective == ref.bijective
    assert ours.inv.bijective == ref.inv.bijective
    assert tuple(ours.forward_shape(x.shape)) == tuple(ref.forward_shape(torch.Size(x.shape)))
    y_shape = _y(name).shape
    assert tuple(ours.inverse_shape(y_shape)) == tuple(ref.inverse_shape(torch.Size(y_shape)))
    assert tuple(ours.inv.forward_shape(y_shape)) == x.shape
    assert (ours == make(T, D)) == (ref == make(TT, TD))        # torch's equality rules
    assert ours == ours and ours.inv.inv is ours
    if not has_ladj:
        with pytest.raises(NotImplementedError):
            ours.log_abs_det_jacobian(tg.tensor(x), ours(tg.tensor(x)))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_cache(name):
    """cache_size=1: the inverse of the last output is the input itself (and back)."""
    make, x, _ = TRANSFORMS[name]
    cached = make(T, D).with_cache(1)
    assert cached._cache_size == 1 and make(T, D).with_cache(0)._cache_size == 0
    xt = tg.tensor(x)
    y = cached(xt)
    assert cached.inv(y) is xt
    assert cached(xt) is y


@pytest.mark.parametrize("make, shape, error", [
    (lambda: T.StickBreakingTransform(), (), "Too few dimensions"),
    (lambda: T.SoftmaxTransform(), (), "Too few dimensions"),
    (lambda: T.CorrCholeskyTransform(), (2, 5), "not a flattened lower-diagonal"),
    (lambda: T.CorrCholeskyTransform().inv, (2, 3, 4), "not square"),
    (lambda: T.ReshapeTransform((2, 3), (6,)), (4, 3, 2), "Shape mismatch"),
    (lambda: T.ReshapeTransform((2, 3), (6,)), (3,), "Too few dimensions"),
])
def test_shape_errors(make, shape, error):
    with pytest.raises(ValueError, match=error):
        make().forward_shape(shape)


def test_transform_construction_errors():
    with pytest.raises(ValueError, match="different numbers of elements"):
        T.ReshapeTransform((2, 3), (5,))
    with pytest.raises(ValueError, match="lengths"):
        T.CatTransform([T.ExpTransform()], 0, [1, 2])
    with pytest.raises(TypeError, match="Transform"):
        T.StackTransform([T.ExpTransform(), "exp"])
    with pytest.raises(ValueError, match=r"x.size\(0\) = 3 must equal 2"):
        T.CatTransform([T.ExpTransform(), T.ExpTransform()])(tg.zeros(3))
    with pytest.raises(ValueError, match="Too few dimensions"):
        T.IndependentTransform(T.ExpTransform(), 2)(tg.zeros(3))
    with pytest.raises(ValueError, match="cannot be expressed"):
        T.CorrCholeskyTransform()(tg.zeros(2, 4))


def test_identity_transform_and_exports():
    x = tg.tensor(RNG.standard_normal(4))
    assert T.identity_transform(x) is x
    assert T.identity_transform.inv(x) is x
    assert norm(T.identity_transform) == norm(TT.identity_transform)
    for name in TT.__all__:
        assert hasattr(T, name) and hasattr(D, name), name
    for name in TD.__all__:
        assert hasattr(D, name), name


def test_corr_cholesky_gives_correlation_matrices():
    x = tg.tensor(RNG.standard_normal((5, 10)))                   # 5 Cholesky factors, 5 x 5
    lower = T.CorrCholeskyTransform()(x)
    corr = (lower @ lower.mT).numpy()
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(corr) > 0)
    assert bool(C.corr_cholesky.check(lower).all())


# ---- constraints ---------------------------------------------------------------------------------
def _mats():
    a = RNG.standard_normal((3, 3))
    spd = a @ a.T + np.eye(3)
    low = np.tril(a)
    np.fill_diagonal(low, np.abs(np.diag(low)) + 0.1)
    psd = np.outer(a[0], a[0])
    return np.stack([spd, low, psd, a, np.diag([1.0, -1.0, 2.0])])


MATS = _mats()
CONSTRAINTS = {   # name -> (make(constraints module), value)
    "multinomial": (lambda c: c.multinomial(4), np.array([[1.0, 3.0], [3.0, 2.0], [-1.0, 2.0]])),
    "lower_triangular": (lambda c: c.lower_triangular, MATS),
    "lower_cholesky": (lambda c: c.lower_cholesky, MATS),
    "corr_cholesky": (lambda c: c.corr_cholesky, np.stack([
        np.linalg.cholesky(np.array([[1.0, 0.3], [0.3, 1.0]])), np.eye(2) * 2])),
    "square": (lambda c: c.square, np.zeros((2, 3, 3))),
    "not_square": (lambda c: c.square, np.zeros((2, 3, 2))),
    "symmetric": (lambda c: c.symmetric, MATS),
    "positive_semidefinite": (lambda c: c.positive_semidefinite, MATS[[0, 2, 4]]),
    "positive_definite": (lambda c: c.positive_definite, MATS[[0, 2, 4]]),
    "cat": (lambda c: c.cat([c.positive, c.real, c.unit_interval], -1, [1, 2, 1]),
            np.array([[1.0, -3.0, 2.0, 0.5], [-1.0, 0.0, 0.0, 1.5]])),
    "stack": (lambda c: c.stack([c.positive, c.unit_interval], 1),
              np.array([[1.0, 0.5], [-1.0, 0.2], [2.0, 2.0]])),
    "integer_interval": (lambda c: c.integer_interval(0, 3), np.array([0.0, 1.5, 3.0, 4.0])),
    "half_open_interval": (lambda c: c.half_open_interval(0.0, 1.0), np.array([0.0, 1.0, 0.5])),
    "greater_than_eq": (lambda c: c.greater_than_eq(1.0), np.array([0.5, 1.0, 2.0])),
    "independent": (lambda c: c.independent(c.positive, 1), np.array([[1.0, 2.0], [1.0, -1.0]])),
}


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_constraint_checks(name):
    make, value = CONSTRAINTS[name]
    ours, ref = make(C), make(TC)
    got = ours.check(tg.tensor(value)).numpy()
    expected = ref.check(torch.tensor(value)).numpy()
    np.testing.assert_array_equal(got, expected)
    assert ours.event_dim == ref.event_dim
    assert ours.is_discrete == ref.is_discrete
    assert norm(ours) == norm(ref) or name in ("cat", "stack", "multinomial")


def test_constraint_classes_and_dependent():
    assert isinstance(C.positive, C.greater_than) and isinstance(C.nonnegative, C.greater_than_eq)
    assert isinstance(C.unit_interval, C.interval)
    assert not isinstance(C.unit_interval, C.half_open_interval)
    assert norm(C.nonnegative_integer) == norm(TC.nonnegative_integer)
    assert C.dependent(is_discrete=True, event_dim=1).event_dim == 1
    with pytest.raises(NotImplementedError, match="event_dim cannot be determined"):
        C.dependent.event_dim
    with pytest.raises(ValueError, match="dependent constraint"):
        C.dependent.check(tg.zeros(1))
    with pytest.raises(TypeError, match="Constraint"):
        C.independent("positive", 1)
    with pytest.raises(ValueError, match="dim 2 out of range"):
        C.stack([C.positive], 2).check(tg.zeros(3))


# ---- the registry --------------------------------------------------------------------------------
REGISTRY = {   # name -> (make(constraints module), x shape, registries)
    "real": (lambda c: c.real, (2, 3), "both"),
    "real_vector": (lambda c: c.real_vector, (2, 3), "both"),
    "positive": (lambda c: c.positive, (2, 3), "both"),
    "nonnegative": (lambda c: c.nonnegative, (2, 3), "both"),
    "greater_than": (lambda c: c.greater_than(2.0), (2, 3), "both"),
    "greater_than_eq": (lambda c: c.greater_than_eq(-1.0), (2, 3), "both"),
    "less_than": (lambda c: c.less_than(3.0), (2, 3), "both"),
    "interval": (lambda c: c.interval(-1.0, 2.0), (2, 3), "both"),
    "half_open_interval": (lambda c: c.half_open_interval(0.0, 1.0), (2, 3), "both"),
    "unit_interval": (lambda c: c.unit_interval, (2, 3), "both"),
    "simplex": (lambda c: c.simplex, (2, 3), "both"),
    "lower_cholesky": (lambda c: c.lower_cholesky, (2, 3, 3), "transform_to"),
    "positive_definite": (lambda c: c.positive_definite, (2, 3, 3), "transform_to"),
    "positive_semidefinite": (lambda c: c.positive_semidefinite, (2, 3, 3), "transform_to"),
    "corr_cholesky": (lambda c: c.corr_cholesky, (2, 3), "both"),
    "independent": (lambda c: c.independent(c.greater_than(1.0), 2), (2, 3), "both"),
    "independent_simplex": (lambda c: c.independent(c.simplex, 1), (2, 3), "both"),
    "cat": (lambda c: c.cat([c.positive, c.real, c.unit_interval], -1, [1, 1, 1]), (2, 3),
            "both"),
    "stack": (lambda c: c.stack([c.positive, c.interval(-2.0, 2.0)], 0), (2, 3), "both"),
}


def _registry_cases():
    for name, (_, _, which) in REGISTRY.items():
        for reg in ("biject_to", "transform_to"):
            if which == "both" or which == reg:
                yield name, reg


@pytest.mark.parametrize("name, registry", list(_registry_cases()))
def test_registry_against_torch(name, registry):
    """The same transform (class and repr), the same values and gradients on the same inputs,
    the image inside the constraint, and (biject_to) the inverse and log|det J|."""
    make, shape, _ = REGISTRY[name]
    ours_reg = biject_to if registry == "biject_to" else transform_to
    ref_reg = TD.biject_to if registry == "biject_to" else TD.transform_to
    ours, ref = ours_reg(make(C)), ref_reg(make(TC))
    assert type(ours).__name__ == type(ref).__name__
    assert norm(ours) == norm(ref)
    x = RNG.standard_normal(shape)
    check(lambda a: ours_reg(make(C))(a), lambda a: ref_reg(make(TC))(a), [x])
    y = ours(tg.tensor(x))
    assert bool(make(C).check(y).all())
    if registry == "biject_to":
        np.testing.assert_allclose(ours.inv(y).numpy(), x, rtol=1e-7, atol=1e-9)
        ladj = ours.log_abs_det_jacobian(tg.tensor(x), y).numpy()
        ladj_ref = ref.log_abs_det_jacobian(torch.tensor(x), ref(torch.tensor(x))).numpy()
        np.testing.assert_allclose(ladj, ladj_ref, rtol=1e-9, atol=1e-12)


def test_registry_errors_and_registration():
    with pytest.raises(NotImplementedError, match="Cannot transform _LowerCholesky"):
        biject_to(C.lower_cholesky)
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean"):
        transform_to(C.boolean)
    with pytest.raises(NotImplementedError):
        TD.biject_to(TC.lower_cholesky)
    registry = ConstraintRegistry()
    with pytest.raises(TypeError, match="Constraint subclass or instance"):
        registry.register(int, lambda c: None)

    class Shifted(C.Constraint):
        def __init__(self, shift):
            self.shift = shift

        def check(self, value):
            return value > self.shift

    @registry.register(Shifted)
    def _shifted(constraint):
        return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(constraint.shift, 1.0)])

    y = registry(Shifted(3.0))(tg.tensor([0.0, -2.0]))
    np.testing.assert_allclose(y.numpy(), 3.0 + np.exp([0.0, -2.0]), rtol=1e-6)
    registry.register(C.greater_than, lambda c: T.ExpTransform())   # instance classes, too
    assert isinstance(registry(C.greater_than(5.0)), T.ExpTransform)


def test_registry_optimises_a_constrained_parameter():
    """The use case: a positive scale through transform_to, trained by gradient descent."""
    unconstrained = tg.zeros(3, requires_grad=True)
    target = tg.tensor([0.5, 1.0, 4.0])
    to_positive = transform_to(C.positive)
    for _ in range(1500):
        loss = ((to_positive(unconstrained) - target) ** 2).sum()
        (g,) = tg.autograd.grad(loss, [unconstrained])
        with tg.no_grad():
            unconstrained -= 0.03 * g
    np.testing.assert_allclose(to_positive(unconstrained).detach().numpy(), target.numpy(),
                               rtol=1e-3)
