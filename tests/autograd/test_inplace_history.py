"""A Function recorded before an in-place op keeps the input's history as it was then.

tinygen's Functions hold their input Tensors (not PyTorch's (grad_fn, index) edges), so an in-place
op that gives a tensor a new grad_fn must not re-route the Functions that took it earlier:
`y = x * 2; z = y + 1; y.mul_(3)` leaves dz/dx = 2 (it was 6, silently, before function.rebase).
"""
import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd import function


def _x(lib):
    return lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)


def _used_then_scaled(lib):
    x = _x(lib)
    y = x * 2
    z = y + 1                      # Add saves nothing: only its edge says where y came from
    y.mul_(3)
    return x, z.sum()


def _both_uses(lib):
    x = _x(lib)
    y = x * 2
    z = y + 1
    y.mul_(3)
    return x, (y * z).sum()


def _three_epochs(lib):
    x = _x(lib)
    y = x * 2
    a = y + 1
    y.add_(1)
    b = y * 3
    y.mul_(2)
    c = y - 4
    y += 7
    return x, a.sum() + b.sum() + c.sum() + (y * y).sum()


def _setitem(lib):
    x = _x(lib)
    y = x * 2
    z = y.sum()
    y[1] = 0.0
    return x, z + (y * y).sum()


def _reshaped(lib):
    x = _x(lib)
    y = x * 2
    z = y + 1
    y.unsqueeze_(0)
    return x, z.sum() + (y * 3).sum()


def _detached(lib):
    x = _x(lib)
    y = x * 2
    z = y + 1
    y.detach_()
    return x, z.sum()


def _a_twin_op(lib):
    x = _x(lib)
    y = x + 1
    z = y * 5
    y.relu_()
    return x, z.sum() + y.sum()


CASES = {f.__name__[1:]: f for f in (_used_then_scaled, _both_uses, _three_epochs, _setitem,
                                     _reshaped, _detached, _a_twin_op)}


def test_the_earlier_use_keeps_its_gradient():
    x, loss = _used_then_scaled(tg)
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_autograd_grad_and_a_second_pass():
    x, loss = _both_uses(tg)
    (g,) = tg.autograd.grad(loss, [x], retain_graph=True)
    loss.backward()
    xv = np.array([0.5, -1.0, 2.0])
    want = 6 * (2 * xv + 1) + 6 * xv * 2          # d/dx of (6x)(2x + 1)
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_double_backward_through_an_earlier_use():
    x = _x(tg)
    y = x * x
    z = y * 3
    y.add_(1)
    (g,) = tg.autograd.grad((z + y).sum(), [x], create_graph=True)
    (gg,) = tg.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(g.numpy(), 8 * np.array([0.5, -1.0, 2.0]), rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), [8.0, 8.0, 8.0], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    x, loss = CASES[name](tg)
    loss.backward()
    tx, tloss = CASES[name](torch)
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_a_saved_input_changed_in_place_still_raises():
    x = _x(tg)
    y = x * 2
    z = y * y                       # Mul saves y
    y.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_history_is_not_kept_past_the_tensor():
    x = _x(tg)
    y = x * 2
    y.mul_(3)
    key = id(y)
    assert key in function.PRIORS
    del y
    assert key not in function.PRIORS
