"""PyTorch-style custom autograd Functions (autograd/custom_function.py): static forward and
backward with a ctx, setup_context, saved tensors, mark_dirty / mark_non_differentiable,
set_materialize_grads, once_differentiable, and PyTorch's checks of what backward returns.
The `lib` tests run the same class body on tinygen and on PyTorch (where installed)."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd.function import FunctionCtx, once_differentiable


def _torch():
    return pytest.importorskip("torch")


def _clip(lib):
    class Clip(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, bound):
            ctx.save_for_backward(x)
            ctx.bound = bound
            return x.clamp(-bound, bound)

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return gy * (x.abs() <= ctx.bound).to(gy.dtype), None
    return Clip


def _cube(lib):
    """x ** 3 with a backward written in tensor ops: differentiable again."""
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x * x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 3 * x * x * gy
    return Cube


def _scale_shift(lib):
    """Two outputs, a keyword with a default (setup_context binds it), a non-tensor input."""
    class ScaleShift(lib.autograd.Function):
        @staticmethod
        def forward(x, w, shift=1.5):
            return x * w + shift, x - w

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, w, shift = inputs
            ctx.save_for_backward(x, w)
            ctx.shift = shift

        @staticmethod
        def backward(ctx, g1, g2):
            x, w = ctx.saved_tensors
            return g1 * w + g2, g1 * x - g2, None
    return ScaleShift


def _double_(lib):
    """Changes its input in place and says so."""
    class Double_(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, gy):
            return gy * 2
    return Double_


def _sort_values(lib):
    """Values and (integer) indices: the indices get no gradient."""
    class SortValues(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.save_for_backward(idx)
            ctx.n = x.shape[0]
            return values, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            g = gv.new_zeros(ctx.n) if hasattr(gv, "new_zeros") else gv * 0
            return g.scatter(0, idx, gv)
    return SortValues


def _x(lib, values=(0.5, -2.0, 3.0, 0.25)):
    return lib.tensor(list(values), dtype=lib.float64, requires_grad=True)


# ---- the common path ---------------------------------------------------------------------------
def test_forward_backward_and_ctx_attributes():
    Clip = _clip(tg)
    x = _x(tg)
    y = Clip.apply(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), [0.5, -1.0, 1.0, 0.25])
    assert y.requires_grad and type(y.grad_fn).__name__ == "ClipBackward"
    assert repr(y.grad_fn) == "<ClipBackward>" and "grad_fn=<ClipBackward>" in repr(y)
    assert y.grad_fn.bound == 1.0 and y.grad_fn._forward_cls is Clip
    assert y.grad_fn.next_functions == ((x, 0), (None, 0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, 1.0])


def test_gradcheck_and_gradgradcheck():
    Cube = _cube(tg)
    x = _x(tg)
    assert tg.autograd.gradcheck(Cube.apply, (x,))
    assert tg.autograd.gradgradcheck(Cube.apply, (x,))
    ScaleShift = _scale_shift(tg)
    w = _x(tg, (1.0, 2.0, -1.0, 0.5))
    assert tg.autograd.gradcheck(lambda a, b: ScaleShift.apply(a, b), (x, w))


def test_double_backward_of_a_tensor_op_backward():
    Cube = _cube(tg)
    x = _x(tg)
    (g,) = tg.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
    (gg,) = tg.autograd.grad(g.sum(), [x])
    xv = x.detach().numpy()
    np.testing.assert_allclose(g.detach().numpy(), 3 * xv ** 2, rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), 6 * xv, rtol=1e-12)


def test_forward_runs_without_grad_and_sees_needs_input_grad():
    seen = {}

    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen["grad"] = tg.is_grad_enabled()
            seen["needs"] = ctx.needs_input_grad
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            seen["needs_back"] = ctx.needs_input_grad
            return g, None, None
    x, y = _x(tg), tg.ones(4, dtype=tg.float64)
    Probe.apply(x, y, 2.0).sum().backward()
    assert seen == {"grad": False, "needs": (True, False, False),
                    "needs_back": (True, False, False)}
    assert isinstance(FunctionCtx(None), FunctionCtx)


def test_no_graph_without_grad():
    Clip = _clip(tg)
    with tg.no_grad():
        y = Clip.apply(_x(tg), 1.0)
    assert not y.requires_grad and y.grad_fn is None
    z = Clip.apply(tg.ones(3), 1.0)
    assert not z.requires_grad


def test_multiple_outputs_one_used():
    ScaleShift = _scale_shift(tg)
    x, w = _x(tg), _x(tg, (1.0, 2.0, -1.0, 0.5))
    a, b = ScaleShift.apply(x, w)
    np.testing.assert_allclose(a.detach().numpy(), x.detach().numpy() * w.detach().numpy() + 1.5)
    b.sum().backward()                     # a's gradient is materialised as zeros
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))
    np.testing.assert_array_equal(w.grad.numpy(), -np.ones(4))


def test_set_materialize_grads_false_passes_none():
    got = []

    class Two(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            got.append((g1, g2))
            return g2 * 3
    x = _x(tg)
    Two.apply(x)[1].sum().backward()
    assert got[0][0] is None and got[0][1] is not None
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 3.0))


def test_integer_and_non_differentiable_outputs():
    SortValues = _sort_values(tg)
    x = _x(tg)
    values, idx = SortValues.apply(x)
    assert values.requires_grad and not idx.requires_grad
    (values * tg.arange(4, dtype=tg.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 3.0, 1.0])

    class Marked(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            a, b = x * 2, x * 3
            ctx.mark_non_differentiable(b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            assert float(gb.abs().sum()) == 0.0          # zeros for the marked output
            return ga * 2
    a, b = Marked.apply(x)
    assert a.requires_grad and not b.requires_grad


def test_an_input_returned_as_is_is_a_new_tensor_on_its_storage():
    class Same(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5
    x = _x(tg)
    y = Same.apply(x)
    assert y is not x and y.grad_fn is not None
    with tg.no_grad():
        y[0] = 7.0
    assert float(x[0]) == 7.0
    (y * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 5.0))


def test_mark_dirty():
    Double_ = _double_(tg)
    x = _x(tg)
    h = x * 1
    before = h._version[0]
    y = Double_.apply(h)
    assert y is h and type(h.grad_fn).__name__ == "Double_Backward"
    assert h._version[0] > before
    np.testing.assert_array_equal(h.detach().numpy(), 2 * x.detach().numpy())
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 6.0))


def test_mark_dirty_errors():
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        _double_(tg).apply(_x(tg))

    class Forgot(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g
    with pytest.raises(RuntimeError, match="marked dirty.*not returned"):
        Forgot.apply(_x(tg) * 1)


def test_once_differentiable():
    modes = []

    class Square(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            modes.append(tg.is_grad_enabled())
            (x,) = ctx.saved_tensors
            return 2 * x * g
    x = _x(tg)
    (g,) = tg.autograd.grad(Square.apply(x).sum(), [x], create_graph=True)
    assert modes == [False]
    np.testing.assert_array_equal(g.detach().numpy(), 2 * x.detach().numpy())
    with pytest.raises(RuntimeError, match="differentiate twice.*once_differentiable"):
        g.sum().backward()
    Square.apply(x).sum().backward()                   # first order, as usual
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy())


def test_vjp_is_backward():
    class Twice(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2
    x = _x(tg)
    Twice.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 2.0))


def test_a_subclass_uses_its_own_backward():
    Cube = _cube(tg)

    class Wrong(Cube):
        @staticmethod
        def backward(ctx, gy):
            return gy * 0
    x = _x(tg)
    y = Wrong.apply(x)
    assert type(y.grad_fn).__name__ == "WrongBackward"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(4))


# ---- what backward may return ------------------------------------------------------------------
def _returning(value_fn, n_inputs=1):
    class Returns(tg.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            return args[0].sum()

        @staticmethod
        def backward(ctx, g):
            return value_fn(g)
    return lambda *args: Returns.apply(*args)


def test_gradients_are_summed_and_cast_to_the_input():
    f = _returning(lambda g: tg.ones(2, 4, dtype=tg.float32) * g.to(tg.float32))
    x = _x(tg)
    f(x).backward()
    assert x.grad.dtype == tg.float64 and tuple(x.grad.shape) == (4,)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 2.0))


def test_extra_nones_are_dropped():
    f = _returning(lambda g: (g.expand(4), None, None))
    x = _x(tg)
    f(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))


@pytest.mark.parametrize("value_fn, args, match", [
    (lambda g: tg.ones(5, dtype=tg.float64), 1, r"invalid gradient at index 0 - got \[5\] but "
                                                r"expected shape compatible with \[4\]"),
    (lambda g: (g.expand(4), g.expand(4)), 1, r"incorrect number of gradients \(expected 1, "
                                              r"got 2\)"),
    (lambda g: g.expand(4), 2, r"incorrect number of gradients \(expected 2, got 1\)"),
    (lambda g: (g.expand(4), g), 2, "different than None at position 2.*not a Tensor"),
    (lambda g: 3.0, 1, "returned a float as gradient 0"),
])
def test_bad_gradients_are_named(value_fn, args, match):
    f = _returning(value_fn)
    inputs = (_x(tg), 3)[:args]
    with pytest.raises(RuntimeError, match=match):
        f(*inputs).backward()


def test_save_for_backward_checks():
    class SavesInt(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 2
    with pytest.raises(TypeError, match="argument 1 is of type int"):
        SavesInt.apply(_x(tg))
    Clip = _clip(tg)
    h = _x(tg) * 1
    y = Clip.apply(h, 1.0)
    with tg.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = Clip.apply(_x(tg), 1.0)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_a_second_backward_needs_retain_graph_only_for_saved_tensors():
    class Twice(tg.autograd.Function):           # saves nothing: nothing is freed (as PyTorch)
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = _x(tg)
    y = Twice.apply(x).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 4.0))


def test_no_backward_defined():
    class NoBackward(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2
    with pytest.raises(NotImplementedError, match="backward or vjp"):
        NoBackward.apply(_x(tg)).sum().backward()


def test_a_captured_step_equals_the_eager_one():
    Cube = _cube(tg)
    w0 = np.array([0.5, -0.25, 1.0, 0.75])

    def run(step_fn):
        w = tg.tensor(w0.copy(), requires_grad=True)
        opt = tg.optim.SGD([w], lr=0.05)

        def step(x):
            opt.zero_grad()
            loss = Cube.apply(w * x).sum()
            loss.backward()
            opt.step()
            return loss
        step = step_fn(step)
        return [float(step(tg.full((4,), 1.0 + k, dtype=tg.float64))) for k in range(4)], w

    eager, we = run(lambda f: f)
    compiled, wc = run(tg.compile)
    assert eager == compiled
    np.testing.assert_array_equal(we.detach().numpy(), wc.detach().numpy())


# ---- the same class bodies on PyTorch ----------------------------------------------------------
def _grads(lib, make, values=(0.5, -2.0, 3.0, 0.25)):
    x = _x(lib, values)
    w = _x(lib, (1.0, 2.0, -1.0, 0.5))
    name = make.__name__
    if name == "_clip":
        loss = (make(lib).apply(x, 1.0) * w).sum()
    elif name == "_cube":
        (g,) = lib.autograd.grad((make(lib).apply(x) * w).sum(), [x], create_graph=True)
        loss = (g * g).sum()
    elif name == "_scale_shift":
        a, b = make(lib).apply(x, w, shift=0.25)
        loss = (a * a).sum() + (b * 3).sum()
    elif name == "_double_":
        h = x * w
        loss = (make(lib).apply(h) * h).sum()
    else:
        values, idx = make(lib).apply(x)
        loss = (values * w).sum()
    loss.backward()
    return float(loss.detach()), x.grad.numpy(), w.grad.numpy()


@pytest.mark.parametrize("make", [_clip, _cube, _scale_shift, _double_, _sort_values],
                         ids=lambda f: f.__name__[1:])
def test_matches_pytorch(make):
    torch = _torch()
    ours, theirs = _grads(tg, make), _grads(torch, make)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)


def test_mark_dirty_on_a_view_updates_its_base():
    def run(lib):
        Double_ = _double_(lib)
        x = _x(lib)
        y = x * 3
        Double_.apply(y[1:3])
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy()
    values, grad = run(tg)
    xv = np.array([0.5, -2.0, 3.0, 0.25])
    np.testing.assert_allclose(values, 3 * xv * np.array([1, 2, 2, 1]), rtol=1e-12)
    np.testing.assert_allclose(grad, 18 * xv * np.array([1, 4, 4, 1]), rtol=1e-12)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(grad, run(torch)[1], rtol=1e-12)
