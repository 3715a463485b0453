"""In-place ops (optimisers and init, under no_grad), the version counter that guards tensors saved
for backward, and the leaf-in-place error."""
import numpy as np
import pytest
from helpers import assert_close

import tinygen as tg


def _param(values):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


INPLACE = {
    "add_": (lambda t: t.add_(2.0), lambda a: a + 2.0),
    "add_tensor_alpha": (lambda t: t.add_(tg.ones(3, dtype=tg.float64), alpha=-0.5),
                         lambda a: a - 0.5),
    "sub_": (lambda t: t.sub_(1.5), lambda a: a - 1.5),
    "sub_tensor": (lambda t: t.sub_(tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64)),
                   lambda a: a - np.array([1.0, 2.0, 3.0])),
    "mul_": (lambda t: t.mul_(3.0), lambda a: a * 3.0),
    "div_": (lambda t: t.div_(4.0), lambda a: a / 4.0),
    "copy_": (lambda t: t.copy_(tg.tensor([7.0, 8.0, 9.0])), lambda a: np.array([7.0, 8.0, 9.0])),
    "copy_numpy": (lambda t: t.copy_(np.array([1.0, 1.0, 2.0])), lambda a: np.array([1, 1, 2.0])),
    "zero_": (lambda t: t.zero_(), lambda a: a * 0),
    "fill_": (lambda t: t.fill_(2.5), lambda a: np.full_like(a, 2.5)),
    "clamp_": (lambda t: t.clamp_(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    "clamp_min": (lambda t: t.clamp_(min=0.0), lambda a: np.clip(a, 0.0, None)),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_under_no_grad(name):
    op, ref = INPLACE[name]
    start = np.array([-1.0, 0.25, 2.0])
    p = _param(start)
    storage = p.numpy()
    version = p._version[0]
    with tg.no_grad():
        out = op(p)
    assert out is p                                   # returns self
    assert p.numpy() is storage                       # same storage, written in place
    assert_close(p, ref(start))
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert p._version[0] > version                    # the version counter moved
    assert p.dtype == tg.float64


def test_uniform_and_normal_inplace():
    tg.manual_seed(0)
    w = tg.empty(1000, dtype=tg.float64, requires_grad=True)
    with tg.no_grad():
        assert w.uniform_(-2, 3) is w
    a = w.numpy()
    assert a.min() >= -2 and a.max() < 3 and abs(a.mean() - 0.5) < 0.2
    with tg.no_grad():
        w.normal_(1.0, 0.5)
    assert abs(w.numpy().mean() - 1.0) < 0.1 and abs(w.numpy().std() - 0.5) < 0.1
    assert w.dtype == tg.float64 and w.requires_grad
    tg.manual_seed(5)
    x = tg.zeros(4).uniform_()
    tg.manual_seed(5)
    y = tg.zeros(4).uniform_()
    assert x.tolist() == y.tolist()


def test_inplace_on_plain_tensor_without_no_grad():
    x = tg.zeros(3)
    x.add_(1).mul_(3)
    assert x.tolist() == [3.0, 3.0, 3.0]
    x[1] = 5.0
    assert x.tolist() == [3.0, 5.0, 3.0]


def test_sgd_style_update_then_backward_again():
    w = _param([1.0, 2.0])
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with tg.no_grad():
            w.sub_(w.grad * 0.25)
        w.grad = None
    assert_close(w, np.array([1.0, 2.0]) * 0.5 ** 3)


@pytest.mark.parametrize("name", ["add_", "mul_", "zero_", "fill_", "copy_", "clamp_",
                                  "uniform_", "normal_", "sub_", "div_"])
def test_leaf_inplace_with_grad_raises(name):
    p = _param([1.0, 2.0, 3.0])
    op = {"add_": lambda: p.add_(1.0), "mul_": lambda: p.mul_(2.0), "zero_": p.zero_,
          "fill_": lambda: p.fill_(1.0), "copy_": lambda: p.copy_(tg.zeros(3)),
          "clamp_": lambda: p.clamp_(0, 1), "uniform_": p.uniform_, "normal_": p.normal_,
          "sub_": lambda: p.sub_(1.0), "div_": lambda: p.div_(2.0)}[name]
    with pytest.raises(RuntimeError, match="leaf"):
        op()
    assert p.tolist() == [1.0, 2.0, 3.0]              # untouched


def test_version_counter_input_saved_for_backward():
    a = _param([1.0, 2.0, 3.0])
    x = a * 1.0                                        # a non-leaf, so in place is allowed
    y = (x * x).sum()                                  # Mul saves x
    with tg.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Mul"):
        y.backward()


def test_version_counter_output_saved_for_backward():
    a = _param([0.5, 1.0])
    y = a.exp()                                        # Exp saves its output
    z = y.sum()
    with tg.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"version"):
        z.backward()


def test_version_counter_through_a_view():
    a = _param([[1.0, 2.0], [3.0, 4.0]])
    x = a * 1.0
    y = (x.sin()).sum()                                # Sin saves x
    v = x[0]                                           # a view shares the counter
    with tg.no_grad():
        v.mul_(0.0)
    with pytest.raises(RuntimeError, match=r"inplace"):
        y.backward()


def test_version_counter_leaf_modified_under_no_grad():
    w = _param([1.0, 2.0])
    loss = (w * w).sum()                               # Mul saves w
    with tg.no_grad():
        w.add_(1.0)                                    # an optimiser step before backward
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation"):
        loss.backward()


def test_inplace_on_unsaved_tensor_is_fine():
    a = _param([1.0, 2.0])
    x = a * 2.0
    y = x + 1.0                                        # Add saves nothing
    with tg.no_grad():
        x.mul_(10.0)
    y.sum().backward()
    assert_close(a.grad, np.array([2.0, 2.0]))


def test_inplace_op_in_graph_on_non_leaf():
    torch = pytest.importorskip("torch")
    data = np.array([0.5, -1.0, 2.0])
    a = tg.tensor(data, requires_grad=True)
    b = a * 2.0
    b.mul_(a)                                          # b = 2a * a, recorded in the graph
    b.add_(1.0)
    b.sum().backward()
    ta = torch.tensor(data, requires_grad=True)
    tb = ta * 2.0
    tb.mul_(ta)
    tb.add_(1.0)
    tb.sum().backward()
    assert_close(a.grad, ta.grad)


def test_setitem_in_graph():
    torch = pytest.importorskip("torch")
    data = np.array([[0.5, -1.0, 2.0], [1.0, 3.0, -2.0]])
    a = tg.tensor(data, requires_grad=True)
    b = a * 1.0
    b[0, 1] = 5.0
    (b * b).sum().backward()
    ta = torch.tensor(data, requires_grad=True)
    tb = ta * 1.0
    tb[0, 1] = 5.0
    (tb * tb).sum().backward()
    assert_close(a.grad, ta.grad)


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2], requires_grad=True)
    x = tg.ones(2).requires_grad_()
    assert x.requires_grad and x.is_leaf
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_version_counter_inplace_in_graph():
    a = _param([1.0, 2.0, 3.0])
    x = a * 1.0
    y = (x * x).sum()                                  # Mul saves x
    x.add_(1.0)                                        # recorded in place, with grad on
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation"):
        y.backward()
    x.sum().backward()                                 # the new graph through x is fine
    assert_close(a.grad, np.ones(3))


def test_augmented_assignment_is_in_place():
    w = _param([1.0, 2.0])
    (w * w).sum().backward()
    storage = w.numpy()
    with tg.no_grad():
        w -= 0.5 * w.grad                              # the SGD step users write
        w *= 2.0
        w += 1.0
        w /= 2.0
    assert w.is_leaf and w.requires_grad and w.numpy() is storage
    assert_close(w, ((np.array([1.0, 2.0]) * 0) * 2 + 1) / 2)
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1.0
    a = _param([1.0, 2.0])
    h = a * 3.0
    h += a                                             # in the graph on a non-leaf
    h.sum().backward()
    assert_close(a.grad, np.array([4.0, 4.0]))


def test_inplace_shape_error_is_clear():
    x = tg.ones(3)
    with pytest.raises(RuntimeError, match=r"in-place.*\(2, 3\).*\(3,\)"):
        x.add_(tg.ones(2, 3))
    with tg.no_grad(), pytest.raises(RuntimeError, match=r"in-place.*\(2, 3\).*\(3,\)"):
        x.mul_(tg.ones(2, 3))
    y = tg.ones(2, 3)
    y.add_(tg.ones(3))                                 # the other operand may broadcast
    assert y.tolist() == [[2.0] * 3] * 2
