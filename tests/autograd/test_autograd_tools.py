"""Tools for studying and checking autodiff: gradcheck / gradgradcheck (they must catch wrong
gradients, not only pass right ones), anomaly mode naming the op, and the DOT graph."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd import Function


def leaf(values):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


class WrongSquare(Function):
    """x^2 with a wrong backward (3x instead of 2x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * x * 3


class SquareNoDoubleBackward(Function):
    """x^2 whose backward leaves the graph (detach): first order right, second order wrong."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy * x * 2).detach()


class Square(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * x * 2


def test_gradcheck_passes_on_correct_user_function():
    x = leaf([0.5, -1.2, 2.0])
    assert tg.autograd.gradcheck(lambda t: Square.apply(t).sin(), (x,))
    assert tg.autograd.gradgradcheck(lambda t: Square.apply(t).sin(), (x,))


def test_gradcheck_catches_wrong_gradient():
    x = leaf([0.5, -1.2])
    with pytest.raises(tg.autograd.GradcheckError, match="Jacobian mismatch"):
        tg.autograd.gradcheck(WrongSquare.apply, (x,))
    assert tg.autograd.gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_catches_wrong_second_derivative():
    x = leaf([0.5, -1.2])
    assert tg.autograd.gradcheck(SquareNoDoubleBackward.apply, (x,))
    with pytest.raises(tg.autograd.GradcheckError):
        tg.autograd.gradgradcheck(SquareNoDoubleBackward.apply, (x,))


def test_gradcheck_multiple_inputs_and_outputs():
    a, b = leaf([[0.3, 0.1], [0.2, -0.5]]), leaf([1.5, -0.5])
    assert tg.autograd.gradcheck(lambda x, y: (x @ y, (x * y).exp()), (a, b))
    assert tg.autograd.gradgradcheck(lambda x, y: (x @ y).tanh(), (a, b))


def test_gradcheck_ignores_inputs_without_grad():
    a = leaf([1.0, 2.0])
    c = tg.tensor([3.0, 4.0], dtype=tg.float64)
    assert tg.autograd.gradcheck(lambda x, y: x * y, (a, c))


# ---- anomaly mode ------------------------------------------------------------------------------
def test_anomaly_ignores_forward_values_and_infinite_gradients():
    # as PyTorch's: a NaN forward (log of a negative) and an inf gradient (sqrt at 0) pass
    x = leaf([-1.0, 2.0])
    tg.autograd.set_detect_anomaly(True)
    try:
        assert tg.autograd.is_anomaly_enabled()
        assert np.isnan(x.log().numpy()[0])
        z = leaf([0.0, 1.0])
        z.sqrt().sum().backward()
        assert np.isinf(z.grad.numpy()[0])
    finally:
        tg.autograd.set_detect_anomaly(False)
    assert not tg.autograd.is_anomaly_enabled()


def test_anomaly_names_op_whose_backward_returns_nan():
    x = leaf([0.0, 1.0])
    y = x.abs().sqrt()                                # abs backward at 0: 0 * inf = NaN
    with tg.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="Abs") as info:
        y.sum().backward()
    assert "nan values" in str(info.value)


def test_anomaly_off_by_default_and_context_manager_restores():
    assert not tg.autograd.is_anomaly_enabled()
    with tg.autograd.detect_anomaly():
        assert tg.autograd.is_anomaly_enabled()
    assert not tg.autograd.is_anomaly_enabled()


# ---- DOT graph ---------------------------------------------------------------------------------
def test_to_dot_names_ops_shapes_and_dtypes():
    x = tg.ones(2, 3, requires_grad=True)
    w = tg.ones(3, 4, requires_grad=True)
    loss = (x @ w).relu().sum()
    dot = tg.autograd.to_dot(loss)
    assert dot.startswith("digraph")
    assert dot.rstrip().endswith("}")
    for op in ("MatMul", "Relu", "Sum"):
        assert op in dot, op
    assert "(2, 3)" in dot and "(3, 4)" in dot and "(2, 4)" in dot
    assert "float32" in dot


def test_to_dot_of_leaf_and_shared_node():
    x = tg.ones(2, requires_grad=True)
    assert "digraph" in tg.autograd.to_dot(x)
    y = x * 2
    z = (y + y).sum()
    dot = tg.autograd.to_dot(z)
    assert dot.count("Mul") >= 1 and "Add" in dot


def test_to_dot_after_backward_still_names_ops_and_shapes():
    x = tg.ones(2, 3, requires_grad=True)
    loss = (x.exp() * 2).sum()
    loss.backward()                                   # the graph's arrays are freed, not its shape
    dot = tg.autograd.to_dot(loss)
    assert "Exp" in dot and "Mul" in dot and "(2, 3)" in dot and "float32" in dot


def test_gradcheck_warns_on_float32_and_needs_a_grad_input():
    x = tg.tensor([0.5, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):      # eps 1e-6 is noise in float32
        tg.autograd.gradcheck(lambda t: t * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)
    with pytest.raises(ValueError, match="requires grad"):
        tg.autograd.gradcheck(lambda t: t * 2, (tg.ones(2, dtype=tg.float64),))


def test_grad_mode_is_per_thread():
    # the DataLoader's prefetch thread must not see the training thread's no_grad, nor the reverse
    import threading
    seen = {}

    def other():
        seen["start"] = tg.is_grad_enabled()
        with tg.no_grad():
            started.set()
            release.wait(5)
        seen["end"] = tg.is_grad_enabled()

    started, release = threading.Event(), threading.Event()
    with tg.no_grad():
        thread = threading.Thread(target=other)
        thread.start()
        started.wait(5)
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()             # the other thread's no_grad is still open
    x = tg.randn(3, requires_grad=True)
    assert (x * 2).requires_grad
    release.set()
    thread.join(5)
    assert seen == {"start": True, "end": True}
