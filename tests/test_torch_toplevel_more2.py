"""torch.* and torch.autograd names of the second top-level coverage pass (autograd/variable.py,
autograd/engine_switches.py, native.py, rnn_cells_functional.py, view_copies.py, aten_more.py,
method_forms.py, factories.py), each against PyTorch on the same inputs: values, shapes, dtypes,
gradients in float64 (autograd against autograd, plus finite differences on small inputs via
helpers.check_op), memory not shared by the *_copy results, and the exception types of bad
input."""
import threading
import warnings

import numpy as np
import pytest

import tinygen as tg
from helpers import check_fn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def both(array, requires_grad=False):
    """The same data as a tinygen and a torch tensor."""
    array = np.asarray(array)
    return (tg.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def same(ours, theirs, rtol=1e-6, atol=1e-9):
    """Equal values, shapes and dtypes of (tuples of) tinygen and torch tensors."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b, rtol, atol)
        return
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], \
        (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=atol)


def raises_like(fn, exception):
    """fn(torch) and fn(tg) both raise `exception`."""
    with pytest.raises(exception):
        fn(torch)
    with pytest.raises(exception):
        fn(tg)


def fresh(out, x):
    """out (a tensor or a tuple of them) owns its memory, row-major."""
    for t in out if isinstance(out, tuple) else (out,):
        assert not np.shares_memory(t.numpy(), x.numpy())
        assert t.is_contiguous()


# ---- torch.autograd: Variable, variable, is_tensor_like, the engine switches --------------------
def test_variable_is_a_fresh_leaf_on_the_same_memory():
    for lib in (tg, torch):
        a = lib.ones(3, dtype=lib.float64, requires_grad=True)
        b = a * 2
        v = lib.autograd.Variable(b, requires_grad=True)
        assert type(v) is lib.Tensor and v.requires_grad and v.is_leaf and v.grad_fn is None
        assert np.shares_memory(v.detach().numpy(), b.detach().numpy())
        w = lib.autograd.Variable(b)
        assert not w.requires_grad and w.is_leaf
        (v * 3).sum().backward()
        assert v.grad is not None and a.grad is None          # the graph stops at v
    same(tg.autograd.Variable(), torch.autograd.Variable())
    raises_like(lambda lib: lib.autograd.Variable([1.0, 2.0]), TypeError)
    with pytest.warns(UserWarning, match="volatile"):
        assert not tg.autograd.Variable(tg.ones(2), volatile=True).requires_grad


def test_variable_isinstance_and_the_removed_function():
    for lib in (tg, torch):
        x = lib.ones(2)
        assert isinstance(x, lib.autograd.Variable)
        assert isinstance(lib.nn.Parameter(x), lib.autograd.Variable)
        assert not isinstance(3.0, lib.autograd.Variable)
        assert not isinstance(x.numpy(), lib.autograd.Variable)
        assert lib.autograd.variable.Variable is lib.autograd.Variable
        with pytest.raises(RuntimeError, match="deprecated"):
            lib.autograd.variable(x)
    # the import path is what is tested: tg.autograd.variable is the function (as torch's), the
    # submodule stays importable by name
    from tinygen.autograd.variable import Variable
    assert Variable is tg.autograd.Variable


class _TorchFunctionLike:
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return NotImplemented


@pytest.mark.parametrize("make", [lambda lib: lib.ones(2), lambda lib: lib.nn.Parameter(
    lib.ones(2)), lambda lib: 3.0, lambda lib: [1.0], lambda lib: _TorchFunctionLike()])
def test_is_tensor_like(make):
    assert tg.autograd.is_tensor_like(make(tg)) == torch.autograd.is_tensor_like(make(torch))


def _switch_states(lib):
    """is_multithreading_enabled() through a call, a block and another thread."""
    ag = lib.autograd
    seen = [ag.is_multithreading_enabled()]
    with ag.set_multithreading_enabled(False):
        seen.append(ag.is_multithreading_enabled())
        other = []
        thread = threading.Thread(target=lambda: other.append(ag.is_multithreading_enabled()))
        thread.start()
        thread.join()
        seen += other                               # per thread: the other one starts True
    seen.append(ag.is_multithreading_enabled())
    ag.set_multithreading_enabled(False)            # a plain call takes effect at once
    seen.append(ag.is_multithreading_enabled())
    ag.set_multithreading_enabled(True)
    seen.append(ag.is_multithreading_enabled())
    return seen


def test_multithreading_switch_and_view_replay():
    assert _switch_states(tg) == _switch_states(torch) == [True, False, True, True, False, True]
    assert tg.autograd.is_view_replay_enabled() is torch.autograd.is_view_replay_enabled() \
        is False
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.autograd.set_multithreading_enabled(False):
        (x * x).sum().backward()                    # backward runs the same either way
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_multithreading_switch_as_a_decorator():
    # PyTorch 2.13 leaves the switch off after decorating (its __call__ does not undo the
    # call-time switch, as set_grad_enabled's does); tinygen undoes it
    ag = tg.autograd

    @ag.set_multithreading_enabled(False)
    def inside():
        return ag.is_multithreading_enabled()
    assert [ag.is_multithreading_enabled(), inside(), ag.is_multithreading_enabled()] == \
        [True, False, True]


# ---- native_* ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_native_layer_norm(shape):
    # mean and rstd carry no gradient (as PyTorch's): finite differences only through out
    inputs, _ = check_fn(lambda m, x, w, b: m.native_layer_norm(x, list(shape), w, b, 1e-5),
                         [(2, 3, 4), shape, shape], gradcheck=False, rtol=1e-5, atol=1e-7)
    assert tg.autograd.gradcheck(
        lambda *a: tg.native_layer_norm(a[0], list(shape), a[1], a[2], 1e-5)[0], inputs)
    out = tg.native_layer_norm(tg.randn(2, 3, 4), list(shape), None, None, 1e-5)
    ref = torch.native_layer_norm(torch.randn(2, 3, 4), list(shape), None, None, 1e-5)
    assert [tuple(t.shape) for t in out] == [tuple(t.shape) for t in ref]
    raises_like(lambda lib: lib.native_layer_norm(lib.ones(2, 3, 4), [5], None, None, 1e-5),
                RuntimeError)


def test_native_layer_norm_half_keeps_the_dtype():
    x = RNG.standard_normal((2, 5)).astype(np.float32)
    ours = tg.native_layer_norm(tg.tensor(x).half(), [5], None, None, 1e-5)
    theirs = torch.native_layer_norm(torch.tensor(x).half(), [5], None, None, 1e-5)
    same([t.float() for t in ours], [t.float() for t in theirs], rtol=1e-2, atol=1e-2)
    assert all(t.dtype == tg.float16 for t in ours)


def test_native_batch_norm_training():
    def fn(m, x, w, b):
        rm, rv = m.zeros(3, dtype=m.float64), m.ones(3, dtype=m.float64)
        return m.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
    inputs, _ = check_fn(fn, [(4, 3, 2), (3,), (3,)], gradcheck=False, rtol=1e-5, atol=1e-7)
    assert tg.autograd.gradcheck(lambda *a: fn(tg, *a)[0], inputs)
    x = RNG.standard_normal((4, 3, 2))
    stats = [both(np.zeros(3)), both(np.ones(3))]
    ours = tg.native_batch_norm(tg.tensor(x), None, None, stats[0][0], stats[1][0], True, 0.2,
                                1e-5)
    theirs = torch.native_batch_norm(torch.tensor(x), None, None, stats[0][1], stats[1][1],
                                     True, 0.2, 1e-5)
    same(ours, theirs)
    for a, b in stats:                                   # running statistics updated alike
        same(a, b)
    stats = [both(np.zeros(3)), both(np.ones(3))]        # one value per channel: var 0, the
    x = RNG.standard_normal((1, 3))                      # running var NaN (count / 0), as ATen
    same(tg.native_batch_norm(tg.tensor(x), None, None, stats[0][0], stats[1][0], True, 0.1,
                              1e-5),
         torch.native_batch_norm(torch.tensor(x), None, None, stats[0][1], stats[1][1], True,
                                 0.1, 1e-5), rtol=1e-6, atol=1e-12)
    assert np.isnan(stats[1][0].numpy()).all() and np.isnan(stats[1][1].numpy()).all()


def test_native_batch_norm_eval_and_errors():
    x = RNG.standard_normal((4, 3))
    rm, rv = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)
    ours = tg.native_batch_norm(tg.tensor(x), None, None, tg.tensor(rm), tg.tensor(rv), False,
                                0.1, 1e-5)
    theirs = torch.native_batch_norm(torch.tensor(x), None, None, torch.tensor(rm),
                                     torch.tensor(rv), False, 0.1, 1e-5)
    same(ours, theirs)                                   # the saved statistics: empty (0,)
    with pytest.raises(RuntimeError, match="running_mean"):   # PyTorch crashes here
        tg.native_batch_norm(tg.tensor(x), None, None, None, None, False, 0.1, 1e-5)
    raises_like(lambda lib: lib.native_batch_norm(lib.ones(3), None, None, None, None, True,
                                                  0.1, 1e-5), (RuntimeError, IndexError))


def test_native_group_norm():
    check_fn(lambda m, x, w, b: m.native_group_norm(x, w, b, 2, 4, 3, 2, 1e-5),
             [(2, 4, 3), (4,), (4,)], gradcheck_max_numel=32, rtol=1e-5, atol=1e-7)
    raises_like(lambda lib: lib.native_group_norm(lib.ones(2, 3, 4), None, None, 2, 3, 5, 3,
                                                  1e-5), RuntimeError)
    raises_like(lambda lib: lib.native_group_norm(lib.ones(2, 3, 4), None, None, 2, 3, 4, 2,
                                                  1e-5), RuntimeError)


def test_native_dropout():
    tg.manual_seed(0)
    x = tg.tensor(RNG.standard_normal((50, 40)), requires_grad=True)
    out, mask = tg.native_dropout(x, 0.25, True)
    assert mask.dtype == tg.bool and tuple(mask.shape) == (50, 40)
    keep = mask.numpy()
    assert 0.7 < keep.mean() < 0.8
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() * keep / 0.75)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), keep / 0.75)
    out, mask = tg.native_dropout(x, 0.25, None)                 # None: training, as PyTorch
    assert not mask.numpy().all()
    for lib in (tg, torch):                                      # eval, p = 0: a copy
        y = lib.ones(3, 4)
        for p, train in ((0.5, False), (0.0, True)):
            out, mask = lib.native_dropout(y, p, train)
            assert mask.dtype == lib.bool and bool(mask.all())
            assert not np.shares_memory(out.numpy(), y.numpy())
        out, mask = lib.native_dropout(y, 1.0, True)
        assert float(out.abs().sum()) == 0.0 and not bool(mask.any())
    raises_like(lambda lib: lib.native_dropout(lib.ones(3), 1.5, True), RuntimeError)
    raises_like(lambda lib: lib.native_dropout(lib.arange(3), 0.5, True), RuntimeError)


@pytest.mark.parametrize("p", [2, 3, 1, 0, 0.5, -1, float("inf"), float("-inf")])
def test_native_norm(p):
    x = RNG.uniform(0.5, 2, (2, 3)) * RNG.choice([-1, 1], (2, 3))
    ours = tg.native_norm(tg.tensor(x), p)
    theirs = torch.native_norm(torch.tensor(x).to_sparse(), p)   # PyTorch: sparse inputs only
    same(ours, theirs)
    if p in (2, 3):
        a = tg.tensor(x, requires_grad=True)
        assert tg.autograd.gradcheck(lambda t: tg.native_norm(t, p), (a,))


def test_native_norm_full_reductions_only():
    x = tg.tensor(RNG.standard_normal((2, 3)))
    same(tg.native_norm(x, None, [0, -1], False, None),
         torch.native_norm(torch.tensor(x.numpy()).to_sparse(), None, [0, -1], False, None))
    assert tuple(tg.native_norm(x, 2, [0, 1], True, None).shape) == (1, 1)   # PyTorch: refused
    assert tg.native_norm(x, 2, [], False, tg.float32).dtype == tg.float32
    raises_like(lambda lib: lib.native_norm(lib.ones(2, 3).to_sparse() if lib is torch else
                                            lib.ones(2, 3), 2, [1], False, None), RuntimeError)
    with pytest.raises(RuntimeError, match="floating"):
        tg.native_norm(tg.arange(3))


def test_native_channel_shuffle():
    x = RNG.standard_normal((2, 6, 2))
    same(tg.native_channel_shuffle(tg.tensor(x), 3), torch.native_channel_shuffle(
        torch.tensor(x), 3))
    a = tg.tensor(x[:1, :, :1], requires_grad=True)   # PyTorch 2.13 has no backward for it
    assert tg.autograd.gradcheck(lambda t: tg.native_channel_shuffle(t, 2), (a,))
    raises_like(lambda lib: lib.native_channel_shuffle(lib.ones(2, 6, 2), 4), RuntimeError)
    raises_like(lambda lib: lib.native_channel_shuffle(lib.ones(6, 2), 3), RuntimeError)


# ---- functional RNN cells ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell"])
def test_rnn_cells(name):
    gates = 3 if name == "gru_cell" else 1
    check_fn(lambda m, x, h, wi, wh, bi, bh: getattr(m, name)(x, h, wi, wh, bi, bh),
             [(2, 3), (2, 4), (4 * gates, 3), (4 * gates, 4), (4 * gates,), (4 * gates,)])
    check_fn(lambda m, x, h, wi, wh: getattr(m, name)(x, h, wi, wh), [(2, 3), (2, 4),
             (4 * gates, 3), (4 * gates, 4)], gradgrad=False)
    check_fn(lambda m, x, h, wi, wh, bi: getattr(m, name)(x, h, wi, wh, bi, None),
             [(2, 3), (2, 4), (4 * gates, 3), (4 * gates, 4), (4 * gates,)], gradgrad=False)


def test_lstm_cell():
    check_fn(lambda m, x, h, c, wi, wh, bi, bh: m.lstm_cell(x, (h, c), wi, wh, bi, bh),
             [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4), (16,), (16,)])
    check_fn(lambda m, x, h, c, wi, wh: m.lstm_cell(x, [h, c], wi, wh),
             [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4)], gradgrad=False)


def test_rnn_cell_errors():
    def args(lib, gates, input_size=3):
        return (lib.ones(2, input_size), lib.ones(2, 4), lib.ones(4 * gates, 3),
                lib.ones(4 * gates, 4))
    raises_like(lambda lib: lib.rnn_tanh_cell(*args(lib, 1, input_size=5)), RuntimeError)
    raises_like(lambda lib: lib.gru_cell(lib.ones(2, 3), lib.ones(2, 4), lib.ones(12, 3),
                                         lib.ones(8, 4)), RuntimeError)
    raises_like(lambda lib: lib.lstm_cell(*args(lib, 4)), TypeError)       # hx a Tensor
    raises_like(lambda lib: lib.lstm_cell(lib.ones(2, 3), (lib.ones(2, 4),), lib.ones(16, 3),
                                          lib.ones(16, 4)), RuntimeError)
    raises_like(lambda lib: lib.rnn_tanh_cell(lib.ones(2, 3), lib.ones(2, 4).double(),
                                              lib.ones(4, 3), lib.ones(4, 4)), RuntimeError)
    with pytest.raises(RuntimeError, match="hidden state"):               # PyTorch: IndexError
        tg.rnn_tanh_cell(tg.ones(3), tg.ones(4), tg.ones(4, 3), tg.ones(4, 4))


# ---- the *_copy variants and unsafe_* splits -----------------------------------------------------
COPIES = [
    ("view_copy", lambda m, x: m.view_copy(x, [4, -1]), (2, 3, 4)),
    ("view_copy of a transpose", lambda m, x: m.view_copy(x.transpose(0, 1), [6, 4]),
     (2, 3, 4)),
    ("permute_copy", lambda m, x: m.permute_copy(x, (2, 0, 1)), (2, 3, 4)),
    ("transpose_copy", lambda m, x: m.transpose_copy(x, 0, 2), (2, 3, 4)),
    ("t_copy", lambda m, x: m.t_copy(x), (3, 4)),
    ("squeeze_copy", lambda m, x: m.squeeze_copy(x), (1, 3, 1)),
    ("squeeze_copy dim", lambda m, x: m.squeeze_copy(x, 0), (1, 3, 1)),
    ("squeeze_copy nothing to squeeze", lambda m, x: m.squeeze_copy(x), (2, 3)),
    ("unsqueeze_copy", lambda m, x: m.unsqueeze_copy(x, 1), (2, 3)),
    ("expand_copy", lambda m, x: m.expand_copy(x, [4, -1, 3]), (1, 2, 3)),
    ("select_copy", lambda m, x: m.select_copy(x, 1, -1), (2, 3, 4)),
    ("slice_copy", lambda m, x: m.slice_copy(x, 2, 1, None, 2), (2, 3, 4)),
    ("slice_copy clamped", lambda m, x: m.slice_copy(x, 1, -5, 100), (2, 3, 4)),
    ("split_copy", lambda m, x: m.split_copy(x, 2, 2), (2, 3, 5)),
    ("split_with_sizes_copy", lambda m, x: m.split_with_sizes_copy(x, [1, 3], 2), (2, 3, 4)),
    ("unbind_copy", lambda m, x: m.unbind_copy(x, 1), (2, 3, 4)),
    ("unfold_copy", lambda m, x: m.unfold_copy(x, 2, 2, 1), (2, 3, 4)),
    ("diagonal_copy", lambda m, x: m.diagonal_copy(x, 1, 1, 2), (2, 3, 4)),
    ("alias_copy", lambda m, x: m.alias_copy(x), (2, 3)),
]


@pytest.mark.parametrize("name, fn, shape", COPIES, ids=[c[0] for c in COPIES])
def test_copies_match_torch_and_own_their_memory(name, fn, shape):
    inputs, outputs = check_fn(fn, [shape], gradcheck_max_numel=12)
    ours = fn(tg, inputs[0])
    fresh(ours, inputs[0].detach())


def test_detach_copy_leaves_the_graph():
    x, xt = both(RNG.standard_normal((2, 3)), requires_grad=True)
    out = tg.detach_copy(x)
    same(out, torch.detach_copy(xt))
    assert not out.requires_grad and out.grad_fn is None   # PyTorch: requires_grad, no backward
    fresh(out, x.detach())


@pytest.mark.parametrize("dtype", ["int32", "float64", "float16", "int64", "bool"])
def test_view_copy_dtype(dtype):
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    if dtype == "bool":
        x = (x > 0).astype(np.float32)
    ours = tg.view_copy(tg.tensor(x), getattr(tg, dtype))
    theirs = torch.view_copy(torch.tensor(x), getattr(torch, dtype))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == getattr(tg, dtype)
    assert ours.numpy().tobytes() == theirs.numpy().tobytes()   # the same bytes (NaNs too)


def test_view_copy_errors():
    raises_like(lambda lib: lib.view_copy(lib.ones(2, 3), lib.float64), RuntimeError)
    raises_like(lambda lib: lib.view_copy(lib.tensor(1.0), lib.float16), RuntimeError)
    raises_like(lambda lib: lib.view_copy(lib.ones(2, 4).t(), lib.float16), RuntimeError)
    raises_like(lambda lib: lib.view_copy(lib.ones(2, 3, 4), [5, 5]), RuntimeError)
    same(tg.view_copy(tg.ones(2, 4).t(), tg.int32), torch.view_copy(torch.ones(2, 4).t(),
                                                                    torch.int32))
    for lib in (tg, torch):                      # no gradient, even to the input's own dtype
        assert not lib.view_copy(lib.ones(2, requires_grad=True), lib.float32).requires_grad


COPY_ERRORS = [
    (lambda lib, x: lib.t_copy(x), RuntimeError),
    (lambda lib, x: lib.select_copy(x, 1, 5), IndexError),
    (lambda lib, x: lib.slice_copy(x, 1, 0, 3, 0), RuntimeError),
    (lambda lib, x: lib.slice_copy(x[0, 0, 0]), IndexError),
    (lambda lib, x: lib.squeeze_copy(x, 5), IndexError),
    (lambda lib, x: lib.unsqueeze_copy(x, 5), IndexError),
    (lambda lib, x: lib.expand_copy(x, [3, 3, 4]), RuntimeError),
    (lambda lib, x: lib.permute_copy(x, (0, 1)), RuntimeError),
    (lambda lib, x: lib.diagonal_copy(x[0, 0]), IndexError),
    (lambda lib, x: lib.unbind_copy(x, 3), IndexError),
    (lambda lib, x: lib.unfold_copy(x, 2, 5, 1), RuntimeError),
    (lambda lib, x: lib.split_copy(x, [1, 2], 1), TypeError),
    (lambda lib, x: lib.split_copy(x, 0, 1), RuntimeError),
    (lambda lib, x: lib.split_with_sizes_copy(x, [1, 1], 1), RuntimeError),
]


@pytest.mark.parametrize("call, exception", COPY_ERRORS)
def test_copy_errors(call, exception):
    raises_like(lambda lib: call(lib, lib.ones(2, 3, 4)), exception)


def test_unsafe_splits():
    check_fn(lambda m, x: m.unsafe_chunk(x, 3, 1), [(2, 7)])
    check_fn(lambda m, x: m.unsafe_split(x, 3, 1), [(2, 7)])
    check_fn(lambda m, x: m.unsafe_split_with_sizes(x, [2, 5], 1), [(2, 7)])
    check_fn(lambda m, x: x.unsafe_split_with_sizes([1, 1], 0), [(2, 3)])
    raises_like(lambda lib: lib.unsafe_split(lib.ones(7), [3, 4]), TypeError)
    raises_like(lambda lib: lib.unsafe_split(lib.ones(7), 0), RuntimeError)
    raises_like(lambda lib: lib.unsafe_split_with_sizes(lib.ones(6), [2, 3]), RuntimeError)
    raises_like(lambda lib: lib.unsafe_chunk(lib.ones(6), 0), RuntimeError)


def test_adjoint():
    check_fn(lambda m, x: m.adjoint(x), [(2, 3, 4)])
    check_fn(lambda m, x: x.adjoint(), [(3, 2)])
    raises_like(lambda lib: lib.adjoint(lib.ones(3)), RuntimeError)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # PyTorch warns on 0-d: deprecated
        same(tg.adjoint(tg.tensor(2.0)), torch.adjoint(torch.tensor(2.0)))


# ---- ATen forms: convolution, conv_tbc, ctc_loss, embedding_bag, norm_except_dim -----------------
CONVOLUTIONS = [
    ("conv1d", (2, 4, 5), (6, 2, 3), [2], [1], [1], False, [0], 2),
    ("conv2d", (1, 2, 4, 4), (3, 2, 2, 2), [1, 2], [1, 0], [1, 1], False, [0, 0], 1),
    ("conv2d one entry for both dims", (1, 2, 5, 5), (4, 1, 3, 3), [1], [1], [2], False, [0],
     2),
    ("conv3d", (1, 2, 3, 3, 3), (2, 2, 2, 2, 2), [1], [0], [1], False, [0], 1),
    ("conv_transpose1d", (1, 4, 3), (4, 2, 3), [2], [1], [1], True, [1], 2),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 3, 2, 2), [2, 1], [0, 1], [1, 1], True, [1, 0], 1),
    ("conv_transpose3d", (1, 2, 2, 2, 2), (2, 1, 2, 2, 2), [1], [0], [1], True, [0], 1),
]


@pytest.mark.parametrize("case", CONVOLUTIONS, ids=[c[0] for c in CONVOLUTIONS])
def test_convolution(case):
    _, x_shape, w_shape, stride, padding, dilation, transposed, output_padding, groups = case
    out_channels = w_shape[1] * groups if transposed else w_shape[0]
    check_fn(lambda m, x, w, b: m.convolution(x, w, b, stride, padding, dilation, transposed,
                                              output_padding, groups),
             [x_shape, w_shape, (out_channels,)], gradcheck=False, gradgrad=False)


def test_convolution_without_bias_and_errors():
    check_fn(lambda m, x, w: m.convolution(x, w, None, [1], [0], [1], False, [0], 1),
             [(1, 2, 5), (3, 2, 2)], gradgrad=False)
    x, w = (2, 5, 5), (3, 2, 3, 3)
    raises_like(lambda lib: lib.convolution(lib.ones(1, *x), lib.ones(w), None, 1, [0], [1],
                                            False, [0], 1), TypeError)        # stride an int
    raises_like(lambda lib: lib.convolution(lib.ones(x), lib.ones(w), None, [1], [0], [1],
                                            False, [0], 1), RuntimeError)     # unbatched input
    raises_like(lambda lib: lib.convolution(lib.ones(1, *x), lib.ones(w), None, [1, 1, 1],
                                            [0], [1], False, [0], 1), RuntimeError)


def test_conv_tbc():
    check_fn(lambda m, x, w, b: m.conv_tbc(x, w, b, 1), [(5, 2, 3), (3, 3, 4), (4,)],
             gradcheck=False, gradgrad=False)
    check_fn(lambda m, x, w, b: m.conv_tbc(x, w, b), [(3, 1, 2), (2, 2, 2), (2,)])
    for make in (lambda lib: lib.conv_tbc(lib.ones(7, 2, 3), lib.ones(3, 2, 4), lib.ones(4)),
                 lambda lib: lib.conv_tbc(lib.ones(7, 2, 3), lib.ones(3, 3, 4), lib.ones(3)),
                 lambda lib: lib.conv_tbc(lib.ones(2, 3), lib.ones(3, 3, 4), lib.ones(4)),
                 lambda lib: lib.conv_tbc(lib.ones(2, 1, 3), lib.ones(4, 3, 4), lib.ones(4))):
        raises_like(make, RuntimeError)
    raises_like(lambda lib: lib.conv_tbc(lib.ones(7, 2, 3), lib.ones(3, 3, 4), None), TypeError)


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_ctc_loss(reduction):
    targets = RNG.integers(1, 5, (2, 3))

    def fn(m, x):                  # through log_softmax: PyTorch's gradient is exact there
        return m.ctc_loss(x.log_softmax(2), m.tensor(targets), [6, 5], [3, 2], 0, reduction)
    check_fn(fn, [(6, 2, 5)], gradcheck=False, gradgrad=False, rtol=1e-6, atol=1e-8)
    lengths = (torch.tensor([6, 5]), torch.tensor([3, 2]))
    x = RNG.standard_normal((6, 2, 5))
    same(tg.ctc_loss(tg.tensor(x).log_softmax(2), tg.tensor(targets),
                     *(tg.tensor(v.numpy()) for v in lengths)),
         torch.ctc_loss(torch.tensor(x).log_softmax(2), torch.tensor(targets), *lengths))
    raises_like(lambda lib: lib.ctc_loss(lib.tensor(x).log_softmax(2), lib.tensor(targets),
                                         [6, 5], [3, 2], 0, "mean"), TypeError)


BAGS = [  # mode, offsets, include_last_offset, padding_idx
    (0, [0, 4], False, None), (1, [0, 4], False, None), (2, [0, 4], False, None),
    (1, [0, 4, 4], False, None), (2, [0, 4, 4], False, None), (0, [0, 4, 8], True, None),
    (1, [0, 3, 4, 4], True, None), (2, [0, 4, 4, 8], True, None), (1, [0, 4], False, 4),
    (2, [0, 4], False, -1), (0, [0, 4], False, 4),
]


@pytest.mark.parametrize("mode, offsets, last, padding", BAGS)
def test_embedding_bag(mode, offsets, last, padding):
    weight = RNG.standard_normal((10, 3))
    indices = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    w, wt = both(weight, requires_grad=True)
    args = (last, padding)
    ours = tg.embedding_bag(w, tg.tensor(indices), tg.tensor(offsets), False, mode, False,
                            None, *args)
    theirs = torch.embedding_bag(wt, torch.tensor(indices), torch.tensor(offsets), False, mode,
                                 False, None, *args)
    same(ours, theirs)
    assert [t.requires_grad for t in ours] == [t.requires_grad for t in theirs]
    grad = RNG.standard_normal(tuple(theirs[0].shape))
    ours[0].backward(tg.tensor(grad))
    theirs[0].backward(torch.tensor(grad))
    same(w.grad, wt.grad)


def test_embedding_bag_weights_dtypes_and_errors():
    weight, indices = RNG.standard_normal((10, 3)), np.array([1, 2, 4, 5, 4, 3, 2, 9])
    psw = RNG.standard_normal(8)
    same(tg.embedding_bag(tg.tensor(weight), tg.tensor(indices), tg.tensor([0, 4]), False, 0,
                          False, tg.tensor(psw)),
         torch.embedding_bag(torch.tensor(weight), torch.tensor(indices), torch.tensor([0, 4]),
                             False, 0, False, torch.tensor(psw)))
    same(tg.embedding_bag(tg.tensor(weight), tg.tensor(indices, dtype=tg.int32),
                          tg.tensor([0, 4], dtype=tg.int32), False, 2),
         torch.embedding_bag(torch.tensor(weight), torch.tensor(indices, dtype=torch.int32),
                             torch.tensor([0, 4], dtype=torch.int32), False, 2))

    def call(lib, mode=1, psw=None, offsets=(0, 4), padding=None):
        return lib.embedding_bag(lib.ones(10, 3), lib.tensor([1, 2, 4, 5]), lib.tensor(offsets),
                                 False, mode, False, psw, False, padding)
    raises_like(lambda lib: call(lib, mode=3), RuntimeError)
    raises_like(lambda lib: call(lib, psw=lib.ones(4)), RuntimeError)
    raises_like(lambda lib: call(lib, padding=12), RuntimeError)
    raises_like(lambda lib: call(lib, offsets=(1, 2)), RuntimeError)
    raises_like(lambda lib: lib.embedding_bag(lib.ones(10, 3), lib.tensor([1]), None), TypeError)


@pytest.mark.parametrize("pow, dim", [(2, 0), (2, 1), (2, 2), (2, -1), (2, -2), (3, 1), (1, 0)])
def test_norm_except_dim(pow, dim):
    check_fn(lambda m, v: m.norm_except_dim(v, pow, dim), [(2, 3, 4)], gradcheck_max_numel=24,
             gradgrad=pow == 2)


def test_norm_except_dim_edges():
    check_fn(lambda m, v: m.norm_except_dim(v, 2, 0), [(4,)], low=0.5, high=2.0)
    raises_like(lambda lib: lib.norm_except_dim(lib.tensor(2.0), 2, 0), IndexError)
    raises_like(lambda lib: lib.norm_except_dim(lib.ones(2, 3), 2, 3), IndexError)
    raises_like(lambda lib: lib.norm_except_dim(lib.arange(3), 2, 0), RuntimeError)


# ---- function forms of Tensor methods, empty_permuted --------------------------------------------
@pytest.mark.parametrize("size, fill", [(4, -1), (1, -1), (3, 7), (0, -1)])
def test_nonzero_static(size, fill):
    x = np.array([[0, 1.5], [2, 0]])
    same(tg.nonzero_static(tg.tensor(x), size=size, fill_value=fill),
         torch.nonzero_static(torch.tensor(x), size=size, fill_value=fill))
    same(tg.tensor(x).nonzero_static(size=size), torch.tensor(x).nonzero_static(size=size))
    for value in (np.array(3.0), np.array(0.0), np.array([True, False, True])):
        same(tg.nonzero_static(tg.tensor(value), size=2),
             torch.nonzero_static(torch.tensor(value), size=2))


def test_nonzero_static_errors():
    raises_like(lambda lib: lib.nonzero_static(lib.ones(3), size=-1), RuntimeError)
    raises_like(lambda lib: lib.nonzero_static(lib.ones(3), 4), TypeError)


@pytest.mark.parametrize("size, layout", [((2, 3, 4), (0, 2, 1)), ((2, 3, 4, 5), (0, 2, 3, 1)),
                                          ((2, 3), (1, 0)), ((), ())])
def test_empty_permuted(size, layout):
    for kwargs in ({}, {"dtype": "float64", "requires_grad": True}, {"dtype": "int64"}):
        ours = tg.empty_permuted(size, layout, **{k: getattr(tg, v) if k == "dtype" else v
                                                  for k, v in kwargs.items()})
        theirs = torch.empty_permuted(size, layout, **{k: getattr(torch, v) if k == "dtype"
                                                       else v for k, v in kwargs.items()})
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.stride() == theirs.stride()
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert ours.requires_grad == theirs.requires_grad and ours.is_leaf


def test_empty_permuted_errors():
    raises_like(lambda lib: lib.empty_permuted((2, 3, 4), (0, 1)), RuntimeError)
    raises_like(lambda lib: lib.empty_permuted((2, 3, 4), (0, 1, 1)), RuntimeError)


def test_get_device_and_is_storage():
    for lib in (tg, torch):
        x = lib.ones(2)
        assert lib.get_device(x) == -1 == x.get_device()
        assert lib.is_storage(x) is False and lib.is_storage(3) is False
        assert lib.is_storage(x.untyped_storage()) is True
    raises_like(lambda lib: lib.get_device(3), TypeError)


def test_index_put_():
    index = (np.array([0, 0, 2]), np.array([1, 1, 0]))
    values = np.array([5.0, 6.0, 7.0])
    for accumulate in (False, True):
        x, xt = both(np.zeros((3, 3)))
        out = tg.index_put_(x, tuple(tg.tensor(i) for i in index), tg.tensor(values),
                            accumulate)
        torch.index_put_(xt, tuple(torch.tensor(i) for i in index), torch.tensor(values),
                         accumulate)
        assert out is x
        same(x, xt)
    x, xt = both(np.zeros((3, 3)))
    tg.index_put_(x, [tg.tensor([True, False, True])], tg.tensor(2.0, dtype=tg.float64))
    torch.index_put_(xt, [torch.tensor([True, False, True])], torch.tensor(2.0).double())
    same(x, xt)


def test_index_put_errors():
    def call(lib, indices, values=None, leaf=False):
        x = lib.zeros(3, 3, requires_grad=leaf)
        return lib.index_put_(x, indices(lib), lib.tensor(1.0) if values is None else values)
    raises_like(lambda lib: call(lib, lambda m: (None, m.tensor([0]))), TypeError)
    raises_like(lambda lib: call(lib, lambda m: m.tensor([0])), TypeError)
    raises_like(lambda lib: call(lib, lambda m: (m.tensor([0.0]),)), IndexError)
    raises_like(lambda lib: call(lib, lambda m: (m.tensor([0]),), lib.tensor(1.0).double()),
                RuntimeError)
    raises_like(lambda lib: call(lib, lambda m: (m.tensor([0]),), lib.ones(2)), RuntimeError)
    raises_like(lambda lib: call(lib, lambda m: (m.tensor([0]),), leaf=True), RuntimeError)
