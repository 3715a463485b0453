"""The hottest backward rules on arrays (autograd.function.on_arrays): where no graph of the
backward is recorded, Mul, Sub, Relu, Sum, Mean, Linear and MatMul compute their gradients on the
arrays, without an op per line. Each case here runs one backward both ways (on the arrays, and with
on_arrays() forced off: the rule's Tensor ops, what a captured step records) and asserts the same
bits, and that the array path really ran no op of the rule's own."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.autograd import function as _function
from tinygen.ops import activation, binary, linalg, reduce

RULE_MODULES = (activation, binary, linalg, reduce)      # those that import on_arrays
# the ops a rule applies in its Tensor form, which its array form must not
RULE_OPS = {"Mul", "Neg", "ZeroWhere", "ExpandBack", "LinearGrad", "MatMul", "Permute"}

CASES = {
    "mul": (lambda a, b: a * b, [(3, 4), (3, 4)]),
    "mul_broadcast": (lambda a, b: a * b, [(2, 3, 4), (4,)]),
    "mul_scalar": (lambda a: 2.5 * a, [(3, 4)]),
    "square": (lambda a: a * a, [(5,)]),
    "mul_0d": (lambda a, b: a * b, [(), ()]),                # NumPy gives a scalar: made 0-d
    "sub": (lambda a, b: a - b, [(3, 4), (3, 1)]),
    "rsub_scalar": (lambda a: 1 - a, [(3, 4)]),
    "sub_0d": (lambda a, b: a - b, [(), (3,)]),
    "relu": (lambda a: a.relu(), [(3, 4)]),
    "relu_kernel": (lambda a: a.relu(), [(50, 60)]),         # past Relu's kernel threshold
    "sum": (lambda a: a.sum(), [(3, 4)]),
    "sum_dim": (lambda a: a.sum(1), [(2, 3, 4)]),
    "sum_keepdim": (lambda a: a.sum(0, keepdim=True), [(3, 4)]),
    "mean": (lambda a: a.mean(), [(3, 4)]),
    "mean_dims": (lambda a: a.mean((0, 2)), [(2, 3, 4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
    "linear_no_bias": (lambda x, w: F.linear(x, w), [(6, 4), (5, 4)]),
    "matmul": (lambda a, b: a @ b, [(6, 4), (4, 5)]),
    "matmul_batched": (lambda a, b: a @ b, [(3, 6, 4), (3, 4, 5)]),
    "matmul_broadcast": (lambda a, b: a @ b, [(2, 3, 6, 4), (4, 5)]),     # b's gradient summed
}


def _backward(case, dtype, monkeypatch, arrays_allowed):
    """(the gradients of the inputs, the names of the ops applied during the backward)."""
    fn, shapes = CASES[case]
    rng = np.random.default_rng(0)
    inputs = [tg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in shapes]
    out = fn(*inputs)
    gy = tg.tensor(rng.standard_normal(out.shape).astype(dtype))
    applied = []
    apply = _function.Function.apply.__func__

    def counting_apply(cls, *args, **params):
        applied.append(cls.__name__)
        return apply(cls, *args, **params)
    with monkeypatch.context() as m:
        m.setattr(_function.Function, "apply", classmethod(counting_apply))
        if not arrays_allowed:
            for module in RULE_MODULES:
                m.setattr(module, "on_arrays", lambda: False)
        grads = tg.autograd.grad(out, inputs, gy)
    return [g.numpy() for g in grads], set(applied)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_on_arrays_gives_the_bits_of_its_tensor_ops(case, dtype, monkeypatch):
    on_arrays, ops_on_arrays = _backward(case, dtype, monkeypatch, arrays_allowed=True)
    tensor_ops, ops_as_tensors = _backward(case, dtype, monkeypatch, arrays_allowed=False)
    assert ops_as_tensors & RULE_OPS, ops_as_tensors        # the Tensor form applies its ops
    assert not ops_on_arrays & RULE_OPS, ops_on_arrays      # the array form does not
    for a, b in zip(on_arrays, tensor_ops):
        assert type(a) is np.ndarray and a.dtype == b.dtype == dtype and a.shape == b.shape
        assert np.array_equal(a, b), (case, np.abs(a - b).max())


def test_rules_record_their_ops_under_create_graph():
    # with a graph of the backward, the rules stay differentiable: second derivatives
    x = tg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    w = tg.tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
    y = (F.linear(x * x, w).relu() - 1).mean()
    (g,) = tg.autograd.grad(y, [x], create_graph=True)
    assert g.requires_grad
    (gg,) = tg.autograd.grad(g.sum(), [x])
    # y = relu(w . x^2) - 1 with w . x^2 = 0.5 - 4 + 18 > 0: dy/dx = 2 w x, d2/dx2 sum = 2 w
    np.testing.assert_allclose(g.numpy(), 2 * w.numpy()[0] * x.numpy())
    np.testing.assert_allclose(gg.numpy(), 2 * w.numpy()[0])


def test_on_arrays_is_off_under_create_graph_and_capture():
    assert _function.on_arrays() is False                  # grad mode on: a graph would record
    with tg.no_grad():
        assert _function.on_arrays() is True
        _function.CAPTURE[0] = object()                     # a step being captured
        try:
            assert _function.on_arrays() is False
        finally:
            _function.CAPTURE[0] = None
