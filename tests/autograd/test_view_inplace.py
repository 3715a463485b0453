"""In-place ops on views and on tensors that have views (autograd/views.py, autograd/view_history.py):
the root of a changed view, and the views of a changed root, take the history PyTorch gives them.
Before, y[:2].mul_(3) left y's history as it was, and gradients through y were silently wrong."""
import warnings

import numpy as np
import pytest

import tinygen as tg


def _x(lib):
    return lib.tensor([0.5, -1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)


def _view_scaled(lib, x):
    y = x * 2
    y[:2].mul_(3)
    return y.sum()


def _view_plus_a_graph(lib, x):
    y = x * 2
    y[1:3].add_(x[1:3] ** 2)
    return (y * y).sum()


def _view_of_a_view(lib, x):
    y = x * 2
    y.view(2, 2)[1].mul_(10)
    return (y * x).sum()


def _base_changed_under_a_view(lib, x):
    y = x * 2
    v = y[:2]
    y.mul_(3)
    return (v * v).sum()


def _unsqueezed(lib, x):
    y = x * 1
    y.unsqueeze(0).mul_(2)
    return (y * 3).sum()


def _strided_zeroed(lib, x):
    y = x * 2
    y[::2].zero_()
    return (y * x).sum()


def _transposed(lib, x):
    y = (x * 1).view(2, 2)
    y.t()[0].mul_(x[:2])
    return (y * y).sum()


def _copy_into_slices(lib, x):
    out = lib.zeros(2, 4, dtype=lib.float64)
    out[0].copy_(x.exp())
    out[1].copy_(x * 3)
    return (out * out).sum()


def _chunk_of_a_view(lib, x):
    y = x * 1
    a = y.view(2, 2)[1]
    a.add_(y[:2])
    return (y * y).sum()


def _setitem_on_a_view(lib, x):
    y = x * 2
    v = y[1:]
    v[0] = x[3] * 4
    return (y * x).sum()


def _fill_then_use(lib, x):
    y = x * 2
    y.fill_(1.5)
    return (y * x).sum()


CASES = {f.__name__[1:]: f for f in (
    _view_scaled, _view_plus_a_graph, _view_of_a_view, _base_changed_under_a_view, _unsqueezed,
    _strided_zeroed, _transposed, _copy_into_slices, _chunk_of_a_view, _setitem_on_a_view,
    _fill_then_use)}


def _grad(lib, case):
    x = _x(lib)
    loss = case(lib, x)
    loss.backward()
    return float(loss.detach()), x.grad.numpy()


def test_the_root_of_a_changed_view_takes_the_new_history():
    loss, g = _grad(tg, _view_scaled)
    assert loss == 2 * (3 * 0.5 + 3 * -1.0 + 2.0 + 3.0)
    np.testing.assert_array_equal(g, [6.0, 6.0, 2.0, 2.0])


def test_a_view_of_a_changed_root_takes_the_new_history():
    _, g = _grad(tg, _base_changed_under_a_view)
    np.testing.assert_allclose(g, [72 * 0.5, 72 * -1.0, 0.0, 0.0], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _grad(tg, CASES[name]), _grad(torch, CASES[name])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


@pytest.mark.parametrize("name", ["view_plus_a_graph", "transposed", "copy_into_slices",
                                  "chunk_of_a_view"])
def test_second_derivatives(name):
    case = CASES[name]
    assert tg.autograd.gradgradcheck(lambda x: case(tg, x), (_x(tg),))


def test_a_view_of_a_leaf_that_requires_grad_refuses_in_place():
    x = _x(tg)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        x[:2].mul_(2)
    with tg.no_grad():
        x[:2].mul_(2)                     # as optimisers and init do
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, -2.0, 2.0, 3.0])


def test_outputs_of_a_multi_output_view_refuse_in_place():
    y = _x(tg) * 1
    a, b = y.split(2)
    with pytest.raises(RuntimeError, match="Output 1 of Split is a view and is being modified"):
        b.add_(a)
    np.testing.assert_array_equal(y.detach().numpy(), [0.5, -1.0, 2.0, 3.0])   # nothing written


def test_copy_and_fill_give_the_old_history_a_zero_gradient():
    x = tg.tensor([float("inf"), 1.0], requires_grad=True)
    y = x * 1
    y.copy_(tg.tensor([5.0, -0.0]))       # (was y * 0 + src: NaN where y held inf)
    np.testing.assert_array_equal(y.detach().numpy(), [5.0, -0.0])
    assert np.signbit(y.detach().numpy()[1])
    value = tg.tensor(3.0, requires_grad=True)
    z = x * 2
    z.fill_(value)
    (z * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert value.grad.item() == float("inf") + 1.0


def test_flip_is_a_copy_and_a_copying_reshape_has_its_own_version():
    x = tg.arange(4.0)
    y = x.flip(0)
    y.mul_(10)
    np.testing.assert_array_equal(x.numpy(), [0.0, 1.0, 2.0, 3.0])
    t = tg.arange(6.0).reshape(2, 3).t()
    r = t.reshape(6)                       # not contiguous: a copy, as PyTorch's
    r.mul_(10)
    assert t._version[0] == 0 and r._version[0] == 1
    s = tg.arange(6.0)
    s.reshape(2, 3).mul_(10)               # contiguous: a view
    assert s._version[0] == 1 and s[1].item() == 10.0


def test_a_captured_step_with_in_place_views_equals_the_eager_one():
    def run(wrap):
        w = tg.tensor(np.array([0.5, -0.25, 1.0, 0.75]), requires_grad=True)
        opt = tg.optim.SGD([w], lr=0.05)

        def step(x):
            opt.zero_grad()
            y = w * x
            y[:2].mul_(3)
            y.view(2, 2)[1].add_(w[:2] ** 2)
            loss = (y * y).sum()
            loss.backward()
            opt.step()
            return loss
        step = wrap(step)
        return [float(step(tg.full((4,), 1.0 + k / 4, dtype=tg.float64))) for k in range(5)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(tg.compile) == run(lambda f: f)


def test_the_version_list_is_pruned_of_dead_views():
    x = tg.zeros(8)
    for _ in range(1000):
        x[1:3]
    assert len(x._version) < 70


def test_an_in_place_view_change_of_a_view_is_followed():
    def case(lib, x):
        y = x * 2
        v = y[:2]
        v.unsqueeze_(0)
        v.mul_(5)
        return (y * x).sum() + v.sum()
    torch = pytest.importorskip("torch")
    ours, theirs = _grad(tg, case), _grad(torch, case)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


@pytest.mark.parametrize("fill", [lambda t: t.uniform_(), lambda t: t.normal_(),
                                  lambda t: t.bernoulli_(0.5), lambda t: t.exponential_()])
def test_a_random_fill_in_a_graph_cuts_the_old_history(fill):
    x = _x(tg)
    y = x * 2
    fill(y)
    (y * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    v = x * 3
    fill(v[1:3])                                    # a view: the rest of v keeps its history
    (v * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy() - y.detach().numpy(), [3.0, 0.0, 0.0, 3.0],
                               rtol=0, atol=1e-12)    # ((y + 3) - y: rounding, y is random)
