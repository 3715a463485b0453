"""Trigonometric, special and the other pointwise functions against PyTorch in float64: values,
first and second gradients (check_op), gradchecks; the no-gradient predicates by value."""
import numpy as np
import pytest
from helpers import FAST, TORCH, assert_close, check_fn, check_op, shapes
from hypothesis import given

import tinygen as tg

# name -> (function of (module, x), check_op kwargs); inputs drawn in [-2, 2) unless told
UNARY = {
    "tan": (lambda m, x: m.tan(x * 0.6), {}),
    "asin": (lambda m, x: m.asin(x * 0.45), {}),
    "arcsin": (lambda m, x: m.arcsin(x * 0.45), {}),
    "acos": (lambda m, x: x.mul(0.45).acos(), {}),
    "atan": (lambda m, x: m.atan(x), {}),
    "sinh": (lambda m, x: m.sinh(x), {}),
    "cosh": (lambda m, x: x.cosh(), {}),
    "asinh": (lambda m, x: m.asinh(x), {}),
    "acosh": (lambda m, x: m.acosh(x + 1.2), {"positive": True}),
    "atanh": (lambda m, x: m.atanh(x * 0.45), {}),
    "deg2rad": (lambda m, x: m.deg2rad(x), {}),
    "rad2deg": (lambda m, x: x.rad2deg(), {}),
    "sinc": (lambda m, x: m.sinc(x), {}),
    "exp2": (lambda m, x: m.exp2(x), {}),
    "frac": (lambda m, x: m.frac(x * 3), {}),
    "trunc": (lambda m, x: m.trunc(x * 3) * x, {}),
    "fix": (lambda m, x: x.mul(3).fix() * x, {}),
    "sgn": (lambda m, x: m.sgn(x) * x, {}),
    "logit": (lambda m, x: m.logit(x * 0.2 + 0.5), {}),
    "logit_eps": (lambda m, x: m.logit(x * 0.3 + 0.5, eps=0.2), {}),
    "lgamma": (lambda m, x: m.lgamma(x), {"positive": True}),
    "lgamma_negative": (lambda m, x: m.lgamma(x * 0.3 - 1.5), {"positive": True}),
    "digamma": (lambda m, x: m.digamma(x), {"positive": True}),
    "polygamma": (lambda m, x: m.polygamma(2, x), {"positive": True}),
    "mvlgamma": (lambda m, x: m.mvlgamma(x + 1.5, p=3), {"positive": True}),
    "erfc": (lambda m, x: m.erfc(x), {}),
    "erfinv": (lambda m, x: m.erfinv(x * 0.45), {}),
    "nan_to_num": (lambda m, x: m.nan_to_num(x), {}),
    "positive": (lambda m, x: m.positive(x) * x, {}),
    "absolute": (lambda m, x: m.absolute(x), {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    fn, kw = UNARY[name]
    check_fn(fn, [(2, 3)], **kw)


@pytest.mark.parametrize("name", ["tan", "atan", "asinh", "sinh", "lgamma", "exp2"])
@FAST
@given(shape=shapes(min_dims=0, max_dims=3, max_side=3))
def test_unary_shapes(name, shape):
    fn, kw = UNARY[name]
    check_fn(fn, [shape], gradcheck_max_numel=8, **kw)


BINARY = {
    "atan2": lambda m, a, b: m.atan2(a, b),
    "arctan2": lambda m, a, b: a.arctan2(b),
    "logaddexp": lambda m, a, b: m.logaddexp(a, b),
    "logaddexp2": lambda m, a, b: a.logaddexp2(b),
    "hypot": lambda m, a, b: m.hypot(a, b),
    "fmod": lambda m, a, b: m.fmod(a * 3, b),
    "copysign": lambda m, a, b: m.copysign(a, b),
    "xlogy": lambda m, a, b: m.xlogy(a, b.abs() + 0.1),
    "float_power": lambda m, a, b: m.float_power(a.abs() + 0.5, b),
    "fmax": lambda m, a, b: m.fmax(a, b),
    "fmin": lambda m, a, b: m.fmin(a, b),
    "multiply": lambda m, a, b: m.multiply(a, b),
    "subtract": lambda m, a, b: a.subtract(b),
    "divide": lambda m, a, b: m.divide(a, b + 3),
    "true_divide": lambda m, a, b: m.true_divide(a, b + 3),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcast(name):
    check_fn(BINARY[name], [(2, 3), (3,)])


def test_fused_products():
    check_fn(lambda m, x, a, b: m.addcmul(x, a, b, value=0.5), [(2, 3), (3,), (2, 1)])
    check_fn(lambda m, x, a, b: x.addcdiv(a, b + 3, value=-2), [(2, 3), (3,), (2, 1)])
    check_fn(lambda m, x, a, b: m.addcdiv(x, a, b + 3), [(2, 3), (2, 3), (2, 3)])


def test_scalar_operands():
    check_op(lambda a: tg.atan2(a, 0.5), lambda a: TORCH.atan2(a, TORCH.tensor(0.5, dtype=a.dtype))
             if TORCH else None, [(4,)])
    check_fn(lambda m, a: m.fmod(a * 3, -1.5), [(4,)])
    check_fn(lambda m, a: m.xlogy(2.0, a), [(4,)], positive=True)
    check_fn(lambda m, a: m.xlogy(a, 3.0), [(4,)])
    check_fn(lambda m, a: m.copysign(a, -1.0), [(4,)])
    check_fn(lambda m, a: m.logaddexp(a, a * 2), [(4,)])


def test_xlogy_is_zero_where_x_is_zero():
    x = tg.tensor([0.0, 0.0, 2.0], requires_grad=True)
    y = tg.tensor([0.0, 3.0, 0.5], requires_grad=True)
    out = tg.xlogy(x, y)
    assert out.tolist()[:2] == [0.0, 0.0]
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(y.grad.numpy()).all()


def test_logaddexp_is_stable():
    a = tg.tensor([1000.0, -1000.0, float("-inf")], dtype=tg.float64)
    b = tg.tensor([1000.0, -1001.0, float("-inf")], dtype=tg.float64)
    out = tg.logaddexp(a, b).numpy()
    np.testing.assert_allclose(out[:2], [1000 + np.log(2), -1000 + np.log1p(np.exp(-1))])
    assert out[2] == -np.inf


def test_nan_to_num_values_and_gradient():
    torch = pytest.importorskip("torch")
    data = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0])
    for kw in ({}, {"nan": 2.0, "posinf": 9.0, "neginf": -9.0}):
        assert_close(tg.nan_to_num(tg.tensor(data), **kw), torch.nan_to_num(torch.tensor(data),
                                                                            **kw))
    x = tg.tensor(data, requires_grad=True)
    tg.nan_to_num(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_no_gradient_functions():
    torch = pytest.importorskip("torch")
    a, b = np.array([-3.0, -0.0, 0.0, 2.0, np.inf, -np.inf]), np.array([0.5] * 6)
    ia, ib = np.array([12, -18, 7, 0]), np.array([8, 12, 3, 5])
    for name in ("signbit", "isposinf", "isneginf", "isreal"):
        assert_close(getattr(tg, name)(tg.tensor(a)), getattr(torch, name)(torch.tensor(a)))
    assert_close(tg.heaviside(tg.tensor(a), tg.tensor(b)),
                 torch.heaviside(torch.tensor(a), torch.tensor(b)))
    for name in ("gcd", "lcm", "bitwise_left_shift", "bitwise_right_shift"):
        assert_close(getattr(tg, name)(tg.tensor(ia), tg.tensor(ib % 4)),
                     getattr(torch, name)(torch.tensor(ia), torch.tensor(ib % 4)))
    assert_close(tg.bitwise_not(tg.tensor(ia)), torch.bitwise_not(torch.tensor(ia)))
    for name in ("greater", "greater_equal", "less", "less_equal", "not_equal"):
        assert_close(getattr(tg, name)(tg.tensor(a), 0.0), getattr(torch, name)(
            torch.tensor(a), 0.0))


def test_integer_inputs_become_float():
    x = tg.tensor([1, 2, 3])
    for fn in (tg.tan, tg.asinh, tg.sinh, tg.lgamma, tg.digamma, tg.erfc, tg.exp2, tg.sinc):
        assert fn(x).dtype == tg.float32
    assert tg.atan2(x, x).dtype == tg.float32


def test_mvlgamma_domain_error_names_the_op():
    with pytest.raises(RuntimeError, match="mvlgamma"):
        tg.mvlgamma(tg.tensor([0.2, 3.0]), p=2)


@pytest.mark.skipif(TORCH is None, reason="needs torch")
def test_poles_are_quiet_and_match_torch():
    data = np.array([-1.0, 1.0, 2.0, 0.0])
    for name in ("asin", "acos", "atanh", "acosh", "lgamma", "digamma", "erfinv"):
        out = getattr(tg, name)(tg.tensor(data))
        ref = getattr(TORCH, name)(TORCH.tensor(data, dtype=TORCH.float32))
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, equal_nan=True)


def test_atan2_quadrants():
    check_op(lambda a, b: tg.atan2(a, b), lambda a, b: TORCH.atan2(a, b) if TORCH else None,
             [np.array([1.0, 1.0, -1.0, -1.0]), np.array([1.0, -1.0, 1.0, -1.0])])
