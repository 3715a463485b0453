"""No NaN gradient through untaken branches: where(x > 0, log(x), 0), sqrt at 0, masked softmax
(masked_fill with -inf, including a fully masked row). PyTorch gives NaN in some of these; tinygen
is asked for finite gradients that equal the gradient of the taken branch."""
import numpy as np
import pytest
from helpers import assert_close

import tinygen as tg

NEG_INF = float("-inf")


def leaf(values):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def finite(t):
    return bool(np.isfinite(t.numpy()).all())


@pytest.mark.parametrize("branch,expected", [
    (lambda x: tg.where(x > 0, x.log(), 0.0), [0, 0, 0.5, 0.25]),
    (lambda x: tg.where(x > 0, x.log(), tg.zeros_like(x)), [0, 0, 0.5, 0.25]),
    (lambda x: tg.where(x <= 0, 0.0, x.log()), [0, 0, 0.5, 0.25]),
    (lambda x: tg.where(x > 0, x.sqrt(), x), [1, 1, 0.5 / 2 ** 0.5, 0.25]),
    (lambda x: tg.where(x != 0, 1.0 / x, 0.0), [-1, 0, -0.25, -1 / 16]),
    (lambda x: tg.where(x > 0, x ** 0.5, 0.0), [0, 0, 0.5 / 2 ** 0.5, 0.25]),
    (lambda x: tg.where(x > 0, x.rsqrt(), 0.0), [0, 0, -0.5 * 2 ** -1.5, -0.5 / 8]),
])
def test_where_untaken_branch_gives_no_nan(branch, expected):
    x = leaf([-1.0, 0.0, 2.0, 4.0])
    y = branch(x)
    y.sum().backward()
    assert finite(x.grad), x.grad
    assert_close(x.grad, np.array(expected, dtype=np.float64))


def test_where_log_gradient_values():
    x = leaf([-1.0, 0.0, 2.0, 4.0])
    tg.where(x > 0, x.log(), 0.0).sum().backward()
    assert_close(x.grad, np.array([0.0, 0.0, 0.5, 0.25]))


def test_where_second_derivative_is_finite():
    x = leaf([-1.0, 0.0, 2.0])
    y = tg.where(x > 0, x.log(), 0.0).sum()
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    assert finite(g) and finite(h)
    assert_close(h, np.array([0.0, 0.0, -0.25]))


def test_sqrt_at_zero_through_where():
    x = leaf([0.0, 1.0])
    y = tg.where(x > 0, x.sqrt(), 0.0).sum()
    y.backward()
    assert finite(x.grad)
    assert_close(x.grad, np.array([0.0, 0.5]))


def test_norm_of_zero_vector_gradient_is_zero():
    x = leaf([[0.0, 0.0], [3.0, 4.0]])
    x.norm(dim=1).sum().backward()
    assert finite(x.grad)
    assert_close(x.grad, np.array([[0.0, 0.0], [0.6, 0.8]]))


def _masked_softmax_loss(x, mask, weights):
    p = x.masked_fill(tg.tensor(mask), NEG_INF).softmax(dim=-1)
    return (p * tg.tensor(weights)).sum(), p


def test_masked_softmax_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((3, 4))
    mask = np.array([[False, True, False, True], [False, False, False, False],
                     [True, True, True, False]])
    w = rng.standard_normal((3, 4))
    x = leaf(xs)
    loss, p = _masked_softmax_loss(x, mask, w)
    loss.backward()
    tx = torch.tensor(xs, requires_grad=True)
    tp = tx.masked_fill(torch.tensor(mask), NEG_INF).softmax(-1)
    (tp * torch.tensor(w)).sum().backward()
    assert finite(x.grad)
    assert_close(p, tp)
    assert_close(x.grad, tx.grad)
    assert np.all(x.grad.numpy()[mask] == 0)


def test_fully_masked_row_gives_no_nan():
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((2, 3))
    mask = np.array([[True, True, True], [False, True, False]])
    x = leaf(xs)
    loss, p = _masked_softmax_loss(x, mask, rng.standard_normal((2, 3)))
    loss.backward()
    assert finite(x.grad), x.grad
    assert np.all(x.grad.numpy()[0] == 0)
    assert finite(p)                         # the fully masked row is zeros, not NaN
    assert_close(p.numpy()[1].sum(), 1.0)


@pytest.mark.parametrize("op", ["log_softmax", "logsumexp"])
def test_masked_log_softmax_and_logsumexp_finite_grads(op):
    x = leaf([[0.5, 1.0, -0.3], [0.1, 0.2, 0.3]])
    mask = tg.tensor(np.array([[False, True, False], [False, False, False]]))
    z = x.masked_fill(mask, NEG_INF)
    y = z.log_softmax(-1) if op == "log_softmax" else z.logsumexp(-1)
    keep = ~mask if op == "log_softmax" else tg.ones(2, dtype=tg.bool)
    (tg.where(keep, y, 0.0)).sum().backward()
    assert finite(x.grad)
    assert x.grad.numpy()[0, 1] == 0


def test_masked_softmax_double_backward_finite():
    x = leaf([[0.5, 1.0, -0.3], [0.0, 0.0, 0.0]])
    mask = tg.tensor(np.array([[False, True, False], [True, True, True]]))
    p = x.masked_fill(mask, NEG_INF).softmax(-1)
    (g,) = tg.autograd.grad((p * p).sum(), x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    assert finite(g) and finite(h)


def test_relu_and_abs_at_zero_match_torch():
    torch = pytest.importorskip("torch")
    xs = np.array([-1.0, 0.0, 1.0])
    for fn in (lambda t: t.relu(), lambda t: t.abs(), lambda t: t.clamp(0.0, 1.0)):
        x = leaf(xs)
        fn(x).sum().backward()
        tx = torch.tensor(xs, requires_grad=True)
        fn(tx).sum().backward()
        assert_close(x.grad, tx.grad)
