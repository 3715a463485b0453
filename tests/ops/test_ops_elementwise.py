"""Elementwise ops against PyTorch in float64: values, first and second gradients, gradchecks.

Unary math, binary arithmetic with broadcasting (hypothesis shapes with size-0/1 dims), reflected
forms with Python scalars and NumPy arrays, comparisons, maximum/minimum/clamp and where.
"""
import numpy as np
import pytest
from helpers import (
    FAST,
    TORCH,
    assert_close,
    broadcastable_shapes,
    check_fn,
    check_op,
    make_arrays,
    shapes,
)
from hypothesis import given
from hypothesis import strategies as st

import tinygen as tg

# name -> (function of (module, x), input kwargs for check_op)
UNARY = {
    "exp": (lambda m, x: m.exp(x), {}),
    "log": (lambda m, x: m.log(x), {"positive": True}),
    "log1p": (lambda m, x: x.log1p(), {"positive": True}),
    "sqrt": (lambda m, x: m.sqrt(x), {"positive": True}),
    "rsqrt": (lambda m, x: x.rsqrt(), {"positive": True}),
    "abs": (lambda m, x: m.abs(x), {}),
    "sign": (lambda m, x: x.sign() * x, {}),
    "sin": (lambda m, x: x.sin(), {}),
    "cos": (lambda m, x: x.cos(), {}),
    "tanh": (lambda m, x: m.tanh(x), {}),
    "sigmoid": (lambda m, x: m.sigmoid(x), {}),
    "relu": (lambda m, x: x.relu(), {}),
    "neg": (lambda m, x: -x, {}),
    "pow_int": (lambda m, x: x ** 3, {}),
    "pow_float": (lambda m, x: x ** 2.5, {"positive": True}),
    "pow_neg": (lambda m, x: x.pow(-1.5), {"positive": True}),
    "pow_2": (lambda m, x: x.pow(2), {}),
    "pow_0": (lambda m, x: x ** 0, {}),
    "rpow": (lambda m, x: 2.0 ** x, {}),
    "clamp": (lambda m, x: m.clamp(x, -0.5, 0.7), {}),
    "clamp_min": (lambda m, x: x.clamp(min=-0.3), {}),
    "clamp_max": (lambda m, x: x.clamp(max=0.3), {}),
    "cumsum": (lambda m, x: m.cumsum(x, dim=-1), {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_fixed(name):
    fn, kw = UNARY[name]
    check_fn(fn, [(2, 3)], **kw)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "abs", "relu",
                                  "pow_float", "clamp"])
@FAST
@given(shape=shapes(min_dims=0, max_dims=3, max_side=3))
def test_unary_shapes(name, shape):
    fn, kw = UNARY[name]
    check_fn(fn, [shape], gradcheck_max_numel=8, **kw)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
    "pow": lambda a, b: a.abs() ** b,
    "add_method": lambda a, b: a.add(b, alpha=2.0),
    "sub_method": lambda a, b: a.sub(b),
    "mul_method": lambda a, b: a.mul(b),
    "div_method": lambda a, b: a.div(b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@FAST
@given(pair=broadcastable_shapes(2, max_dims=3, max_side=3))
def test_binary_broadcasting(name, pair):
    # inputs kept away from 0 so div and pow(|a|, b) are smooth; hypothesis draws the shapes
    fn = BINARY[name]
    arrays = make_arrays(pair, seed=len(pair[0]))
    arrays = [np.where(np.abs(a) < 0.3, 0.3 + a, a) for a in arrays]
    check_op(fn, None, arrays, gradcheck_max_numel=8)


@pytest.mark.parametrize("fn", [
    lambda m, a, b: m.maximum(a, b),
    lambda m, a, b: m.minimum(a, b),
])
def test_maximum_minimum_functions(fn):
    check_fn(fn, [(2, 3), (3,)])


def test_maximum_ties_split_gradient():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 4.0])
    a, b = tg.tensor(x, requires_grad=True), tg.tensor(y, requires_grad=True)
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    tg.maximum(a, b).sum().backward()
    torch.maximum(ta, tb).sum().backward()
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)



@pytest.mark.parametrize("fn", [lambda m, x: x * x, lambda m, x: (x * 1.5) * (x * 1.5),
                                lambda m, x: (x * x) * x])
def test_a_tensor_times_itself(fn):
    # Mul makes x * x's product once and sends it to both operands (the same tensor, a leaf or
    # not): first and second gradients against PyTorch and finite differences
    check_fn(fn, [(2, 3)])


def test_a_tensor_times_itself_is_bitwise_two_products():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    y = tg.tensor(x.detach().numpy().copy(), requires_grad=True)
    g = tg.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    (x * x).backward(g)
    (y * y.detach() + y.detach() * y).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())

SCALARS = [2, 0.5, -3.0]
REFLECTED = {
    "radd": lambda s: (lambda x: s + x),
    "rsub": lambda s: (lambda x: s - x),
    "rmul": lambda s: (lambda x: s * x),
    "rdiv": lambda s: (lambda x: s / x),
    "add": lambda s: (lambda x: x + s),
    "sub": lambda s: (lambda x: x - s),
    "mul": lambda s: (lambda x: x * s),
    "div": lambda s: (lambda x: x / s),
    "pow": lambda s: (lambda x: x.abs() ** s),
    "rpow": lambda s: (lambda x: abs(s) ** x),
}


@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("name", sorted(REFLECTED))
def test_python_scalar_operands(name, scalar):
    x = make_arrays([(2, 3)])[0]
    x = np.where(np.abs(x) < 0.3, 0.5, x)
    check_op(REFLECTED[name](scalar), None, [x])


@pytest.mark.parametrize("name", ["radd", "rsub", "rmul", "rdiv", "add", "sub", "mul", "div"])
def test_numpy_array_operands(name):
    arr = np.array([[0.5, -1.5, 2.0]])
    x = make_arrays([(2, 3)])[0] + 3.0
    torch_fn = REFLECTED[name](TORCH.tensor(arr)) if TORCH is not None else None
    check_op(REFLECTED[name](arr), torch_fn, [x])
    # a NumPy array on the left gives a Tensor, not an object array
    out = REFLECTED[name](arr)(tg.tensor(x))
    assert isinstance(out, tg.Tensor) and out.shape == (2, 3)


def test_numpy_scalar_operand_keeps_float32():
    """NumPy scalars act as Python scalars (NumPy 2 alone would upcast float32 * float64)."""
    x = tg.ones(3)
    for s in (np.float64(2.0), np.float32(2.0), np.int64(2)):
        assert (x * s).dtype == tg.float32
        assert (s * x).dtype == tg.float32
        assert (x + s).dtype == (s - x).dtype == (x / s).dtype == tg.float32
        assert (x ** s).dtype == (s ** x).dtype == tg.float32
        assert x.clamp(s * 0, s).dtype == tg.float32
        assert tg.where(x > 0, x, s).dtype == tg.float32
    assert tg.tensor(np.float64(2.0)).dtype == tg.float64      # but data keeps its dtype


def test_floordiv_and_remainder():
    torch = pytest.importorskip("torch")
    a = np.array([[-3.5, -2.0, 0.0, 1.5, 7.25]])
    b = np.array([[2.0, -1.5, 3.0, -0.75, 2.0]])
    for op in (lambda x, y: x // y, lambda x, y: x % y, lambda x, y: 5.0 % y,
               lambda x, y: x // 2, lambda x, y: x % -2.0, lambda x, y: 7 // y):
        assert_close(op(tg.tensor(a), tg.tensor(b)), op(torch.tensor(a), torch.tensor(b)))
    ia, ib = np.array([-7, -3, 0, 5, 9]), np.array([2, 3, 4, -3, 5])
    for op in (lambda x, y: x // y, lambda x, y: x % y):
        out = op(tg.tensor(ia), tg.tensor(ib))
        assert out.dtype == tg.int64
        assert_close(out, op(torch.tensor(ia), torch.tensor(ib)))


def test_remainder_gradient():
    x = np.array([[-3.3, -1.2, 0.7, 2.9]])
    check_op(lambda a: a % 1.5, None, [x])
    check_op(lambda a, b: a % b, None, [x, np.array([[1.7, 2.3, -1.1, 0.8]])])


COMPARISONS = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons(name):
    torch = pytest.importorskip("torch")
    op = COMPARISONS[name]
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b)
    for out, ref in [(op(ta, tb), op(torch.tensor(a), torch.tensor(b))),
                     (op(ta, 2.0), op(torch.tensor(a), 2.0)),
                     (op(2.0, ta), op(2.0, torch.tensor(a))),
                     (op(ta, b), op(torch.tensor(a), torch.tensor(b)))]:
        assert isinstance(out, tg.Tensor)
        assert out.dtype == tg.bool
        assert not out.requires_grad and out.grad_fn is None
        assert_close(out, ref)
    # method forms
    method = getattr(ta, name)(tb)
    assert_close(method, getattr(torch.tensor(a), name)(torch.tensor(b)))


def test_where_function_and_broadcasting():
    cond = np.array([[True, False, True]])
    check_op(lambda a, b: tg.where(tg.tensor(cond), a, b),
             lambda a, b: TORCH.where(TORCH.tensor(cond), a, b), [(2, 3), (2, 1)])
    check_op(lambda a: tg.where(a > 0, a, 0.0),
             lambda a: TORCH.where(a > 0, a, 0.0), [(3, 2)])
    check_op(lambda a: tg.where(a > 0, 1.0, a * 2),
             lambda a: TORCH.where(a > 0, 1.0, a * 2), [(3, 2)])


@FAST
@given(triple=broadcastable_shapes(3, max_dims=3, max_side=3))
def test_where_hypothesis(triple):
    c_shape, a_shape, b_shape = triple
    cond = np.random.default_rng(0).random(c_shape) > 0.5
    check_op(lambda a, b: tg.where(tg.tensor(cond), a, b),
             lambda a, b: TORCH.where(TORCH.tensor(cond), a, b) if TORCH else None,
             [a_shape, b_shape], gradcheck_max_numel=8)


@FAST
@given(shape=shapes(max_dims=3, max_side=3), lo=st.floats(-1, 0), hi=st.floats(0.1, 1))
def test_clamp_hypothesis(shape, lo, hi):
    check_op(lambda x: x.clamp(lo, hi), None, [shape], gradcheck_max_numel=8)


def test_clamp_with_tensor_bounds():
    check_op(lambda x, lo: x.clamp(min=lo), lambda x, lo: x.clamp(min=lo), [(2, 3), (3,)])


def test_top_level_twins():
    """Every tg.* math function of API.md matches its Tensor method."""
    x = tg.tensor([[0.5, 1.5], [2.0, 0.25]], dtype=tg.float64)
    for name in ["exp", "log", "sqrt", "tanh", "sigmoid", "abs"]:
        assert_close(getattr(tg, name)(x), getattr(x, name)())
    assert_close(tg.clamp(x, 0.6, 1.8), x.clamp(0.6, 1.8))
    assert_close(tg.cumsum(x, 1), x.cumsum(1))
    assert_close(tg.logsumexp(x, 1), x.logsumexp(1))
    assert_close(tg.softmax(x, 1), x.softmax(1))
    assert_close(tg.log_softmax(x, 1), x.log_softmax(1))
    assert_close(tg.argmax(x), x.argmax())
    assert_close(tg.tril(x), x.tril())
    assert_close(tg.triu(x), x.triu())
    assert tg.allclose(x, x + 1e-9)
    assert not tg.allclose(x, x + 1)
